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
