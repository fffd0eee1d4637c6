"""The botocore hooks through which every SDK call made while a cloud runs reaches the kernel: who is
calling (a function's role, a service principal, a test), the IAM check, the services' checks and
answers, and the observers that run after a call.

botocore's handlers are process-wide, so one kernel at a time is active in a process.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from localcloud.core import initializers, loaders, speedups
from localcloud.core.iam import access_denied, call_authorizations, iam_action, session_arn
from localcloud.core.service import AwsCall
from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@dataclass
class Principal:
    role_arn: str
    session: str
    span: int | None


PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "localcloud_principal", default=None
)
"""Who the SDK calls of this thread (or task) run as; services whose code starts threads (Lambda's
handlers) carry it into them."""
_active: Kernel | None = None


def active() -> Kernel | None:
    """The running kernel, for code moto calls back without one (Step Functions' interpreter)."""
    return _active


def principal() -> Principal | None:
    return PRINCIPAL.get()


@contextmanager
def acting_as(role_arn: str, session: str, span: int | None) -> Iterator[None]:
    token = PRINCIPAL.set(Principal(role_arn, session, span))
    try:
        yield
    finally:
        PRINCIPAL.reset(token)


def activate(kernel: Kernel) -> None:
    global _active
    if _active is not None:
        raise LocalCloudError("another LocalCloud is running in this process; stop it first")
    _install_hooks()
    kernel.restore_environ = _offline_environ()
    _active = kernel


def deactivate(kernel: Kernel) -> None:
    global _active
    if _active is kernel:
        _active = None
    restore, kernel.restore_environ = kernel.restore_environ, None
    if restore is not None:
        restore()


class AsRole:
    """A client proxy whose every call runs as a role (see :meth:`Kernel.client_as`)."""

    def __init__(self, kernel: Kernel, client: Any, role_arn: str, session: str) -> None:
        self._kernel, self._client, self._role_arn, self._session = kernel, client, role_arn, session

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            current = PRINCIPAL.get()
            with acting_as(self._role_arn, self._session, current.span if current else None):
                return attribute(*args, **kwargs)

        return call


#: Signed calls that AWS answers whatever the caller's policies say, an explicit Deny included. STS API
#: reference, GetCallerIdentity: "No permissions are required to perform this operation."
NEEDS_NO_PERMISSION = frozenset({("sts", "GetCallerIdentity")})


def check_call(kernel: Kernel, service_model: Any, operation: str, params: dict[str, Any]) -> None:
    """Refuse the call unless the acting principal's policies allow it, as AWS would."""
    principal = PRINCIPAL.get()
    if principal is None:
        return
    refusal = iam_refusal(kernel, principal.role_arn, service_model, operation, params, principal.session)
    if refusal is not None:
        raise denied(kernel, principal, *refusal)


def iam_refusal(
    kernel: Kernel,
    role_arn: str,
    service_model: Any,
    operation: str,
    params: dict[str, Any],
    session: str | None = None,
) -> tuple[str, str, str, str | None, str] | None:
    """Why the policies refuse ``role_arn``'s call (prefix, operation, action, resource, reason), or
    None; ``session`` names the role's session the call is made as, which a resource policy may name."""
    registry = kernel.registry
    if not kernel.enforce_iam or service_model.service_name in registry.self_authorized:
        return None
    if service_model.operation_model(operation).auth_type == "none":
        return None  # an unauthenticated call (Cognito's SignUp, InitiateAuth...): IAM does not apply
    if (service_model.service_name, operation) in NEEDS_NO_PERMISSION:
        return None
    prefix, action = iam_action(service_model, operation)
    where = (kernel.partition, kernel.region, kernel.account)
    needed = call_authorizations(prefix, action, params, where, registry.iam_resources)
    if needed is None:
        # The resource of this service's calls cannot be named offline: the action alone decides.
        kernel.iam.action_only_services.add(prefix)
    as_session = None if session is None else session_arn(role_arn, session)
    for needed_action, resource in needed or [(action, None)]:
        decision = kernel.iam.decide(role_arn, needed_action, resource, session=as_session)
        if not decision.allowed:
            return prefix, operation, needed_action, resource, decision.reason
    return None


def would_pass_checks(
    kernel: Kernel, role_arn: str, session: str, service_model: Any, operation: str, params: dict[str, Any]
) -> bool:
    """Whether a call as ``role_arn`` would get past the network, IAM and the service's own checks,
    decided without making it or tracing anything: for a caller that skips a call whose answer it
    already knows, so that a refusal still comes from the call itself."""
    return (
        kernel.network.placement_of(session, role_arn) is None
        and all(
            _check_passes(kernel, check, operation, params)
            for check in kernel.registry.checks.get(service_model.service_name, [])
        )
        and iam_refusal(kernel, role_arn, service_model, operation, params, session) is None
    )


def _check_passes(kernel: Kernel, check: Any, operation: str, params: dict[str, Any]) -> bool:
    """Whether ``check`` would let the call through: one that may refuse it is run only where it
    only reads the parameters (``checks_only(reading=...)``), else it is taken to refuse."""
    if operation not in getattr(check, "operations", (operation,)):
        return True
    if operation not in getattr(check, "reading", ()):
        return False
    try:
        check(kernel, operation, params)
    except ClientError:
        return False
    return True


def denied(
    kernel: Kernel,
    principal: Principal,
    prefix: str,
    operation: str,
    action: str,
    resource: str | None,
    reason: str,
    through: str = "",
) -> ClientError:
    """A refused call, traced (``through`` names what refused it beside IAM), as AWS words it."""
    kernel.trace.record(
        "denied",
        principal.session,
        prefix,
        f"{action} on {resource or '*'}{through}",
        at=kernel.clock.elapsed(),
        parent=principal.span,
        outcome="AccessDenied",
    )
    return access_denied(
        prefix, operation, principal.role_arn, principal.session, action, resource or "*", reason
    )


# ---------------------------------------------------------------------------------------- botocore


def _before_parameter_build(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    if _active is None:
        return
    context["localcloud_params"] = params
    try:
        _active.network.check_call(model.service_model, model.name, params, context)
        check_call(_active, model.service_model, model.name, params)
        for check in _active.registry.checks.get(model.service_model.service_name, []):
            check(_active, model.name, params)
    except ClientError as refused:
        # Answered in ``before-call``, so the caller's own client raises its modeled exception
        # (``sfn.exceptions.TaskTimedOut``), as it would for AWS's answer.
        context[_REFUSED] = refused


_REFUSED = "localcloud_refused"


def _before_call(
    model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    """A service's answer to a call moto lacks (or refuses where moto would take it)."""
    refused = context.pop(_REFUSED, None)
    if refused is not None:
        status = refused.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return AWSResponse("", status, {}, None), refused.response
    if _active is None:
        return None
    service = model.service_model.service_name
    answers = _active.registry.answers
    answer = answers.get(f"{service}.{model.name}") or answers.get(service)
    if answer is None:
        return None
    call = AwsCall(service, model.name, context.get("localcloud_params", {}), params["url"], context)
    answered = answer(_active, call)
    if answered is None:
        return None
    status, parsed = answered
    return AWSResponse("", status, {}, None), parsed


def _after_call(
    http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    """Let the service behaviours that react to a call see it (the services' observers)."""
    if _active is None or http_response is None or http_response.status_code >= 300:
        return
    _active.after_call(
        model.service_model.service_name, model.name, context.get("localcloud_params") or {}, parsed
    )


_HOOKS = (
    ("before-parameter-build", _before_parameter_build),
    ("before-call", _before_call),
    ("after-call", _after_call),
)


@functools.cache
def admin_client(service: str, region: str) -> Any:
    return _admin_session().client(service, region_name=region)


@functools.cache
def _admin_session() -> boto3.session.Session:
    """One session for the cloud's own clients, made after the hooks are installed."""
    _install_hooks()
    return boto3.session.Session()


def _install_hooks() -> None:
    """Register the hooks with botocore once; sessions created from now on carry them, share the
    model files their loaders read (:mod:`localcloud.core.loaders`) and get one copy of each
    initializer (:mod:`localcloud.core.initializers`)."""
    loaders.install()
    initializers.install()
    speedups.install()
    for hook in _HOOKS:
        if hook not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append(hook)
    boto3.DEFAULT_SESSION = None


#: Process environment the local cloud needs while it runs, whoever started it.
_OFFLINE_ENVIRON = {
    # botocore would send DynamoDB (and DynamoDB Streams) calls to account-based endpoints that
    # moto does not route, so a stream's DescribeStream answered 404 "Not yet implemented".
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    # moto's EC2 would build its 1,300 public AMIs for every cloud (0.5 s each); stacks launch none.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def _offline_environ() -> Callable[[], None]:
    """Set what :data:`_OFFLINE_ENVIRON` lists (unless the caller set it); return the undo."""
    added = {name: value for name, value in _OFFLINE_ENVIRON.items() if name not in os.environ}
    os.environ.update(added)

    def restore() -> None:
        for name in added:
            os.environ.pop(name, None)

    return restore
