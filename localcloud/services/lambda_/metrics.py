"""The Lambda service's own metrics (namespace ``AWS/Lambda``), reported to the kernel's sink.

Per invocation, under ``FunctionName`` (and ``FunctionName`` with ``Resource`` ``name:qualifier``
for a version or alias): ``Invocations`` 1, ``Errors`` 1 or 0, ``Duration`` in milliseconds of
virtual time, ``ConcurrentExecutions`` (how many ran at its start, itself included); a throttled
one is ``Throttles`` 1 and nothing else. A stream batch adds ``IteratorAge``, the age in
milliseconds of its newest record when the batch is sent (see
:mod:`localcloud.services.lambda_.event_sources.streams`). Stamped at the invocation's moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from localcloud.services.lambda_.versions import unqualified

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction

NAMESPACE = "AWS/Lambda"


def _dimension_sets(function: LambdaFunction) -> list[dict[str, str]]:
    name = unqualified(function.arn).rsplit(":", 1)[-1]
    sets = [{"FunctionName": name}]
    if unqualified(function.arn) != function.arn:
        sets.append({"FunctionName": name, "Resource": f"{name}:{function.arn.rsplit(':', 1)[-1]}"})
    return sets


def _moment(kernel: Kernel, at: float) -> datetime:
    """A virtual moment in seconds since the clock started, as a timestamp."""
    return kernel.clock.now() - timedelta(seconds=kernel.clock.elapsed() - at)


def invoked(
    kernel: Kernel, function: LambdaFunction, at: float, result: InvocationResult | None, concurrent: int
) -> None:
    """One invocation started at ``at`` (virtual seconds): its result, or None when throttled."""
    moment = _moment(kernel, at)
    for dimensions in _dimension_sets(function):
        put = kernel.metrics.put
        if result is None:
            put(NAMESPACE, "Throttles", dimensions, 1, "Count", moment)
            continue
        put(NAMESPACE, "Invocations", dimensions, 1, "Count", moment)
        put(NAMESPACE, "Errors", dimensions, 1 if result.error else 0, "Count", moment)
        put(NAMESPACE, "Duration", dimensions, result.duration * 1000, "Milliseconds", moment)
        put(NAMESPACE, "ConcurrentExecutions", dimensions, concurrent, "Count", moment)


def iterator_age(kernel: Kernel, function: LambdaFunction, arrivals: list[datetime]) -> None:
    """A stream batch is sent now; ``arrivals``: when its records reached the stream (none for a
    tumbling window's final invocation, which reports no age)."""
    if not arrivals:
        return
    now = kernel.clock.now()
    age = max(0.0, (now - max(arrivals)).total_seconds() * 1000)
    for dimensions in _dimension_sets(function):
        kernel.metrics.put(NAMESPACE, "IteratorAge", dimensions, age, "Milliseconds", now)
