"""Kinesis data streams and their enhanced fan-out consumers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Kinesis keeps records 24 hours unless the stream says otherwise.
DEFAULT_RETENTION_HOURS = 24


@provisions("AWS::Kinesis::Stream")
def stream(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("Name") or cloud.physical_name(logical_id, 128)
    mode = props.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    kinesis = cloud.admin_client("kinesis")
    request: dict[str, Any] = {"StreamName": name, "StreamModeDetails": {"StreamMode": mode}}
    if mode == "PROVISIONED":
        request["ShardCount"] = int(props.get("ShardCount", 1))
    kinesis.create_stream(**request)
    retention = int(props.get("RetentionPeriodHours", DEFAULT_RETENTION_HOURS))
    if retention != DEFAULT_RETENTION_HOURS:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=retention)
    encryption = props.get("StreamEncryption")
    if encryption:
        kinesis.start_stream_encryption(
            StreamName=name, EncryptionType=encryption["EncryptionType"], KeyId=encryption["KeyId"]
        )
    tags = {tag["Key"]: tag["Value"] for tag in props.get("Tags", [])}
    if tags:
        kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
    arn = f"arn:{cloud.partition}:kinesis:{cloud.region}:{cloud.account}:stream/{name}"
    return Provisioned(name, {"Arn": arn})


@provisions("AWS::Kinesis::StreamConsumer")
def stream_consumer(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    consumer = cloud.admin_client("kinesis").register_stream_consumer(
        StreamARN=props["StreamARN"], ConsumerName=props["ConsumerName"]
    )["Consumer"]
    arn = consumer["ConsumerARN"]
    return Provisioned(
        arn,
        {
            "ConsumerARN": arn,
            "ConsumerName": consumer["ConsumerName"],
            "ConsumerStatus": consumer["ConsumerStatus"],
            "ConsumerCreationTimestamp": consumer["ConsumerCreationTimestamp"].isoformat(),
            "StreamARN": props["StreamARN"],
        },
    )
