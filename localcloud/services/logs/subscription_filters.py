"""CloudWatch Logs subscription filters, kept and delivered by the local cloud
(see :mod:`localcloud.services.logs.observe`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.core.targets import DeliveryError, check_resource_policy, service_of
from localcloud.errors import LocalCloudError
from localcloud.lib.log_patterns import compile_pattern
from localcloud.services.logs.observe import SubscriptionFilter, subscriptions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

DESTINATIONS = ("lambda", "kinesis", "firehose")
#: Subscription filters one log group may have.
MAX_PER_GROUP = 2


@provisions("AWS::Logs::SubscriptionFilter")
def subscription_filter(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    group, destination = props["LogGroupName"], props["DestinationArn"]
    name = props.get("FilterName") or cloud.physical_name(logical_id, 512)
    if service_of(destination) not in DESTINATIONS:
        raise LocalCloudError(
            f"{logical_id}: destination {destination} is not supported offline; "
            f"supported: {', '.join(DESTINATIONS)}"
        )
    registry = subscriptions(cloud)
    if sum(1 for f in registry.filters if f.log_group == group) >= MAX_PER_GROUP:
        raise LocalCloudError(
            f"{logical_id}: log group {group} already has {MAX_PER_GROUP} subscription filters"
        )
    if service_of(destination) == "lambda":
        # As AWS does on PutSubscriptionFilter: CloudWatch Logs must be allowed to invoke the function.
        try:
            check_resource_policy(cloud, registry.sender(group), destination)
        except (DeliveryError, LocalCloudError) as error:
            raise LocalCloudError(f"{logical_id}: could not execute the Lambda function: {error}") from None
    registry.filters.append(
        SubscriptionFilter(
            name=name,
            log_group=group,
            matcher=compile_pattern(props.get("FilterPattern", "")),
            destination=destination,
            role_arn=props.get("RoleArn"),
        )
    )
    return Provisioned(name)
