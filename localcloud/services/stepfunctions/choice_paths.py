"""A Choice rule on a path the input lacks fails the execution, as on AWS.

On AWS every comparison but ``IsPresent`` needs its ``Variable`` to exist: ``{"Variable":
"$.circuit.Item.state.S", "StringEquals": "OPEN"}`` on an input without that path fails the
execution with ``States.Runtime``, "Invalid path '$.circuit.Item.state.S': The choice state's
condition path references an invalid value.", whatever the ``Default``. moto (5.2) treats the
missing value as a comparison that does not match and takes the ``Default``, so a workflow that
forgot its ``IsPresent`` guard would pass offline and fail on AWS. ``And``, ``Or`` and ``Not``
still evaluate their rules lazily, left to right, so a guard before the comparison keeps working.
"""

from __future__ import annotations

from typing import Any

CAUSE = "Invalid path '{path}': The choice state's condition path references an invalid value."


def install() -> None:
    """Make moto's comparisons refuse a missing ``Variable`` (idempotent)."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
        ComparisonOperatorType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
        ComparisonVariable,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    if getattr(ComparisonVariable._eval_body, "_localcloud", False):
        return

    def eval_body(self: Any, env: Any) -> None:
        self.variable.eval(env)
        if (
            isinstance(env.stack[-1], NoSuchVariable)
            and self.comparison_function.operator_type != ComparisonOperatorType.IsPresent
        ):
            error = StatesErrorNameType.StatesRuntime.to_name()
            cause = CAUSE.format(path=self.variable.string_sampler.literal_value)
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(error=error, cause=cause)
                    ),
                )
            )
        self.comparison_function.eval(env)

    eval_body._localcloud = True  # type: ignore[attr-defined]
    ComparisonVariable._eval_body = eval_body  # type: ignore[method-assign]
