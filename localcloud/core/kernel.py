"""The kernel every service runs on: the clock, the trace, IAM, the SDK hooks, the pump, the deploy,
and the registry of services, which it reads from their :class:`~localcloud.core.service.Service`
objects without importing any of them.

Services get the kernel (never the test-facing :class:`~localcloud.cloud.LocalCloud`) and reach one
another only through it: ``kernel.service("sqs")`` is the SQS service's state in this cloud, and
:mod:`localcloud.core.targets` delivers from one service to another.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from localcloud.core import hooks, moto_mock
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import VirtualClock
from localcloud.core.deploy import deploy
from localcloud.core.iam import PolicyEngine
from localcloud.core.lookup import logical_id_named
from localcloud.core.metrics import Metrics
from localcloud.core.network import Network
from localcloud.core.role_use import RoleUse
from localcloud.core.servers import Servers
from localcloud.core.service import Provisioned, Service, Target
from localcloud.core.trace import Span, Trace
from localcloud.errors import DrainLimitExceeded, LocalCloudError
from localcloud.lib.token_bucket import TokenBuckets


class Pollable(Protocol):
    """Anything the kernel's pump drives: event source mappings, buffers, schedules."""

    def poll(self) -> bool:
        """Do what is due now; return whether anything happened."""

    def next_wakeup(self) -> datetime | None:
        """When something could next be due, or None if nothing is waiting."""


