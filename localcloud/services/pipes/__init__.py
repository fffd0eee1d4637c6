"""EventBridge Pipes: a source polled by Lambda's event-source pollers, an optional enrichment and a
target, all as the pipe's role (see :mod:`localcloud.services.pipes.pipe`)."""

from __future__ import annotations

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service
from localcloud.services.pipes import provision


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    name = params.get("Name")
    return (
        resource_arn(partition, "pipes", region, account, f"pipe/{name}")
        if name
        else params.get("resourceArn")
    )


SERVICE = Service.of("pipes", provision, state=provision.Pipes, iam_resources={"pipes": _iam_resource})
