"""Fuzzing the feature flags' checkout through API Gateway: no query, however hostile, gets a 5xx;
a bad ``user`` or ``tier`` is a 400 saying why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.fuzz import FUZZ, assert_no_5xx, hostile_text, pattern_cloud, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "feature_flags")


@FUZZ
@given(
    user=st.none() | hostile_text() | st.sampled_from(["ada", "a" * 128, "a" * 129]),
    tier=st.none() | hostile_text() | st.sampled_from(["free", "pro", "enterprise"]),
)
def test_no_checkout_query_gets_a_5xx(cloud, user, tier):
    query = {name: value for name, value in (("user", user), ("tier", tier)) if value is not None}
    response = send(cloud, "GET", "/checkout", query=query)
    assert_no_5xx(response, f"GET /checkout {query!r:.300}")
    assert response.status in (200, 400)