class Kernel:
    """One stack's resources and the machinery its services share. Built and driven by
    :class:`~localcloud.cloud.LocalCloud`."""

    def __init__(
        self,
        artifact: StackArtifact,
        services: Iterable[Service],
        *,
        region: str = "us-east-1",
        account: str = DEFAULT_ACCOUNT_ID,
        start: datetime | None = None,
        parameters: dict[str, Any] | None = None,
        enforce_iam: bool = True,
        strict_runtime: bool = False,
    ) -> None:
        self.artifact = artifact
        self.stack_name = artifact.name
        self.region = region
        self.account = account
        self.partition = "aws"
        self.enforce_iam = enforce_iam
        self.strict_runtime = strict_runtime
        """A function declaring another Python than this interpreter's is an error, not a warning."""
        self.clock = VirtualClock(start)
        self.trace = Trace()
        self.metrics = Metrics(self.clock)
        """The CloudWatch metrics every service reports (see :mod:`localcloud.core.metrics`)."""
        self.iam = PolicyEngine()
        self.role_use = RoleUse(self)
        """What services do with their resources' roles: Lambda's logs and X-Ray, Step Functions' X-Ray."""
        self.network = Network(self)
        """Who sits where in a VPC, and which connections get through (beside IAM's check)."""
        self.servers = Servers(self)
        """The real server processes behind services (databases, caches), gone when the cloud stops."""
        self.account_limits = TokenBuckets()
        """Limits AWS counts for the whole account and region, across services (API Gateway's)."""
        self.resources: dict[str, Provisioned] = {}
        self.outputs: dict[str, Any] = {}
        self.pollables: list[Pollable] = []
        """Event source mappings and anything else the pump drives (buffers, schedules)."""
        self.parameter_overrides = parameters or {}
        self.registry = Registry(services)
        self.iam.resource_policy_of = self._resource_policy_of
        self._states: dict[str, Any] = {}
        moto_mock.install()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._origins: dict[str, int] = {}
        self._running = False
        self.restore_environ: Callable[[], None] | None = None
        """Undoes the process environment the running cloud set (see :mod:`localcloud.core.hooks`)."""

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        hooks.activate(self)
        self._running = True
        self._moto_account = _use_moto_account(self.account)
        self._mock.start()
        self.clock.start()
        try:
            deploy(self)
        except BaseException:
            self.stop()
            raise
        self.trace.name_resources(
            {logical_id: self.artifact.construct_path(logical_id) for logical_id in self.resources},
            {logical_id: str(provisioned.physical_id) for logical_id, provisioned in self.resources.items()},
        )

    def stop(self, *, tear_down: bool = True) -> None:
        """Stop the cloud; stopping one that is not running does nothing. ``tear_down`` first lets the
        services delete what a stack deletion deletes (custom resources), while IAM checks still apply."""
        if not self._running:
            return
        failures: list[str] = []
        try:
            for state in reversed(list(self._states.values()) if tear_down else []):
                if hasattr(state, "tear_down"):
                    try:
                        state.tear_down()
                    except LocalCloudError as error:  # the other services still delete theirs
                        failures.append(str(error))
        finally:
            self._stop()
        if failures:
            raise LocalCloudError("; ".join(failures))

    def _stop(self) -> None:
        self._running = False
        hooks.deactivate(self)
        for state in self._states.values():
            close = getattr(state, "close", None)
            if close is not None:
                close()
        try:
            self.servers.stop()
        finally:
            self.clock.stop()
            self._mock.stop()
            _use_moto_account(self._moto_account)

    # ------------------------------------------------------------------------------------ services

    def service(self, name: str) -> Any:
        """The state of service ``name`` (``lambda``, ``sqs``, ``states``...) in this cloud, made on first use."""
        if name not in self._states:
            service = self.registry.services.get(name)
            if service is None or service.state is None:
                raise LocalCloudError(f"no service {name!r} keeps state in the local cloud")
            self._states[name] = service.state(self)
        return self._states[name]

    def _resource_policy_of(self, resource: str) -> list[Any]:
        """The statements of the policy on ``resource`` (an ARN), read by the service that holds it."""
        reader = self.registry.resource_policies.get(resource.split(":", 3)[2])
        return [] if reader is None else reader(self, resource)

    def has_service(self, name: str) -> bool:
        return name in self.registry.services

    def target(self, service: str) -> Target | None:
        """How to deliver to ``service`` (an ARN's service part), if it takes deliveries."""
        found = self.registry.services.get(service)
        return found.target if found else None

    def after_call(
        self, service: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
    ) -> None:
        """Run the services' observers of a successful ``service`` call (botocore's service name):
        after every SDK call, and after a write the local cloud makes straight to moto's backend."""
        for observer in self.registry.observers.get((service, operation), []):
            observer(self, params, parsed)

    # ------------------------------------------------------------------------------------ naming

    def short_id(self, seed: str, length: int = 10) -> str:
        return hashlib.sha256(f"{self.stack_name}/{seed}".encode()).hexdigest()[:length]

    def physical_name(self, logical_id: str, max_length: int) -> str:
        """A CloudFormation-style generated name: ``Stack-LogicalId-SUFFIX``, within ``max_length``."""
        suffix = self.short_id(logical_id, 12).upper()
        stack, own_id = self.artifact.origins.get(logical_id, (self.stack_name, logical_id))
        head = f"{stack}-{own_id}"[: max_length - len(suffix) - 1]
        return f"{head}-{suffix}"

    # ------------------------------------------------------------------------------------ lookups

    def physical_id(self, name: str) -> str:
        """The ``Ref`` of a resource, by logical id or construct path (see :meth:`logical_id`)."""
        return self.resources[self.logical_id(name)].physical_id

    def logical_id(self, name: str) -> str:
        """A resource's logical id, from itself or its construct path, whole or its end (``Orders/Table``)."""
        return logical_id_named(self.artifact, self.resources, name)

    def role_arn(self, role_name: str) -> str:
        """The ARN of role ``role_name``: from the stack's own roles without a call (a policy of the
        stack names one of them, most often), else as IAM answers (which refuses an unknown name)."""
        resources = self.artifact.template.get("Resources", {})
        for logical_id, provisioned in self.resources.items():
            if (
                provisioned.physical_id == role_name
                and resources.get(logical_id, {}).get("Type") == "AWS::IAM::Role"
                and "Arn" in provisioned.attributes
            ):
                return provisioned.attributes["Arn"]
        return self.admin_client("iam").get_role(RoleName=role_name)["Role"]["Arn"]

    # ------------------------------------------------------------------------------------ pump

    def add_pollable(self, pollable: Pollable) -> None:
        self.pollables.append(pollable)

    def remove_pollable(self, pollable: Pollable) -> None:
        self.pollables.remove(pollable)

    def pump(self) -> bool:
        """Run what is due now: timers, then every pollable once. Whether anything happened."""
        progressed = self.clock.run_due() > 0
        for pollable in list(self.pollables):
            progressed = pollable.poll() or progressed
        return progressed

    def next_wakeup(self, *, schedules: bool = True) -> datetime | None:
        """When something next falls due; ``schedules=False`` leaves out schedules, which never end."""
        pollables = [p for p in self.pollables if schedules or not getattr(p, "schedule", False)]
        moments = [self.clock.next_timer(), *(p.next_wakeup() for p in pollables)]
        later = [m for m in moments if m is not None]
        return min(later) if later else None

    def advance(self, seconds: float, max_steps: int = 10_000) -> None:
        """Move virtual time forward, delivering everything that falls due on the way.

        ``max_steps`` bounds the work at any one moment (a loop), not over the whole span, so a
        schedule firing every minute for a week is fine.
        """
        target = self.clock.now() + timedelta(seconds=seconds)
        while True:
            self._pump_until_quiet(0, max_steps)
            moment = self.next_wakeup()
            if moment is None or moment > target:
                break
            self._catch_up(moment)
            self.clock.move_to(moment)
        self._catch_up(target)
        self.clock.move_to(target)
        self._pump_until_quiet(0, max_steps)

    def _catch_up(self, moment: datetime) -> None:
        """Let a pollable that asked for no stop (``catch_up``) record what it would have seen before
        ``moment``: the cloud is quiet, so nothing changes until the clock gets there."""
        for pollable in list(self.pollables):
            catch_up = getattr(pollable, "catch_up", None)
            if catch_up is not None:
                catch_up(moment)

    def drain(self, max_steps: int = 10_000) -> None:
        """Deliver until nothing is in flight, moving time as needed; raise if it never gets quiet."""
        steps = 0
        while True:
            steps = self._pump_until_quiet(steps, max_steps)
            moment = self.next_wakeup(schedules=False)
            if moment is None:
                return
            self.clock.move_to(moment)

    def _pump_until_quiet(self, steps: int, max_steps: int) -> int:
        """Pump until nothing more happens at this moment; count the steps against ``max_steps``."""
        while self.pump():
            steps += 1
            if steps > max_steps:
                recent = "\n".join(self.trace.lines()[-20:])
                raise DrainLimitExceeded(
                    f"still busy after {max_steps} steps: events may loop between resources. Last spans:\n{recent}"
                )
        return steps

    # ------------------------------------------------------------------------------------ clients

    def admin_client(self, service: str) -> Any:
        """A client with no IAM checks: for provisioning and for tests looking at state.

        Clients are shared by every cloud in the process (moto's state is what changes between
        clouds, not the client): creating one costs 15 to 50 ms.
        """
        return hooks.admin_client(service, self.region)

    def client_as(self, role_arn: str, service: str, session: str) -> Any:
        """A client whose calls are checked against ``role_arn``'s policies, as a function's are."""
        return hooks.AsRole(self, self.admin_client(service), role_arn, session)

    @contextmanager
    def acting_as(self, role_arn: str, session: str, span: int | None) -> Iterator[None]:
        """Make the SDK calls inside run as ``role_arn`` (session ``session``), under trace ``span``."""
        with hooks.acting_as(role_arn, session, span):
            yield

    def caller(self) -> tuple[str, int | None]:
        """Who is calling now (a function's name, or ``test``) and the trace span it runs in."""
        principal = hooks.principal()
        return (principal.session, principal.span) if principal else ("test", None)

    # ------------------------------------------------------------------------------------ trace

    def origin_of(self, message_id: str) -> int | None:
        """The trace span that sent a message, so deliveries hang under their cause."""
        return self._origins.get(message_id)

    def note_origin(self, message_id: str, span_id: int) -> None:
        """Remember which span sent a message, so what it causes hangs under it in the trace."""
        self._origins.setdefault(message_id, span_id)

    def record_send(
        self,
        target: str,
        detail: str,
        *,
        origin: str | None = None,
        source: str | None = None,
        parent: int | None = None,
    ) -> Span:
        """Trace something sent to ``target`` by the current caller (or ``source``), and remember
        the span as the ``origin`` of what it sent, so the deliveries it causes hang under it."""
        if source is None:
            source, parent = self.caller()
        span = self.trace.record("send", source, target, detail, at=self.clock.elapsed(), parent=parent)
        if origin is not None:
            self.note_origin(origin, span.id)
        return span


