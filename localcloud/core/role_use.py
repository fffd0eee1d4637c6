"""What the Lambda service does with a function's execution role: write its logs, send its traces.
Step Functions likewise sends a traced state machine's segments with the state machine's role.

On AWS a function whose role may not write its log group still runs, but its log lines are lost;
an actively traced function (``TracingConfig.Mode: Active``) whose role may not send to X-Ray loses
its segments. Lambda creates a stream per execution environment (``logs:CreateLogStream``) and puts
the lines on it (``logs:PutLogEvents``), both on the stream's ARN; segments go with
``xray:PutTraceSegments`` and ``xray:PutTelemetryRecords`` on ``*``.

Each function's decision is made once per cloud with the evaluator the function's own calls go
through (a role's policies do not change while the cloud runs), so an invocation costs a lookup.
Each invocation's span says where its lines and its segment went (``logs`` and ``xray`` in its data:
``delivered`` or ``dropped``); the first drop of each function is a ``drop`` span under that
invocation, which the trace and the ``serve`` console show. A state machine with
``TracingConfiguration.Enabled`` is decided the same way, on each execution's span. Not modelled:
``logs:CreateLogGroup`` for a group that does not exist (the local cloud creates it), X-Ray's
sampling calls (without them the default rule samples), and Step Functions' own log delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


@dataclass(frozen=True)
class Delivery:
    """Whether a function's log lines reach its group, and its (or a state machine's) segments X-Ray
    (None: not traced)."""

    logs: bool
    xray: bool | None


@dataclass
class RoleUse:
    cloud: Kernel
    by_owner: dict[str, Delivery] = field(default_factory=dict)
    """Each function's (or state machine's) decision, by its ARN."""
    dropped: dict[str, list[str]] = field(default_factory=lambda: {"logs": [], "xray": []})
    """Why each function's logs (or segments) were dropped, one line per function."""

    def first(
        self,
        arn: str,
        name: str,
        span: Span,
        decide: Callable[[], tuple[Delivery, dict[str, str]]],
        *,
        service: str = "lambda",
    ) -> Delivery:
        """The decision for ``arn``, made on its first use; its refusals go in the trace under ``span``."""
        known = self.by_owner.get(arn)
        if known is None:
            known, refused = decide()
            self.by_owner[arn] = known
            for what, why in refused.items():
                self.dropped[what].append(f"{name}: {why}")
                self.cloud.trace.record(
                    "drop", service, name, why, at=span.at, parent=span.id, outcome="AccessDenied"
                )
        return known

    def decide(self, function: Any) -> tuple[Delivery, dict[str, str]]:
        cloud = self.cloud
        group = log_group_arn(cloud, function)
        stream = f"{group}:log-stream:{cloud.clock.now():%Y/%m/%d}/[$LATEST]{'0' * 32}"
        refused: dict[str, str] = {}
        logs_denied = self._denied(function.role_arn, LOG_ACTIONS, stream)
        if logs_denied:
            refused["logs"] = f"logs dropped: the role may not {', '.join(logs_denied)} on {group}"
        xray = None
        if function.tracing:
            xray, refused_xray = self.traced(function.role_arn)
            refused.update(refused_xray)
        return Delivery(not logs_denied, xray), refused

    def traced(self, role_arn: str) -> tuple[bool, dict[str, str]]:
        """Whether segments sent as ``role_arn`` reach X-Ray, and if not, why."""
        denied = self._denied(role_arn, XRAY_ACTIONS, "*")
        if denied:
            return False, {"xray": f"X-Ray segments dropped: the role may not {', '.join(denied)}"}
        return True, {}

    def _denied(self, role_arn: str, actions: tuple[str, ...], resource: str) -> list[str]:
        """The actions the role may not take; every one is evaluated, so each allowed one counts as used."""
        decisions = [(a, self.cloud.iam.decide(role_arn, a, resource)) for a in actions]
        if not self.cloud.enforce_iam:
            return []
        return [action for action, decision in decisions if not decision.allowed]


def log_group_arn(cloud: Kernel, function: Any) -> str:
    return f"arn:{cloud.partition}:logs:{cloud.region}:{cloud.account}:log-group:{function.log_group_name}"


def delivery(cloud: Kernel, function: Any, span: Span) -> Delivery:
    """Where the lines and the segment of ``function``'s invocation ``span`` go, noted on the span;
    the function's first drop is recorded in the trace under it."""
    decisions = cloud.role_use
    known = decisions.first(function.arn, function.name, span, lambda: decisions.decide(function))
    span.data["logs"] = "delivered" if known.logs else "dropped"
    if known.xray is not None:
        span.data["xray"] = "delivered" if known.xray else "dropped"
    return known


def state_machine_delivery(cloud: Kernel, machine: Any, role_arn: str, span: Span) -> None:
    """Note on an execution's ``span`` whether its segments reach X-Ray, if ``machine`` is traced."""
    if not machine.tracingConfiguration.get("enabled"):
        return
    decisions = cloud.role_use

    def decide() -> tuple[Delivery, dict[str, str]]:
        sent, refused = decisions.traced(role_arn)
        return Delivery(True, sent), refused

    known = decisions.first(machine.arn, machine.name, span, decide, service="states")
    span.data["xray"] = "delivered" if known.xray else "dropped"


def dropped(cloud: Kernel, what: str) -> list[str]:
    """``name: why`` for each invoked function (or started state machine) whose ``"logs"`` (or ``"xray"`` segments) were dropped."""
    return list(cloud.role_use.dropped[what])
