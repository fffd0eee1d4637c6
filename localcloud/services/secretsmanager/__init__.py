"""Secrets Manager secrets, created in moto."""

from typing import Any

from localcloud.core.iam import arn_or_named
from localcloud.core.service import Service
from localcloud.services.secretsmanager import provision


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    secret = params.get("SecretId")
    return None if secret is None else arn_or_named(secret, where, "secretsmanager", f"secret:{secret}*")


SERVICE = Service.of("secretsmanager", provision, iam_resources={"secretsmanager": _iam_resource})
