"""Fuzzing the saga's API through API Gateway: no order, however hostile, gets a 5xx, a 4xx says
why, and only a valid order starts a workflow."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patterns.saga import ORDER_SCHEMA
from tests.e2e.fuzz import FUZZ, assert_no_5xx, bodies, content_types, ids, pattern_cloud, segment, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "saga")


@FUZZ
@given(body=bodies(ORDER_SCHEMA, country=st.sampled_from(["DE", "FR", "US"])), content_type=content_types)
def test_no_order_gets_a_5xx(cloud, body, content_type):
    response = send(cloud, "POST", "/orders", body=body, headers={"Content-Type": content_type})
    assert_no_5xx(response, f"POST /orders {content_type} {body[:200]!r}")
    assert response.status in (202, 400, 413, 415)


@FUZZ
@given(order_id=ids() | st.just("o-" + "0" * 32))
def test_no_order_id_gets_a_5xx(cloud, order_id):
    path = f"/orders/{segment(order_id)}"
    response = send(cloud, "GET", path)
    assert_no_5xx(response, f"GET {path[:200]}")
    assert response.status in (400, 403, 404)
