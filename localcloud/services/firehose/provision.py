"""Kinesis Data Firehose delivery streams: created in moto, buffered and delivered to S3 by the local
cloud (see :mod:`localcloud.services.firehose.observe`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Template properties passed to CreateDeliveryStream as they are (the API spells them alike).
_PASSED_THROUGH = (
    "DeliveryStreamType",
    "KinesisStreamSourceConfiguration",
    "DeliveryStreamEncryptionConfigurationInput",
)


@provisions("AWS::KinesisFirehose::DeliveryStream")
def delivery_stream(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("DeliveryStreamName") or cloud.physical_name(logical_id, 64)
    request = {
        "DeliveryStreamName": name,
        **{
            key: value
            for key, value in props.items()
            if key in _PASSED_THROUGH or key.endswith("DestinationConfiguration")
        },
    }
    arn = cloud.admin_client("firehose").create_delivery_stream(**request)["DeliveryStreamARN"]
    return Provisioned(name, {"Arn": arn})
