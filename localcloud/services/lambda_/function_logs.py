"""What a handler prints reaches its function's log group, as the Lambda runtime sends it there.

Each line a function writes to stdout or stderr during an invocation (Powertools' JSON log lines,
``print``) becomes one log event in a stream of its execution environment (one per cold start), in
the function's log group: ``LoggingConfig.LogGroup``, else ``/aws/lambda/<name>``, created if
missing, provided the function's role may write it (:mod:`localcloud.core.role_use`); else the
lines are dropped, as on AWS. The lines are written with PutLogEvents when the invocation ends, so
subscription filters and tests reading the group see them (straight to moto's backend, see
:mod:`localcloud.services.lambda_.log_writer`). They still reach the process's own
streams too, and so pytest's capture.

Around them go the Lambda platform's own lines, written for every invocation whether or not the
handler prints: ``START RequestId: <id> Version: <version>`` when it begins, ``END RequestId: <id>``
and the ``REPORT`` line when it ends (its virtual ``duration`` later), all in the same PutLogEvents
call as the handler's lines. REPORT gives ``Duration``, ``Billed Duration`` (rounded up to the
millisecond) and ``Memory Size``; not ``Max Memory Used`` or ``Init Duration``, which an in-process
function has no honest figure for.

Logging handlers that hold a stream of their own are pointed at the capture for the invocation too:
Powertools' Logger keeps the ``sys.stdout`` of its first configuration, which in a test session may
be from before the cloud started. Not written: the runtime's report of an unhandled error.
"""

from __future__ import annotations

import io
import logging
import math
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import ClientError

from localcloud.core.targets import client, service_role
from localcloud.services.lambda_.log_writer import put_log_events

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction


class _Tee(io.TextIOBase):
    """Stands in for ``sys.stdout`` or ``sys.stderr`` while functions run: writes go through, and a
    copy goes to the innermost invocation (a function may invoke another synchronously)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.through: TextIO | None = None
        self.copies: list[list[str]] = []
        self.redirected: list[tuple[logging.StreamHandler, Any]] = []

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        target = self._target()
        if target is not None:
            target.write(text)
        if self.copies:
            self.copies[-1].append(text)
        return len(text)

    def flush(self) -> None:
        target = self._target()
        if target is not None:
            target.flush()

    def _target(self) -> TextIO | None:
        """Where writes go: the stream it stands in for; between invocations (a handler configured
        during one keeps writing here), whatever stream is current."""
        if self.through is not None:
            return self.through
        current = getattr(sys, self.name)
        return current if current is not self else getattr(sys, f"__{self.name}__")

    def start(self, handlers: list[logging.StreamHandler]) -> None:
        if not self.copies:
            self.through = getattr(sys, self.name)
            setattr(sys, self.name, self)
            originals = (self.through, getattr(sys, f"__{self.name}__"))
            for handler in handlers:
                if any(handler.stream is stream for stream in originals if stream is not None):
                    self.redirected.append((handler, handler.setStream(self)))
        self.copies.append([])

    def stop(self) -> str:
        text = "".join(self.copies.pop())
        if not self.copies:
            for handler, stream in self.redirected:
                handler.setStream(stream)
            self.redirected.clear()
            setattr(sys, self.name, self.through)
            self.through = None
        return text


_TEES = (_Tee("stdout"), _Tee("stderr"))


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {
        id(handler): handler
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if type(handler) is logging.StreamHandler
    }
    return list(handlers.values())


class Invocation:
    """What the block under :func:`captured` tells it: the invocation's result, once it has one."""

    __slots__ = ("result",)

    def __init__(self) -> None:
        self.result: InvocationResult | None = None


@contextmanager
def captured(
    cloud: Kernel, function: LambdaFunction, cause: int | None, *, deliver: bool = True
) -> Iterator[Invocation]:
    """Capture what ``function`` writes while the block runs, then write it, between the platform's
    lines for the ``result`` the block sets, to its log group unless its role may not (``deliver``
    False: see :mod:`localcloud.core.role_use`)."""
    handlers = [] if all(tee.copies for tee in _TEES) else _stream_handlers()  # one scan of the loggers
    for tee in _TEES:
        tee.start(handlers)
    invocation = Invocation()
    began = _millis(cloud)
    try:
        yield invocation
    finally:
        text = "".join(tee.stop() for tee in _TEES)
        if deliver:
            now = _millis(cloud)
            events = [{"timestamp": now, "message": line} for line in text.splitlines() if line.strip()]
            result = invocation.result
            if result is not None:
                events = _platform_lines(function, result, began, events, now)
            if events:
                cloud.service("lambda").log_streams.write(function, events, cause)


PLATFORM_PREFIXES = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")


def is_platform_line(message: str) -> bool:
    """Whether a log event is one of the platform's START, END and REPORT lines, not the handler's."""
    return message.startswith(PLATFORM_PREFIXES)


def _millis(cloud: Kernel) -> int:
    return int(cloud.clock.now().timestamp() * 1000)


def _platform_lines(
    function: LambdaFunction, result: InvocationResult, began: int, lines: list[dict[str, Any]], now: int
) -> list[dict[str, Any]]:
    """The handler's ``lines`` between the platform's START and its END and REPORT, as the runtime
    words them for the text log format."""
    request = result.request_id
    took = result.duration * 1000
    ended = max(now, began + math.ceil(took))
    report = (
        f"REPORT RequestId: {request}\tDuration: {took:.2f} ms\tBilled Duration: {max(1, math.ceil(took))} ms"
        f"\tMemory Size: {function.memory_size} MB\t"
    )
    return [
        {"timestamp": began, "message": f"START RequestId: {request} Version: {result.version}"},
        *lines,
        {"timestamp": ended, "message": f"END RequestId: {request}"},
        {"timestamp": ended, "message": report},
    ]


class LogStreams:
    """The log stream of each execution environment of each function, created on first use."""

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.names: dict[tuple[str, int], str] = {}

    def write(self, function: LambdaFunction, events: list[dict[str, Any]], cause: int | None) -> None:
        cloud = self.cloud
        group = function.log_group_name
        logs = client(cloud, "logs")
        with cloud.acting_as(service_role(cloud, "lambda.amazonaws.com"), function.name, cause):
            stream = self._stream(function, group, logs)
            put_log_events(cloud, group, stream, events)

    def _stream(self, function: LambdaFunction, group: str, logs: Any) -> str:
        key = (function.arn, function.cold_starts)
        if key not in self.names:
            name = f"{self.cloud.clock.now():%Y/%m/%d}/[{function.version}]{uuid.uuid4().hex}"
            try:
                logs.create_log_stream(logGroupName=group, logStreamName=name)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                logs.create_log_group(logGroupName=group)
                logs.create_log_stream(logGroupName=group, logStreamName=name)
            self.names[key] = name
        return self.names[key]
