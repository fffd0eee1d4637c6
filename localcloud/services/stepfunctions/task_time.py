"""How long a Task state lasts on the virtual clock, and its ``TimeoutSeconds``.

A task that invokes Lambda synchronously (``arn:aws:lambda:...`` or ``arn:aws:states:::lambda:invoke``,
or any SDK integration whose call runs a function) lasts as long as the invocations it made: their
``duration`` (``cloud.function(...).duration``) or the synchronous calls they waited for. The
execution's fiber waits that long before the next state, so a later ``Wait`` or the execution's own
``TimeoutSeconds`` counts from the invocation's end.

When that is longer than the state's ``TimeoutSeconds`` (``TimeoutSecondsPath``, or its JSONata form),
the task fails with ``States.Timeout`` at its deadline, as on AWS: its ``Retry`` and ``Catch`` see
``States.Timeout``, and the invocation itself runs on to its end (its span shows it). ``HeartbeatSeconds``
applies to callback tasks (``.waitForTaskToken``), which send heartbeats (``SendTaskHeartbeat`` is
for activities, callback and job-run tasks); a Lambda request-response task sends none, so it is not
checked there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any


@contextmanager
def timed(state_span: Any, timeout_seconds: float | None) -> Iterator[None]:
    """Around a task's execution: wait for the invocations it started to end, or time it out."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError

    from localcloud.services.stepfunctions.engine import current_run
    from localcloud.services.stepfunctions.interpreter import _wait

    run = current_run()
    if run is None or state_span is None:
        yield
        return
    cloud = run.cloud
    started = cloud.clock.elapsed()
    first = len(cloud.trace.spans)
    yield
    ends = [
        span.ended
        for span in cloud.trace.spans[first:]
        if span.kind == "invoke" and span.parent == state_span.id and span.ended is not None
    ]
    lasted = max(ends, default=started) - started
    if timeout_seconds is not None and lasted > timeout_seconds:
        _wait(
            None, due=cloud.clock.now() + timedelta(seconds=started + timeout_seconds - cloud.clock.elapsed())
        )
        cloud.trace.record(
            "timeout",
            run.machine,
            state_span.target,
            f"TimeoutSeconds {timeout_seconds:g}: the invocation ran {lasted:g}s",
            at=cloud.clock.elapsed(),
            parent=state_span.id,
            outcome="States.Timeout",
        )
        raise EvalTimeoutError()
    if lasted > cloud.clock.elapsed() - started:
        _wait(None, due=cloud.clock.now() + timedelta(seconds=started + lasted - cloud.clock.elapsed()))
