"""SQS queues and their resource policies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.services.sqs.metrics import sample_each_minute

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Template properties that are queue attributes of the same name.
_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


@provisions("AWS::SQS::Queue")
def queue(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = props.get("QueueName") or cloud.physical_name(logical_id, 75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: _text(props[key]) for key in _ATTRIBUTES if key in props}
    if fifo:
        attributes["FifoQueue"] = "true"
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in props:
            attributes[key] = json.dumps(props[key])
    url = cloud.admin_client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:{cloud.partition}:sqs:{cloud.region}:{cloud.account}:{name}"
    cloud.service("sqs").urls[arn] = url
    sample_each_minute(cloud)
    return Provisioned(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


@provisions("AWS::SQS::QueuePolicy")
def queue_policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    for url in props["Queues"]:
        cloud.admin_client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
        cloud.iam.add_resource_policy(
            cloud.service("sqs").queue_arn(url), props["PolicyDocument"], logical_id
        )
    return Provisioned(cloud.physical_name(logical_id, 128))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
