"""SSM Parameter Store, which handlers read (Powertools' parameters): moto answers; the local cloud
names their calls' IAM resources."""

from __future__ import annotations

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    name = params.get("Name") or params.get("Path")
    if name is None:
        return None
    return resource_arn(partition, "ssm", region, account, f"parameter/{name.lstrip('/')}")


SERVICE = Service("ssm", iam_resources={"ssm": _iam_resource})
