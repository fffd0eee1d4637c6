"""CloudWatch: metrics (the kernel's sink, copied into moto for SDK reads) and alarms, metric and
composite, evaluated on the virtual clock (:mod:`localcloud.services.cloudwatch.alarms`)."""

from __future__ import annotations

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service
from localcloud.services.cloudwatch import observe, provision
from localcloud.services.cloudwatch.alarms import CloudWatch


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    """The alarm a call names; ``*`` for metric calls, and for a call naming several alarms."""
    partition, region, account = where
    names = params.get("AlarmNames") or ([params["AlarmName"]] if params.get("AlarmName") else [])
    return (
        resource_arn(partition, "cloudwatch", region, account, f"alarm:{names[0]}")
        if len(names) == 1
        else None
    )


SERVICE = Service.of(
    "cloudwatch",
    provision,
    observe,
    state=CloudWatch,
    checks={"cloudwatch": observe.check},
    iam_resources={"cloudwatch": _iam_resource},
)
