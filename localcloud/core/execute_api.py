"""``AWS_IAM`` authorization of a request to an API (REST methods, HTTP API routes), as API Gateway
does it: the request's SigV4 signature, then the caller's policies for ``execute-api:Invoke``.

The caller's keys are those the local cloud knows: temporary keys STS handed out for a role
(``AssumeRole``, from a test's ``cloud.client("sts")``, a function, or the AWS endpoint under
``serve``). The signature must be made with the key's secret, carry its session token, be scoped to
the cloud's region and ``execute-api``, and be dated within 5 minutes of the virtual clock. Then
the one IAM evaluator decides, for the role, ``execute-api:Invoke`` on the method ARN
(``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}``), with the API's
resource policy if it has one: an explicit deny in either refuses, else an allow in either lets in
(caller and API are in the same account).

Keys of an IAM user (``CreateAccessKey``) are not modelled: their requests are refused as unknown
keys, as the local cloud keeps no identity policies for users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.core.iam import RESOURCE_DENY
from localcloud.lib import sigv4

if TYPE_CHECKING:
    from localcloud.core.iam import Statement
    from localcloud.core.kernel import Kernel
    from localcloud.lib.http import HttpRequest

ACTION = "execute-api:Invoke"
SERVICE = "execute-api"
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - AWS message
EXPIRED_TOKEN = "The security token included in the request is expired"  # noqa: S105 - AWS message


@dataclass(frozen=True)
class Caller:
    """Who signed a request: the role, its session, and its keys."""

    access_key: str
    role_arn: str
    session: str
    arn: str
    """``arn:aws:sts::{account}:assumed-role/{role}/{session}``"""
    user_id: str
    """``{role id}:{session}``, as ``requestContext.identity.user`` shows it."""
    account: str


class Refused(Exception):
    """API Gateway refuses the request. ``response_type`` is the gateway response it answers with
    (``MISSING_AUTHENTICATION_TOKEN``, ``INVALID_SIGNATURE``, ``EXPIRED_TOKEN``,
    ``UNRECOGNIZED_CLIENT``, ``ACCESS_DENIED``), ``message`` AWS's words for the body under
    ``body_key``, ``cause`` the log line that says why."""

    def __init__(self, response_type: str, message: str, cause: str, body_key: str = "message") -> None:
        super().__init__(cause)
        self.response_type = response_type
        self.message = message
        self.cause = cause
        self.body_key = body_key


def authorize(
    kernel: Kernel,
    request: HttpRequest,
    method_arn: str,
    *,
    host: str,
    resource_policy: list[Statement] | None = None,
    context: dict[str, str] | None = None,
) -> Caller:
    """The caller of an ``AWS_IAM`` method or route, if its signature and policies let it invoke
    ``method_arn``; else :class:`Refused`. ``host`` is the API's domain, signed as ``Host`` when the
    request carries none (an in-process call); ``context`` the request's condition keys
    (``aws:sourceip``...) for the resource policy."""
    signed = sigv4.SignedRequest(request.method, request.path, request.query, request.headers, request.body)
    try:
        signature = sigv4.parse(signed)
    except sigv4.SignatureError as error:
        raise Refused(
            "INCOMPLETE_SIGNATURE", error.message, f"malformed signature: {error.message}"
        ) from None
    if signature is None:
        raise Refused(
            "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", "the request is not signed"
        )
    keys = _keys(kernel, signature.access_key)
    if keys is None:
        raise Refused(
            "UNRECOGNIZED_CLIENT", INVALID_TOKEN, f"access key {signature.access_key} is not one STS issued"
        )
    secret, token, caller, expiration = keys
    if signature.token != token:
        raise Refused(
            "UNRECOGNIZED_CLIENT",
            INVALID_TOKEN,
            f"the session token of {signature.access_key} is {'missing' if signature.token is None else 'not the one issued with it'}",
        )
    now = kernel.clock.now()
    try:
        sigv4.verify(signed, signature, secret, now=now, region=kernel.region, service=SERVICE, host=host)
    except sigv4.SignatureError as error:
        kind = "INVALID_SIGNATURE" if error.kind != "incomplete" else "INCOMPLETE_SIGNATURE"
        raise Refused(
            kind, error.message, f"signature of {caller.arn}: {error.message.splitlines()[0]}"
        ) from None
    if expiration is not None and expiration <= now.replace(tzinfo=None):
        raise Refused("EXPIRED_TOKEN", EXPIRED_TOKEN, f"the session of {caller.arn} expired at {expiration}")
    _check_policies(kernel, caller, method_arn, resource_policy, context or {})
    return caller


def _check_policies(
    kernel: Kernel,
    caller: Caller,
    method_arn: str,
    resource_policy: list[Statement] | None,
    context: dict[str, str],
) -> None:
    decision = kernel.iam.decide(
        caller.role_arn,
        ACTION,
        method_arn,
        session=caller.arn,
        resource_policy=resource_policy or [],
        context=context,
    )
    if decision.allowed or not kernel.enforce_iam:
        return
    explicit = decision.reason.startswith("with an explicit deny")
    reason = (
        RESOURCE_DENY
        if decision.reason == RESOURCE_DENY
        else "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {ACTION} action"
    )
    raise Refused(
        "ACCESS_DENIED",
        f"User: {caller.arn} is not authorized to perform: {ACTION} on resource: {masked(method_arn)} {reason}",
        f"{caller.arn} may not invoke {method_arn}: {decision.reason}",
        body_key="Message",
    )


def _keys(kernel: Kernel, access_key: str) -> tuple[str, str, Caller, Any] | None:
    """(secret, session token, caller, expiration) of temporary keys STS issued in this cloud."""
    from moto.sts.models import sts_backends

    backend = sts_backends[kernel.account][kernel.partition]
    found = backend.get_assumed_role_from_access_key(access_key)
    if found is None:
        return None
    user_id = found.user_id
    caller = Caller(access_key, found.role_arn, found.session_name, found.arn, user_id, kernel.account)
    return found.secret_access_key, found.session_token, caller, found.expiration


def masked(arn: str) -> str:
    """An ARN with its account hidden but the last four digits, as API Gateway's denials print it."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and len(parts[4]) > 4:
        parts[4] = "*" * (len(parts[4]) - 4) + parts[4][-4:]
    return ":".join(parts)
