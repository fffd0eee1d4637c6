"""Fuzzing the circuit breaker's API through API Gateway: no currency, however hostile, gets a 5xx
(a failing rate service's 502 and an open circuit's 503 are shown in test_circuit_breaker.py; no
request here makes the service fail, so the circuit stays closed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.fuzz import FUZZ, assert_no_5xx, ids, pattern_cloud, segment, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "circuit_breaker")


@FUZZ
@given(currency=ids() | st.sampled_from(["EUR", "XYZ", "eur", "A" * 12, "A" * 13]))
def test_no_currency_gets_a_5xx(cloud, currency):
    path = f"/rates/{segment(currency)}"
    response = send(cloud, "GET", path)
    assert_no_5xx(response, f"GET {path[:200]}")
    assert response.status in (200, 400, 403, 404)
