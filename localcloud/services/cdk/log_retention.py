"""``Custom::LogRetention`` (a function's ``log_retention``, ``logs.LogRetention``), as CDK's handler
does it: create the log group if it is missing, put its retention (none given: delete the
retention policy, so it never expires), and give the handler's own log group a day's retention; on
Delete with ``RemovalPolicy: destroy``, delete the log group. The calls run as the handler's role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import LocalCloudError
from localcloud.services.cdk.handlers import Handler, built_ins

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

TYPE = "Custom::LogRetention"
#: The values PutRetentionPolicy takes (CloudWatch Logs' API reference); moto takes any number.
RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)


@provisions(TYPE)
def log_retention(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    handler = Handler.of(cloud, logical_id, TYPE, props)
    group = props.get("LogGroupName")
    days = int(props["RetentionInDays"]) if props.get("RetentionInDays") not in (None, "") else None
    with handler.request("Create", f"{group}: {days or 'never'} days"):
        if not group:
            raise LocalCloudError("missing resource property LogGroupName")
        region = props.get("LogGroupRegion")
        if region not in (None, cloud.region):
            raise LocalCloudError(f"LogGroupRegion {region}: the local cloud runs one region, {cloud.region}")
        logs = cloud.admin_client("logs")
        _create(logs, group)
        _retain(logs, group, days)
        own = f"/aws/lambda/{handler.name}"
        _create(logs, own)
        _retain(logs, own, 1)
    if props.get("RemovalPolicy") == "destroy":
        built_ins(cloud).on_delete(logical_id, lambda: _delete(cloud, handler, group))
    return Provisioned(group, {"LogGroupName": group})


def _create(logs: Any, group: str) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise


def _retain(logs: Any, group: str, days: int | None) -> None:
    if days is None:
        logs.delete_retention_policy(logGroupName=group)
        return
    if days not in RETENTION_DAYS:
        raise LocalCloudError(
            f"PutRetentionPolicy: InvalidParameterException: {days} is not a retention CloudWatch Logs "
            f"takes ({', '.join(map(str, sorted(RETENTION_DAYS)))})"
        )
    logs.put_retention_policy(logGroupName=group, retentionInDays=days)


def _delete(cloud: Kernel, handler: Handler, group: str) -> None:
    with handler.request("Delete", group):
        try:
            cloud.admin_client("logs").delete_log_group(logGroupName=group)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
