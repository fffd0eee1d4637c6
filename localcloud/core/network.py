"""The network offline, beside IAM: whether a connection gets through, before any policy is read.

A function with a ``VpcConfig`` is *placed* in its subnets behind its security groups. Whatever
listens in a VPC (an interface endpoint today; a database or a cache when a service provides one)
*listens* on a port in its subnets behind its security groups. A connection gets through only where
the source's security groups allow the port out, the listener's allow it in (by security group or
by a CIDR that covers the other side's subnets), and, for an AWS API, a route leads to it: a
gateway endpoint in the subnet's route table, an interface endpoint with private DNS, or a NAT
gateway with an internet gateway behind it. Otherwise the connection times out, as on AWS: the
caller waits its connect timeout on the virtual clock and the trace names the missing rule.

Every AWS call a placed function makes is checked here (:meth:`Network.check_call`, from the SDK
hook, before the IAM check, since the request never reaches IAM); one that goes through a VPC
endpoint must also be allowed by the endpoint's policy, as AWS requires. Functions not in a VPC reach every AWS
API, as on AWS, and no listener unless it is public. The test's own calls, and the calls AWS's
services make for a function (its logs, its queue polling, its async destinations), are not placed and always get through.

Services declare listeners with :meth:`Network.listen` and check a connection with
:meth:`Network.connect`. The kernel names no service: the rules themselves (security groups, route
tables, endpoints) are a :class:`Fabric` the VPC service installs as ``network.fabric`` when it
provisions, and Lambda installs how a caller waits (it moves the calling thread's virtual cursor).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ConnectTimeoutError

from localcloud.core import hooks
from localcloud.core.iam import _statements, call_authorizations, iam_action
from localcloud.errors import InvalidRequest, LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: botocore's connect timeout when the client's config does not set one.
DEFAULT_CONNECT_TIMEOUT = 60.0
#: Attempts botocore makes of a call whose connection times out when its config gives no count:
#: standard and adaptive retries (botocore's default mode) make 3, legacy retries 5 (DynamoDB's 10).
LEGACY_ATTEMPTS = {"dynamodb": 10}


@dataclass(frozen=True)
class Placement:
    """Where a function (or anything that opens connections) sits: its VPC's subnets and security groups."""

    label: str
    """How the trace names it: its construct path (``Stack/Fn``) or name."""
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


@dataclass(frozen=True)
class Listener:
    """Something that accepts connections on ``port`` in a VPC: an endpoint, a database, a cache."""

    name: str
    port: int
    placement: Placement
    public: bool = False
    """Reachable from outside the VPC (a publicly accessible database), where its security groups allow."""


class ConnectTimedOut(LocalCloudError, TimeoutError):
    """A connection the network does not let through: the caller waited ``waited`` seconds for nothing."""

    def __init__(self, reason: str, waited: float) -> None:
        super().__init__(f"connection timed out after {waited:g}s: {reason}")
        self.reason = reason
        self.waited = waited


@dataclass(frozen=True)
class Placed:
    role_arn: str
    placement: Placement


class Fabric(Protocol):
    """The rules a VPC service evaluates (the EC2 service's state)."""

    def placement(self, label: str, subnets: list[str], security_groups: list[str]) -> Placement:
        """Validate a ``VpcConfig`` as Lambda does, and the placement it makes."""

    def role_may_attach(self, role_arn: str) -> list[str]:
        """The network-interface actions (``ec2:CreateNetworkInterface``...) the role lacks."""

    def why_not_listener(self, source: Placement | None, listener: Listener, port: int) -> str | None:
        """Why ``source`` (None: outside any VPC) cannot reach ``listener`` on ``port``; None if it can."""

    def why_not_service(self, source: Placement, service: str) -> str | None:
        """Why ``source`` cannot reach AWS's ``service`` API (its endpoint name: ``dynamodb``...); None if it can."""

    def endpoint_policies(self, source: Placement, service: str) -> dict[str, dict[str, Any]]:
        """The policy of each VPC endpoint ``source``'s calls to ``service`` go through, by endpoint id."""


