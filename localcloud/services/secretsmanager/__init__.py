"""Secrets Manager secrets, created in moto."""

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service
from localcloud.services.secretsmanager import provision


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    partition, region, account = where
    secret = params.get("SecretId")
    if secret is None:
        return None
    return (
        secret
        if secret.startswith("arn:")
        else resource_arn(partition, "secretsmanager", region, account, f"secret:{secret}*")
    )


SERVICE = Service.of("secretsmanager", provision, iam_resources={"secretsmanager": _iam_resource})
