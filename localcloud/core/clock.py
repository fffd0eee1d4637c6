"""Virtual time: nothing in the local cloud sleeps; tests move time with ``advance``.

The clock freezes Python's time (with freezegun), so moto's own timers (visibility timeouts,
delays, TTLs) follow it too, and keeps the timers the local cloud sets (retries, batching windows).
"""

from __future__ import annotations

import heapq
import itertools
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import freezegun.api
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


_freezegun_scan = freezegun.api._get_cached_module_attributes
#: A module's name -> (the module, how many names it had, the real time functions freezegun found in it).
_scanned: dict[str, tuple[weakref.ref[types.ModuleType], int, list[tuple[str, Any]]]] = {}


def _time_attributes(module: Any) -> list[tuple[str, Any]]:
    """freezegun's list of ``module``'s attributes that hold a real time function, scanned again only
    for a module object not seen before or one whose number of names changed.

    At every clock start freezegun asks this of each of the thousands of loaded modules, and checked
    its own cache by fingerprinting the module's names (a set built from all of them): that was most
    of a cloud's clock start. A module that gains or loses names is scanned again, as freezegun
    would; a handler's module loaded afresh is a new object (a weak reference tells them apart, and
    lets the old one go). A module with a ``__dir__`` of its own is left to freezegun.
    """
    names = getattr(module, "__dict__", None)
    if type(module) is not types.ModuleType or not isinstance(names, dict) or "__dir__" in names:
        return _freezegun_scan(module)
    key = module.__name__
    found = _scanned.get(key)
    if found is not None and found[0]() is module and found[1] == len(names):
        return found[2]
    attributes = _freezegun_scan(module)
    _scanned[key] = (weakref.ref(module), len(names), attributes)
    return attributes


freezegun.api._get_cached_module_attributes = _time_attributes


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
