"""The virtual clock on its own: timers fire in due order, only when due, and time moves only
forward, only while the clock runs. Everything that waits in the local cloud (visibility timeouts,
batching windows, retries) rests on these rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.core.clock import FIXED_START, VirtualClock, real_start


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    clock = VirtualClock(FIXED_START)
    clock.start()
    try:
        yield clock
    finally:
        clock.stop()


def later(seconds: float) -> datetime:
    return FIXED_START + timedelta(seconds=seconds)


def test_due_timers_run_in_due_order_and_ties_in_the_order_set(clock: VirtualClock) -> None:
    ran: list[str] = []
    clock.call_at(later(20), lambda: ran.append("twenty"))
    clock.call_at(later(10), lambda: ran.append("ten, first"))
    clock.call_later(10, lambda: ran.append("ten, second"))
    clock.call_at(later(30), lambda: ran.append("thirty"))
    assert clock.next_timer() == later(10)
    assert clock.pending() == 4

    clock.move_to(later(20))

    assert clock.run_due() == 3
    assert ran == ["ten, first", "ten, second", "twenty"]
    assert clock.pending() == 1
    assert clock.next_timer() == later(30)


def test_a_timer_waits_until_its_moment_and_runs_once(clock: VirtualClock) -> None:
    ran: list[int] = []
    clock.call_later(10, lambda: ran.append(1))
    clock.call_later(20, lambda: ran.append(2))

    clock.move_to(later(9.999))
    assert clock.run_due() == 0
    clock.move_to(later(15))
    assert clock.run_due() == 1
    assert clock.run_due() == 0
    assert ran == [1]


def test_a_timer_set_by_a_due_timer_for_now_runs_in_the_same_pass(clock: VirtualClock) -> None:
    """A retry scheduled with no delay must not wait for the next advance."""
    ran: list[str] = []
    clock.call_later(0, lambda: (ran.append("first"), clock.call_later(0, lambda: ran.append("then"))))

    assert clock.run_due() == 2
    assert ran == ["first", "then"]
    assert clock.next_timer() is None
    assert clock.pending() == 0


def test_time_moves_only_forward_and_elapsed_counts_from_the_start(clock: VirtualClock) -> None:
    clock.move_to(later(90))
    assert clock.now() == later(90)
    assert datetime.now(UTC) == later(90)
    assert clock.elapsed() == 90.0

    clock.move_to(later(30))
    assert clock.now() == later(90)
    assert clock.elapsed() == 90.0


def test_a_clock_moves_only_while_it_runs() -> None:
    clock = VirtualClock(FIXED_START)
    with pytest.raises(AssertionError, match="not started"):
        clock.move_to(datetime.now(UTC) + timedelta(days=1))

    clock.start()
    clock.move_to(later(1))
    clock.stop()

    assert datetime.now(UTC) > FIXED_START + timedelta(days=1), "stopping gives Python its real clock back"
    with pytest.raises(AssertionError, match="not started"):
        clock.move_to(datetime.now(UTC) + timedelta(days=1))


def test_a_clock_given_no_start_begins_now_to_the_second() -> None:
    start = real_start()
    assert start.microsecond == 0
    assert abs((datetime.now(UTC) - start).total_seconds()) < 60


def test_a_module_s_copies_of_datetime_follow_each_clock_however_the_module_changed() -> None:
    """A module that copied ``datetime`` (``from datetime import datetime``, as moto's do) reads the
    virtual time while a clock runs and the real time once it stops: seen before, after it gained
    another copy, and loaded afresh under the same name (as a handler's cold start is)."""
    import sys
    import types
    from datetime import date

    def module_with(**attributes: object) -> types.ModuleType:
        module = types.ModuleType("clock_test_copies")
        module.__dict__.update(attributes)
        sys.modules[module.__name__] = module
        return module

    try:
        module = module_with(datetime=datetime)
        for change in ("none", "a new copy", "a fresh module"):
            if change == "a new copy":
                module.date = date
            elif change == "a fresh module":
                module = module_with(datetime=datetime, date=date)
            clock = VirtualClock(FIXED_START)
            clock.start()
            try:
                assert module.datetime.now(UTC) == FIXED_START, change
                if hasattr(module, "date"):
                    assert module.date.today() == FIXED_START.date(), change
            finally:
                clock.stop()
            assert module.datetime.now(UTC) > FIXED_START + timedelta(days=1), change
            assert module.datetime is datetime, change
    finally:
        sys.modules.pop("clock_test_copies", None)
