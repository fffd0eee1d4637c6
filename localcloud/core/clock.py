"""Virtual time: nothing in the local cloud sleeps; tests move time with ``advance``.

The clock freezes Python's time (with freezegun), so moto's own timers (visibility timeouts,
delays, TTLs) follow it too, and keeps the timers the local cloud sets (retries, batching windows).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

FIXED_START = datetime(2026, 1, 1, tzinfo=UTC)
"""A start for tests whose timestamps must not depend on the day they run: ``start=FIXED_START``."""
#: Modules whose clocks stay real: the CDK and its jsii bridge (thousands of modules freezegun
#: would otherwise scan on every start), the test runner (so its durations stay true), and the
#: HTTP and WebSocket servers' connections (their timeouts and Date headers are the wall clock's).
REAL_TIME_MODULES = (
    "aws_cdk",
    "jsii",
    "cdk_nag",
    "constructs",
    "cfnlint",
    "_pytest",
    "pytest",
    "pluggy",
    "typeguard",
    "waitress",
    "websockets",
    "localcloud.listener",
)


@dataclass(order=True)
class _Timer:
    due: datetime
    sequence: int
    callback: Callable[[], None] = field(compare=False)
    label: str = field(compare=False, default="")


def real_start() -> datetime:
    """Now, to the second: where a clock given no start begins, so Date headers and timestamps are
    today's, while a run stays free of sub-second noise."""
    return datetime.now(UTC).replace(microsecond=0)


class VirtualClock:
    def __init__(self, start: datetime | None = None) -> None:
        start = real_start() if start is None else start
        self._start = start
        self._freezer = freeze_time(start, ignore=list(REAL_TIME_MODULES))
        self._frozen = None
        self._timers: list[_Timer] = []
        self._sequence = itertools.count()

    def start(self) -> None:
        self._frozen = self._freezer.start()

    def stop(self) -> None:
        self._freezer.stop()
        self._frozen = None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def elapsed(self) -> float:
        """Seconds since the clock started: the time axis of the trace."""
        return (self.now() - self._start).total_seconds()

    def call_at(self, due: datetime, callback: Callable[[], None], label: str = "") -> None:
        heapq.heappush(self._timers, _Timer(due, next(self._sequence), callback, label))

    def call_later(self, seconds: float, callback: Callable[[], None], label: str = "") -> None:
        self.call_at(self.now() + timedelta(seconds=seconds), callback, label)

    def next_timer(self) -> datetime | None:
        return self._timers[0].due if self._timers else None

    def run_due(self) -> int:
        """Run every timer that is due now, in order; return how many ran."""
        ran = 0
        while self._timers and self._timers[0].due <= self.now():
            heapq.heappop(self._timers).callback()
            ran += 1
        return ran

    def move_to(self, moment: datetime) -> None:
        if moment > self.now():
            assert self._frozen is not None, "the clock is not started"
            self._frozen.move_to(moment)

    def pending(self) -> int:
        return len(self._timers)
