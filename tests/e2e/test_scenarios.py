"""The demo's scenarios run here too: every registered pattern's "must show" holds offline."""

from __future__ import annotations

import pytest

from patterns.registry import PATTERNS
from scenarios import play, stack_parameters

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_the_pattern_scenario_holds(local_cloud, pattern):
    with stack_parameters(pattern.id) as parameters:
        outcome = play(local_cloud(pattern.id, parameters=parameters), pattern.id)
    assert not outcome.error, outcome.error
    failed = [f"{check.what}: {check.detail}" for check in outcome.checks if not check.held]
    assert outcome.checks, "a scenario that checks nothing shows nothing"
    assert failed == []
