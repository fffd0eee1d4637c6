"""Lambda invocation semantics: synchronous, asynchronous with retries and destinations, dry run,
and reserved-concurrency throttling.

A synchronous invocation starts at its caller's moment on the virtual clock and lasts its own
``duration`` or, if later, until the calls it made returned; a caller whose SDK gives up sooner
(botocore's ``read_timeout``) gets :class:`ReadTimedOut` at that moment while the function runs on.

An asynchronous event is attempted at once, retried after 1 and then 2 minutes of virtual time
(up to ``MaximumRetryAttempts``, 2 by default) while it is younger than ``MaximumEventAgeInSeconds``
(6 hours by default), and then goes to the on-failure destination, else the function's DLQ. Both
take the shapes AWS sends: an invocation record for destinations, the original event for a DLQ.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.role_use import delivery
from localcloud.errors import ReadTimedOut, Throttled
from localcloud.services.lambda_ import metrics, payload_limits, runtime_check
from localcloud.services.lambda_.function_logs import captured
from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction, call_turn
from localcloud.services.lambda_.versions import is_qualified, unqualified

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = 6 * 3600
#: Lambda's back-off between asynchronous attempts, in seconds.
RETRY_DELAYS = (60, 120)


@dataclass
class AsyncConfig:
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    max_event_age: int = DEFAULT_MAX_EVENT_AGE
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


@dataclass
class _AsyncEvent:
    function: LambdaFunction
    payload: Any
    received: datetime
    cause: int | None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0


class Invoker:
    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.configs: dict[str, AsyncConfig] = {}
        self._busy: dict[str, list[tuple[float, float]]] = {}
        """Each function's invocations as (start, end) in virtual seconds, for reserved concurrency."""
        self.pending_async = 0

    def config(self, function: LambdaFunction) -> AsyncConfig:
        return self.configs.setdefault(function.arn, AsyncConfig())

    def configure(self, function: LambdaFunction, props: dict[str, Any]) -> None:
        config = self.config(function)
        config.retry_attempts = int(props.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        config.max_event_age = int(props.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE))
        destinations = props.get("DestinationConfig", {})
        config.on_success = destinations.get("OnSuccess", {}).get("Destination")
        config.on_failure = destinations.get("OnFailure", {}).get("Destination")

    # ------------------------------------------------------------------------------------ sync

    def invoke_sync(
        self,
        function: LambdaFunction,
        payload: Any,
        *,
        source: str,
        cause: int | None,
        read_timeout: float | None = None,
        size: int | None = None,
    ) -> InvocationResult:
        """One synchronous invocation, traced, starting at the caller's moment (see
        :mod:`localcloud.services.lambda_.runtime`); raises :class:`Throttled` at reserved concurrency,
        :class:`ReadTimedOut` when it outlasts the caller's ``read_timeout``, and
        :class:`PayloadTooLarge` for an event over Lambda's limit (``size``: the bytes sent, if known)."""
        payload_limits.check_sync(payload, size)
        clock = self.cloud.clock
        versions = self.cloud.service("lambda").versions
        function = versions.route(function)
        runtime_warning = runtime_check.check(self.cloud, function)
        with call_turn(clock) as call:
            now = call.at
            # Reserved concurrency is the function's, shared by its versions and aliases.
            busy = self._busy.setdefault(unqualified(function.arn), [])
            busy[:] = [(start, end) for start, end in busy if end > clock.elapsed()]
            running = sum(1 for start, end in busy if start <= now < end)
            limit = function.reserved_concurrency
            if limit is not None and running >= limit:
                metrics.invoked(self.cloud, function, now, None, running)
                self.cloud.trace.record(
                    "throttle",
                    source,
                    function.name,
                    f"reserved concurrency {limit}",
                    at=now,
                    parent=cause,
                    outcome="429",
                )
                raise Throttled(f"Rate Exceeded: {function.name} is at its reserved concurrency of {limit}")
            span = self.cloud.trace.record("invoke", source, function.name, at=now, parent=cause)
            if runtime_warning:
                span.data["runtime_warning"] = runtime_warning
            initialized = versions.initialized(function, now)
            if is_qualified(function):
                span.data.update(version=function.version, provisioned=initialized)
            goes = delivery(self.cloud, function, span)
            with (
                captured(self.cloud, function, span.id, deliver=goes.logs) as invocation,
                self.cloud.acting_as(function.role_arn, function.name, span.id),
            ):
                result = payload_limits.checked_response(function, function.run(payload, clock, call))
                invocation.result = result
            ended = now + result.duration
            busy.append((now, ended))
            metrics.invoked(self.cloud, function, now, result, running + 1)
            span.ended = ended
            span.outcome = f"error: {result.error['errorType']}" if result.error else "ok"
            span.data.update(cold_start=result.cold_start and not initialized, request_id=result.request_id)
            if result.error:
                span.data["error"] = result.error["errorMessage"]
            if read_timeout is not None and result.duration > read_timeout:
                gave_up = now + read_timeout
                span.data["caller_gave_up_at"] = gave_up
                self.cloud.trace.record(
                    "timeout",
                    source,
                    function.name,
                    f"read timeout of {read_timeout:g}s; the invocation ran on to t={ended:g}s",
                    at=gave_up,
                    parent=cause,
                    outcome="ReadTimeoutError",
                )
                call.waited_until(gave_up)
                raise ReadTimedOut(function.name, read_timeout, result.duration)
            call.waited_until(ended)
            return result

    def concurrency_at(self, function: LambdaFunction, moment: float) -> int:
        return sum(
            1
            for span in self.cloud.trace.find("invoke", target=function.name)
            if span.at <= moment < (span.ended if span.ended is not None else span.at)
        )

    # ------------------------------------------------------------------------------------ async

    def invoke_async(
        self,
        function: LambdaFunction,
        payload: Any,
        *,
        source: str,
        cause: int | None,
        size: int | None = None,
    ) -> str:
        """Queue an event for ``function``; Lambda answers 202 at once and works on it after, or
        raises :class:`PayloadTooLarge` for an event over the asynchronous limit (``size``: the bytes
        sent, if known)."""
        payload_limits.check_async(payload, size)
        event = _AsyncEvent(function, payload, self.cloud.clock.now(), cause)
        span = self.cloud.trace.record(
            "enqueue", source, function.name, "async event", at=self.cloud.clock.elapsed(), parent=cause
        )
        event.cause = span.id
        self.pending_async += 1
        self.cloud.clock.call_later(0, lambda: self._attempt(event), f"async {function.name}")
        return event.request_id

    def _attempt(self, event: _AsyncEvent) -> None:
        config = self.config(event.function)
        age = (self.cloud.clock.now() - event.received).total_seconds()
        if age > config.max_event_age:
            self._finish(event, None, condition="EventAgeExceeded")
            return
        event.attempts += 1
        try:
            result = self.invoke_sync(event.function, event.payload, source="lambda-async", cause=event.cause)
        except Throttled:
            # Lambda keeps retrying a throttled async event until it is too old.
            self.cloud.clock.call_later(RETRY_DELAYS[0], lambda: self._attempt(event), "async throttled")
            return
        if not result.failed:
            self._finish(event, result, condition="Success")
        elif event.attempts <= config.retry_attempts:
            delay = RETRY_DELAYS[min(event.attempts - 1, len(RETRY_DELAYS) - 1)]
            self.cloud.clock.call_later(
                delay, lambda: self._attempt(event), f"async retry {event.function.name}"
            )
        else:
            self._finish(event, result, condition="RetriesExhausted")

    def _finish(self, event: _AsyncEvent, result: InvocationResult | None, *, condition: str) -> None:
        self.pending_async -= 1
        config = self.config(event.function)
        succeeded = condition == "Success"
        destination = config.on_success if succeeded else config.on_failure
        if destination:
            record = self._destination_record(event, result, condition)
            self.cloud.service("lambda").send_to(
                destination,
                record,
                role_arn=event.function.role_arn,
                source=event.function.name,
                cause=event.cause,
                kind="destination",
            )
        elif not succeeded and config.dead_letter:
            self.cloud.service("lambda").send_to(
                config.dead_letter,
                event.payload,
                role_arn=event.function.role_arn,
                source=event.function.name,
                cause=event.cause,
                kind="dead-letter",
            )
        elif not succeeded:
            self.cloud.trace.record(
                "discard",
                event.function.name,
                "-",
                f"{condition}; no destination or DLQ",
                at=self.cloud.clock.elapsed(),
                parent=event.cause,
                outcome="lost",
            )

    def _destination_record(
        self, event: _AsyncEvent, result: InvocationResult | None, condition: str
    ) -> dict:
        """The invocation record Lambda sends to an asynchronous destination."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": self.cloud.clock.now().isoformat().replace("+00:00", "Z"),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": event.function.arn
                if is_qualified(event.function)
                else f"{event.function.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": event.payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": result.version if result is not None else event.function.version,
            },
        }
        if result is not None:
            if result.failed:
                record["responseContext"]["functionError"] = "Unhandled"
            record["responsePayload"] = result.payload
        return record


def encode(payload: Any) -> str:
    """A payload as Lambda serializes it: JSON, so a returned string arrives quoted."""
    return json.dumps(payload)
