"""Data Firehose: delivery streams buffered and delivered to S3 by the local cloud, on its clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service, Target
from localcloud.core.targets import data
from localcloud.services.firehose import observe, provision

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _put(kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = arn.rsplit("/", 1)[-1]
    return "put_record", {"DeliveryStreamName": name, "Record": {"Data": data(body)}, **options}


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    name = params.get("DeliveryStreamName")
    return resource_arn(partition, "firehose", region, account, f"deliverystream/{name}") if name else None


SERVICE = Service.of(
    "firehose",
    observe,
    provision,
    state=observe.Firehose,
    target=Target("firehose", _put),
    iam_resources={"firehose": _iam_resource},
)
