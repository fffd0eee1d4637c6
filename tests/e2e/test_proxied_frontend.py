"""Proxied front and back ends offline: the page and the API through one distribution; the API
mounted under /api with the stage as origin path; its errors unchanged (no custom error response
turning them into the page); deep links the page; no preflight on the same origin."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings

from patterns.simple_web_service import ITEM_SCHEMA
from tests.e2e.fuzz import FUZZ, assert_no_5xx, bodies, content_types, ids, pattern_cloud, segment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "proxied_frontend")


@pytest.fixture(scope="module")
def site(cloud):
    return cloud.distribution()


def api_requests(cloud) -> list[str]:
    return [span.detail for span in cloud.trace.find("request") if span.source == "client"]


def test_the_page_comes_from_the_bucket_and_the_api_from_api_gateway_on_one_origin(cloud, site):
    page = site.get("/")
    assert (page.status, page.header("Content-Type")) == (200, "text/html")
    assert b'<main id="view"' in page.body and b"/app." in page.body
    created = site.request("POST", "/api/items", json={"name": "teapot", "price_cents": 2450})
    assert created.status == 201
    item = created.json()
    assert site.get(f"/api/items/{item['id']}").json() == item
    assert f"GET /prod/items/{item['id']}" in api_requests(cloud), (
        "/api/items/<id> on the distribution is /prod/items/<id> on the API: prefix dropped, stage as origin path"
    )
    assert not [d for d in api_requests(cloud) if d.startswith("OPTIONS")], "no preflight reached the API"


def test_the_apis_errors_come_through_unchanged(site):
    missing = site.get("/api/items/nope")
    assert (missing.status, missing.json()) == (404, {"statusCode": 404, "message": "item nope not found"})
    assert missing.header("X-Cache") == "Error from cloudfront"
    bad = site.request("POST", "/api/items", json={"price_cents": -1})
    assert bad.status == 400 and "'name' is a required property" in bad.json()["message"]
    unrouted = site.request("DELETE", "/api/items")
    assert (unrouted.status, unrouted.header("Content-Type")) == (403, "application/json"), (
        "API Gateway's own 403 stays a 403: the spa row's 403 fallback would have made it the page"
    )
    assert site.get("/api").header("Content-Type") == "text/html", (
        "only /api/* is the API's; /api is a page route"
    )


def test_deep_links_are_the_page_and_a_missing_file_is_not(site):
    index = site.get("/index.html").body
    for path in ("/item/42", "/item/a/b", "/about"):
        answer = site.get(path)
        assert (answer.status, answer.body, answer.header("X-Cache")) == (
            200,
            index,
            "Hit from cloudfront",
        ), path
    assert site.get("/app.00000000.js").status == 403, "a missing asset stays an error, never HTML"


def test_the_bucket_is_closed_to_all_but_the_distribution(cloud):
    from botocore.exceptions import ClientError

    reader = cloud.client_as(cloud.function("Service/ItemsFunction").role_arn, "s3", "outsider")
    with pytest.raises(ClientError) as refused:
        reader.get_object(Bucket=cloud.outputs["BucketName"], Key="index.html")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


@settings(FUZZ, max_examples=4)
@given(item_id=ids(), body=bodies(ITEM_SCHEMA), content_type=content_types)
@example(item_id="k" * 2049, body=b'{"name": "\\ud800", "price_cents": 1e400}', content_type="text/plain")
def test_no_hostile_id_or_body_through_the_distribution_gets_a_5xx(cloud, site, item_id, body, content_type):
    """The API's own checks answer through the prefix-dropping function, whatever the path or body."""
    for method, path in (("POST", "/api/items"), ("PUT", f"/api/items/{segment(item_id)}")):
        cloud.advance(1)
        answer = site.request(method, path, body=body, headers={"Content-Type": content_type})
        assert_no_5xx(answer, f"{method} {path[:100]} {content_type} {body[:200]!r}")
    for method in ("GET", "DELETE"):
        cloud.advance(1)
        answer = site.request(method, f"/api/items/{segment(item_id)}")
        assert_no_5xx(answer, f"{method} /api/items/{segment(item_id)[:200]}")
        assert answer.status in (204, 400, 403, 404)
