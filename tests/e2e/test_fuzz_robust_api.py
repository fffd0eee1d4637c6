"""Fuzzing the robust API through API Gateway: no request, however hostile, gets a 5xx (a failing
quote service is the one 5xx, shown in test_robust_api.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patterns.robust_api import ORDER_SCHEMA
from tests.e2e.fuzz import FUZZ, assert_no_5xx, bodies, content_types, ids, pattern_cloud, segment, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "robust_api")


@FUZZ
@given(body=bodies(ORDER_SCHEMA, country=st.sampled_from(["DE", "us", "Jp"])), content_type=content_types)
def test_no_order_gets_a_5xx(cloud, body, content_type):
    response = send(cloud, "POST", "/orders", body=body, headers={"Content-Type": content_type})
    assert_no_5xx(response, f"POST /orders {content_type} {body[:200]!r}")


@FUZZ
@given(order_id=ids(), route=st.sampled_from([("GET", "/orders/{}"), ("POST", "/orders/{}/shipment")]))
def test_no_order_id_gets_a_5xx(cloud, order_id, route):
    method, template = route
    path = template.format(segment(order_id))
    response = send(cloud, method, path)
    assert_no_5xx(response, f"{method} {path[:200]}")
    assert response.status in (400, 403, 404)
