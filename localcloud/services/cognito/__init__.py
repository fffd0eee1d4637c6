"""Cognito: user pools, their clients, domains and groups, and identity pools, in moto; sign-up and
sign-in as strict as Cognito's (:mod:`localcloud.services.cognito.auth`).

``cloud.service("cognito-idp")`` is the :class:`UserPools` state: ``confirmation_code(username)``
reads the code a sign-up sent. Served, a stack with a user pool gets a door standing for Cognito's
public endpoint, for pages that sign in from the browser (:mod:`localcloud.services.cognito.door`).
"""

from __future__ import annotations

from typing import Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service
from localcloud.services.cognito import auth, door, provision
from localcloud.services.cognito.auth import UserPools

__all__ = ["SERVICE", "UserPools"]


def _user_pool(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    pool = params.get("UserPoolId")
    return None if pool is None else resource_arn(*where[:1], "cognito-idp", *where[1:], f"userpool/{pool}")


def _identity_pool(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    pool = params.get("IdentityPoolId")
    return (
        None
        if pool is None
        else resource_arn(*where[:1], "cognito-identity", *where[1:], f"identitypool/{pool}")
    )


SERVICE = Service.of(
    "cognito-idp",
    provision,
    auth,
    state=UserPools,
    checks={"cognito-idp": auth.check},
    answers={
        "cognito-idp.InitiateAuth": auth.answer_initiate_auth,
        "cognito-idp.RespondToAuthChallenge": auth.answer_respond,
        "cognito-idp.SignUp": auth.answer_sign_up,
        "cognito-idp.ResendConfirmationCode": auth.answer_resend_code,
    },
    iam_resources={"cognito-idp": _user_pool, "cognito-identity": _identity_pool},
    front_doors=door.front_doors,
)
