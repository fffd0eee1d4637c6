"""The demo's scenarios run here too: every registered pattern's "must show" holds offline."""

from __future__ import annotations

import pytest

from patterns.registry import PATTERNS
from scenarios import play, stack_parameters

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("pattern", "variant"),
    [pytest.param(p, v, id=p.id if v is None else f"{p.id}-{v}") for p in PATTERNS for v, _ in p.stacks()],
)
def test_the_pattern_scenario_holds(local_cloud, pattern, variant):
    with stack_parameters(pattern.id) as parameters:
        outcome = play(local_cloud(pattern.id, variant=variant, parameters=parameters), pattern.id, variant)
    assert not outcome.error, outcome.error
    failed = [f"{check.what}: {check.detail}" for check in outcome.checks if not check.held]
    assert outcome.checks, "a scenario that checks nothing shows nothing"
    assert failed == []


def test_a_scenario_on_the_minute_holds_whatever_second_it_starts_at(local_cloud):
    """`serve`, the demo and the grant check start a cloud at the real second, so a scenario on minute
    boundaries (alarm periods, schedules) meets them at any offset. circuit_breaker_sfn's check of the
    call's retries once counted the alarm's probe too, when a minute ended among them: at start
    seconds 4 to 7."""
    from datetime import timedelta

    from localcloud.core.clock import FIXED_START

    start = FIXED_START.replace(second=0) + timedelta(seconds=5)
    with stack_parameters("circuit_breaker_sfn") as parameters:
        outcome = play(
            local_cloud("circuit_breaker_sfn", parameters=parameters, start=start), "circuit_breaker_sfn"
        )
    assert not outcome.error, outcome.error
    assert [f"{check.what}: {check.detail}" for check in outcome.checks if not check.held] == []
