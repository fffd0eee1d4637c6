"""Fuzzing the aggregator through API Gateway: no product id or query string, however hostile,
gets a 5xx while its services are up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.fuzz import FUZZ, assert_no_5xx, hostile_text, ids, pattern_cloud, segment, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "aggregator")


@FUZZ
@given(
    product_id=st.one_of(ids(), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,70}", fullmatch=True)),
    query=st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=10), max_size=2),
)
def test_no_product_id_gets_a_5xx(cloud, product_id, query):
    path = f"/products/{segment(product_id)}"
    response = send(cloud, "GET", path, query=query)
    assert_no_5xx(response, f"GET {path[:200]} {query!r}")
    assert response.status in (200, 400, 403, 404)


@FUZZ
@given(method=st.sampled_from(["POST", "PUT", "DELETE", "PATCH"]), body=hostile_text())
def test_other_methods_are_refused_by_api_gateway_not_the_pattern(cloud, method, body):
    response = send(cloud, method, "/products/p-1", body=body.encode("utf-8", "surrogatepass"))
    assert_no_5xx(response, f"{method} /products/p-1")
    assert response.status == 403