class Registry:
    """What the services declare, indexed for the kernel; refuses a resource type claimed twice."""

    def __init__(self, services: Iterable[Service]) -> None:
        self.services: dict[str, Service] = {}
        self.provisioners: dict[str, Any] = {}
        self.observers: dict[tuple[str, str], list[Any]] = {}
        self.checks: dict[str, list[Any]] = {}
        self.answers: dict[str, Any] = {}
        self.self_authorized: set[str] = set()
        self.iam_resources: dict[str, Any] = {}
        self.resource_policies: dict[str, Any] = {}
        for service in services:
            if service.name in self.services:
                raise LocalCloudError(f"service {service.name!r} is declared twice")
            self.services[service.name] = service
            for resource_type, provisioner in service.provisioners.items():
                if resource_type in self.provisioners:
                    raise LocalCloudError(f"{resource_type} is claimed by two services")
                self.provisioners[resource_type] = provisioner
            for key, observers in service.observers.items():
                self.observers.setdefault(key, []).extend(observers)
            for sdk_service, check in service.checks.items():
                self.checks.setdefault(sdk_service, []).append(check)
            self.answers.update(service.answers)
            self.self_authorized |= service.self_authorized
            self.iam_resources.update(service.iam_resources)
            self.resource_policies.update(service.resource_policies)


#: moto answers a request in this account when the variable is set, else in its default one.
MOTO_ACCOUNT = "MOTO_ACCOUNT_ID"


def _use_moto_account(account: str | None) -> str | None:
    """Make moto answer in ``account`` (None or its default: as it would unset); the setting before."""
    before = os.environ.pop(MOTO_ACCOUNT, None)
    if account not in (None, DEFAULT_ACCOUNT_ID):
        os.environ[MOTO_ACCOUNT] = account
    return before
