"""Kinesis data streams, created in moto; Lambda's pollers read them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service, Target, checks_only
from localcloud.core.targets import data
from localcloud.services.kinesis import provision
from localcloud.services.kinesis.limits import check_kinesis_request
from localcloud.services.kinesis.throughput import Throughput, answer_put_records, check_put_record

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _put(kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "put_record", {"StreamARN": arn, "Data": data(body), **options}


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    if params.get("StreamARN"):
        return params["StreamARN"]
    name = params.get("StreamName")
    return resource_arn(partition, "kinesis", region, account, f"stream/{name}") if name else None


@checks_only("PutRecord", "PutRecords", reading=("GetRecords",))
def _check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    check_kinesis_request(operation, params)
    if operation == "PutRecord":
        check_put_record(kernel, params)


SERVICE = Service.of(
    "kinesis",
    provision,
    state=Throughput,
    target=Target("kinesis", _put),
    checks={"kinesis": _check},
    answers={"kinesis.PutRecords": answer_put_records},
    iam_resources={"kinesis": _iam_resource},
)