@dataclass
class Network:
    kernel: Kernel
    fabric: Fabric | None = None
    """The VPC rules, installed by the service that provisions VPCs."""
    wait: Callable[[float], float] | None = None
    """``wait(seconds)``: the calling thread waits that long in virtual time; answers the moment it
    began. Installed by the service whose callers wait (Lambda moves its invocation's cursor)."""
    placed: dict[str, Placed] = field(default_factory=dict)
    """By the name a function's calls run under (its session)."""
    listeners: dict[str, Listener] = field(default_factory=dict)
    _service_calls: threading.local = field(default_factory=threading.local)

    @contextmanager
    def from_the_service(self) -> Iterator[None]:
        """The calls inside are made by AWS's service for a placed function (Lambda delivering an
        asynchronous invocation's record to its destination), from outside the function's
        subnets: they are not network-checked, and IAM still applies to the role they use."""
        depth = getattr(self._service_calls, "depth", 0)
        self._service_calls.depth = depth + 1
        try:
            yield
        finally:
            self._service_calls.depth = depth

    def _fabric(self) -> Fabric:
        if self.fabric is None:
            raise LocalCloudError("a VpcConfig names subnets, but no VPC was provisioned in this cloud")
        return self.fabric

    def place(
        self,
        session: str,
        role_arn: str,
        label: str,
        vpc_config: dict[str, Any],
    ) -> Placement:
        """Put the function whose calls run as ``role_arn`` under ``session`` in its ``VpcConfig``;
        refused as Lambda refuses it when the role may not manage the function's network interfaces."""
        fabric = self._fabric()
        placement = fabric.placement(
            label, list(vpc_config.get("SubnetIds", [])), list(vpc_config.get("SecurityGroupIds", []))
        )
        missing = fabric.role_may_attach(role_arn) if placement.subnets and self.kernel.enforce_iam else []
        if missing:
            raise InvalidRequest(
                f"{label}: InvalidParameterValueException: The provided execution role does not have "
                f"permissions to call {missing[0].split(':')[1]} on EC2 (it lacks {', '.join(missing)})"
            )
        self.placed[session] = Placed(role_arn, placement)
        return placement

    def listen(
        self, name: str, port: int, subnets: list[str], security_groups: list[str], *, public: bool = False
    ) -> Listener:
        """Declare that ``name`` accepts connections on ``port`` in ``subnets`` behind ``security_groups``."""
        listener = Listener(name, port, Placement(name, tuple(subnets), tuple(security_groups)), public)
        self.listeners[name] = listener
        return listener

    def placement_of(self, session: str, role_arn: str | None = None) -> Placement | None:
        """Where the caller ``session`` sits, if it is placed (and, given ``role_arn``, runs as it)."""
        placed = self.placed.get(session)
        return placed.placement if placed and role_arn in (None, placed.role_arn) else None

    def connect(self, listener: str, port: int, *, timeout: float, source: str | None = None) -> None:
        """Open a connection to ``listener`` on ``port`` from ``source`` (a placed function's name;
        None: whoever is calling now). Raises :class:`ConnectTimedOut` after ``timeout`` virtual
        seconds where the network drops it, or ``ConnectionRefusedError`` where it gets through to a
        port nothing listens on."""
        target = self.listeners.get(listener)
        if target is None:
            raise LocalCloudError(
                f"nothing listens as {listener!r}; known: {', '.join(self.listeners) or 'none'}"
            )
        session, role_arn, span = self._caller(source)
        if session is None:
            return  # the test itself: it stands where it likes
        placement = self.placement_of(session, role_arn)
        reason = self._fabric().why_not_listener(placement, target, port)
        if reason is not None:
            self._timed_out(session, listener, reason, timeout, span)
            raise ConnectTimedOut(reason, timeout)
        if port != target.port:
            raise ConnectionRefusedError(f"{listener} accepts connections on port {target.port}, not {port}")

    def check_call(
        self, service_model: Any, operation: str, params: dict[str, Any], context: dict[str, Any]
    ) -> None:
        """Let an AWS call through only if its caller's placement reaches the service's API;
        otherwise wait the client's connect timeout on each attempt and raise botocore's
        ``ConnectTimeoutError``, as an SDK in that subnet would. A call through an endpoint whose
        policy does not allow it is refused as AWS refuses it."""
        if not self.placed or getattr(self._service_calls, "depth", 0):
            return
        principal = hooks.principal()
        if principal is None:
            return
        placement = self.placement_of(principal.session, principal.role_arn)
        if placement is None:
            return
        endpoint = service_model.endpoint_prefix
        fabric = self._fabric()
        reason = fabric.why_not_service(placement, endpoint)
        if reason is None:
            self._check_endpoint_policies(
                fabric.endpoint_policies(placement, endpoint), service_model, operation, params
            )
            return
        config = context.get("client_config")
        timeout = float(getattr(config, "connect_timeout", None) or DEFAULT_CONNECT_TIMEOUT)
        attempts = _attempts(config, service_model.service_name)
        waited = timeout * attempts
        self._timed_out(
            principal.session,
            endpoint,
            f"{reason} ({attempts} x {timeout:g}s connect timeout)",
            waited,
            principal.span,
        )
        raise ConnectTimeoutError(endpoint_url=f"https://{endpoint}.{self.kernel.region}.amazonaws.com")

    def _check_endpoint_policies(
        self, policies: dict[str, dict[str, Any]], service_model: Any, operation: str, params: dict[str, Any]
    ) -> None:
        """Each endpoint's policy must allow the call: an allow for its action and resource, and no
        deny, from statements whose ``Principal`` names the role, its account or everyone
        (:func:`localcloud.core.iam.principal_naming`)."""
        principal = hooks.principal()
        kernel = self.kernel
        prefix, action = iam_action(service_model, operation)
        where = (kernel.partition, kernel.region, kernel.account)
        needed = call_authorizations(prefix, action, params, where, kernel.registry.iam_resources)
        context = {"aws:securetransport": "true", "aws:principalarn": principal.role_arn}
        for endpoint_id, document in policies.items():
            statements = _statements(document, f"{endpoint_id}'s policy")
            for needed_action, resource in needed or [(action, None)]:
                decision = kernel.iam.resource_decision(
                    statements, principal.role_arn, needed_action, resource, context
                )
                if decision.allowed:
                    continue
                explicit = decision.reason.startswith("explicit deny")
                raise hooks.denied(
                    kernel,
                    principal,
                    prefix,
                    operation,
                    needed_action,
                    resource,
                    "with an explicit deny in a VPC endpoint policy"
                    if explicit
                    else f"because no VPC endpoint policy allows the {needed_action} action",
                    through=f" through {endpoint_id}",
                )

    def _caller(self, source: str | None) -> tuple[str | None, str | None, int | None]:
        if source is not None:
            return source, None, None
        principal = hooks.principal()
        return (principal.session, principal.role_arn, principal.span) if principal else (None, None, None)

    def _timed_out(self, session: str, target: str, reason: str, waited: float, span: int | None) -> None:
        """Trace the timeout at the moment the caller gives up, and move the caller there."""
        kernel = self.kernel
        at = (self.wait(waited) if self.wait else kernel.clock.elapsed()) + waited
        kernel.trace.record("timeout", session, target, reason, at=at, parent=span, outcome="ConnectTimeout")


def _attempts(config: Any, service: str) -> int:
    retries = getattr(config, "retries", None) or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    if "max_attempts" in retries:
        return int(retries["max_attempts"]) + 1
    if retries.get("mode") == "legacy":
        return LEGACY_ATTEMPTS.get(service, 5)
    return 3
