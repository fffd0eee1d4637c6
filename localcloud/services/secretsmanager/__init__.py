"""Secrets Manager secrets, created in moto."""

from typing import Any

from localcloud.core.iam import arn_or_named
from localcloud.core.service import Service
from localcloud.services.secretsmanager import provision


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    """The secret's full ARN (with the six characters Secrets Manager appends to its name), however
    the call names it (name, partial ARN or ARN): IAM decides on that ARN, so a policy naming it, or
    ``secret:name-??????``, allows a call by name. A secret that does not exist is ``secret:name*``."""
    secret = params.get("SecretId")
    if secret is None:
        return None
    from moto.secretsmanager.models import secretsmanager_backends

    _, region, account = where
    found = secretsmanager_backends[account][region].secrets.get(secret)
    if found is not None:
        return found.arn
    return arn_or_named(secret, where, "secretsmanager", f"secret:{secret}*")


SERVICE = Service.of("secretsmanager", provision, iam_resources={"secretsmanager": _iam_resource})
