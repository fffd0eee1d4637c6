"""Fuzzing the simple web service through API Gateway: no request, however hostile, gets a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patterns.simple_web_service import ITEM_SCHEMA
from tests.e2e.fuzz import (
    FUZZ,
    assert_no_5xx,
    bodies,
    content_types,
    ids,
    pattern_cloud,
    segment,
    send,
    tokens,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "simple_web_service")


@pytest.fixture(scope="module")
def existing(cloud) -> str:
    """An item that PUT and GET can find, so the fuzz reaches past the 404."""
    return send(cloud, "POST", "/items", json={"name": "lamp", "price_cents": 1299}).json()["id"]


@FUZZ
@given(body=bodies(ITEM_SCHEMA), content_type=content_types, method=st.sampled_from(["POST", "PUT"]))
def test_no_body_gets_a_5xx(cloud, existing, body, content_type, method):
    path = "/items" if method == "POST" else f"/items/{existing}"
    response = send(cloud, method, path, body=body, headers={"Content-Type": content_type})
    assert_no_5xx(response, f"{method} {path} {content_type} {body[:200]!r}")


@FUZZ
@given(item_id=ids(), method=st.sampled_from(["GET", "PUT", "DELETE"]))
def test_no_id_gets_a_5xx(cloud, item_id, method):
    path = f"/items/{segment(item_id)}"
    response = send(cloud, method, path, json={"name": "x", "price_cents": 1} if method == "PUT" else None)
    assert_no_5xx(response, f"{method} {path[:200]}")
    assert response.status in (400, 403, 404)


@FUZZ
@given(
    token=tokens(),
    limit=st.none()
    | st.text(max_size=5)
    | st.integers(-5, 500).map(str)
    | st.sampled_from(["9" * 5000, "0" * 4999 + "5"]),
)
def test_no_listing_gets_a_5xx(cloud, token, limit):
    query = {"next_token": token, **({"limit": limit} if limit is not None else {})}
    response = send(cloud, "GET", "/items", query=query)
    assert_no_5xx(response, f"GET /items {query!r:.300}")
    assert response.status in (200, 400)
