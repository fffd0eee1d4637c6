"""The context object's times as Step Functions writes them: ``2026-01-01T00:01:00.000Z``.

``$$.State.EnteredTime`` and ``$$.Execution.StartTime`` are ISO 8601 in UTC with milliseconds and
a ``Z`` on AWS. moto (5.2) writes the first with Python's ``isoformat()``
(``2026-01-01T00:01:00+00:00``, microseconds when there are any) and puts a ``datetime`` in the
second, which a ``Parameters`` path then copies as something no AWS workflow ever sees. A workflow
that stores these times (an item's ``opened_at``) or compares them as strings would pass offline
and differ on AWS, so both are rewritten where moto builds them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def aws_time(moment: datetime | str) -> str:
    """``moment`` in the context object's form; a naive time is UTC, as moto's ``utcnow()`` is."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def install() -> None:
    """Rewrite the two times where moto's interpreter builds them (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.backend import execution_worker

    if getattr(state.StateData, "_localcloud", False):
        return

    def state_data(**fields: Any) -> dict[str, Any]:
        if "EnteredTime" in fields:
            fields["EnteredTime"] = aws_time(fields["EnteredTime"])
        return dict(fields)

    def execution_data(**fields: Any) -> dict[str, Any]:
        if isinstance(fields.get("StartTime"), datetime | str):
            fields["StartTime"] = aws_time(fields["StartTime"])
        return dict(fields)

    for function in (state_data, execution_data):
        function._localcloud = True  # type: ignore[attr-defined]
    state.StateData = state_data  # type: ignore[assignment]
    execution_worker.ExecutionData = execution_data  # type: ignore[assignment]
