"""The virtual clock's edge rules, beside ``test_clock.py``: moving to the present is no move."""

from __future__ import annotations

from localcloud.core.clock import FIXED_START, VirtualClock


def test_moving_to_the_present_is_no_move_and_needs_no_running_clock() -> None:
    """Only a move forward needs a started clock: ``advance(0)`` or a timer due now moves nothing.
    A second clock, not started, reads the time the first one froze."""
    running = VirtualClock(FIXED_START)
    running.start()
    try:
        idle = VirtualClock(FIXED_START)
        idle.move_to(FIXED_START)
        assert idle.now() == FIXED_START
        assert idle.elapsed() == 0.0
    finally:
        running.stop()
