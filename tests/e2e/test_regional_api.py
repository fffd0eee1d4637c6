"""The regional API behind CloudFront offline: a cacheable GET answered by the edge the second time
(counted at the API), keyed on currency and normalized language only; POST, ``no-store`` answers and
authorized requests never cached; the TTL on the virtual clock; an invalidation through the SDK;
direct calls to the API refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.e2e.fuzz import (
    FUZZ,
    assert_no_5xx,
    bodies,
    content_types,
    hostile_text,
    ids,
    pattern_cloud,
    segment,
)

pytestmark = pytest.mark.e2e
EDGE_MAX_AGE = 60


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    for cloud in pattern_cloud(cloud_assembly, "regional_api"):
        table = cloud.outputs["TableName"]
        dynamodb = cloud.client("dynamodb")
        for pk, item in (
            (
                "product#tea",
                {
                    "names": {"M": {"en": {"S": "Green tea"}, "de": {"S": "Grüner Tee"}}},
                    "price_cents": {"N": "1000"},
                    "stock": {"N": "7"},
                },
            ),
            (f"member#{hashlib.sha256(b'tok-ann').hexdigest()}", {"discount_percent": {"N": "10"}}),
        ):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, **item})
        yield cloud


@pytest.fixture
def edge(cloud):
    """The distribution with an empty cache, and a count of the API function's invocations."""
    site = cloud.distribution()
    site.invalidate("/*")
    function = cloud.function("Pattern/Catalog")
    site.calls = lambda: len(cloud.trace.find("invoke", target=function.name))
    return site


def test_a_cacheable_get_is_answered_by_the_edge_the_second_time(edge):
    before = edge.calls()
    first = edge.get("/products/tea", query={"currency": "USD"})
    second = edge.get("/products/tea", query={"currency": "USD", "utm_source": "mail"})
    assert (first.status, first.json()["price_cents"], first.json()["name"]) == (200, 1080, "Green tea")
    assert (first.header("X-Cache"), second.header("X-Cache")) == (
        "Miss from cloudfront",
        "Hit from cloudfront",
    )
    assert second.body == first.body and edge.calls() == before + 1, "one invocation for two requests"
    assert first.header("Cache-Control") == f"public, max-age=0, s-maxage={EDGE_MAX_AGE}"

    assert edge.get("/products/tea", query={"currency": "GBP"}).header("X-Cache") == "Miss from cloudfront"
    german = edge.get(
        "/products/tea", query={"currency": "USD"}, headers={"Accept-Language": "de-CH,de;q=0.9"}
    )
    also_german = edge.get("/products/tea", query={"currency": "USD"}, headers={"Accept-Language": "de"})
    assert german.json()["name"] == "Grüner Tee" and german.header("X-Cache") == "Miss from cloudfront"
    assert also_german.header("X-Cache") == "Hit from cloudfront", "the edge function normalized the language"
    assert edge.calls() == before + 3


def test_the_ttl_runs_on_the_virtual_clock(cloud, edge):
    edge.get("/products/tea")
    cloud.advance(EDGE_MAX_AGE - 1)
    kept = edge.get("/products/tea")
    assert (kept.header("X-Cache"), int(kept.header("Age"))) == ("Hit from cloudfront", EDGE_MAX_AGE - 1)
    cloud.advance(1)
    assert edge.get("/products/tea").header("X-Cache") == "Miss from cloudfront", "s-maxage has run out"


def test_posts_no_store_answers_and_authorized_requests_are_never_cached(edge):
    before = edge.calls()
    quotes = [edge.request("POST", "/quotes", json={"product_id": "tea", "quantity": 2}) for _ in range(2)]
    assert [q.json()["total_cents"] for q in quotes] == [2000, 2000]
    stock = [edge.get("/products/tea/stock") for _ in range(2)]
    assert [s.header("X-Cache") for s in stock] == ["Miss from cloudfront"] * 2
    assert stock[0].header("Cache-Control") == "no-store"
    assert edge.calls() == before + 4

    public = edge.get("/products/tea")
    members = [edge.get("/products/tea", headers={"Authorization": "Bearer tok-ann"}) for _ in range(2)]
    assert [m.json()["price_cents"] for m in members] == [900, 900]
    assert [m.header("X-Cache") for m in members] == ["Miss from cloudfront"] * 2
    assert members[0].header("Cache-Control") == "private, no-store"
    assert edge.get("/products/tea").json() == public.json(), "the member's price never reached the public"
    assert edge.calls() == before + 7
    refused = edge.get("/products/tea", headers={"Authorization": "Bearer tok-eve"})
    assert (refused.status, refused.json()["message"]) == (401, "Authorization: unknown or revoked token")


def test_an_invalidation_through_the_sdk_clears_the_cached_answer(cloud, edge):
    assert edge.get("/products/tea").json()["price_cents"] == 1000
    cloud.client("dynamodb").update_item(
        TableName=cloud.outputs["TableName"],
        Key={"pk": {"S": "product#tea"}},
        UpdateExpression="SET price_cents = :p",
        ExpressionAttributeValues={":p": {"N": "1200"}},
    )
    assert edge.get("/products/tea").json()["price_cents"] == 1000, "the edge still has the old price"
    made = cloud.client("cloudfront").create_invalidation(
        DistributionId=cloud.outputs["DistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/products/*"]},
            "CallerReference": "price-change",
        },
    )
    assert made["Invalidation"]["Status"] == "InProgress"
    fresh = edge.get("/products/tea")
    assert (fresh.json()["price_cents"], fresh.header("X-Cache")) == (1200, "Miss from cloudfront")


def test_the_apis_errors_come_through_and_a_direct_call_is_refused(cloud, edge):
    missing = edge.get("/products/nope")
    assert (missing.status, missing.json()["message"]) == (404, "product nope not found")
    bad = edge.get("/products/tea", query={"currency": "XYZ"})
    assert bad.status == 400 and bad.json()["message"].startswith("currency: must be one of EUR, USD, GBP")
    direct = cloud.api().get("/products/tea")
    assert (direct.status, direct.json()["message"]) == (
        403,
        "call this API through its CloudFront distribution",
    )


QUOTE_MODEL = {
    "type": "object",
    "required": ["product_id", "quantity"],
    "properties": {
        "product_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
    },
}
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40) | st.sampled_from(
    ["Bearer", "Bearer ", "bearer \t x", "Basic dXNlcjpwdw==", "de;q=abc,,;", "x" * 8000]
)


@settings(FUZZ, max_examples=4)
@example(
    product_id="tea",
    currency="\x00",
    language="de-CH,de;q=0.9",
    authorization=None,
    body=b'{"product_id": "tea", "quantity": 1, "currency": []}',
    content_type="text/plain",
)
@given(
    product_id=st.just("tea") | ids(),
    currency=st.none() | hostile_text(),
    language=HEADER_TEXT,
    authorization=st.none() | HEADER_TEXT,
    body=bodies(QUOTE_MODEL, product_id=st.just("tea")),
    content_type=content_types,
)
def test_no_hostile_request_through_the_distribution_gets_a_5xx(
    cloud, product_id, currency, language, authorization, body, content_type
):
    site = cloud.distribution()
    headers = {"Accept-Language": language, **({"Authorization": authorization} if authorization else {})}
    query = {} if currency is None else {"currency": currency}
    for path in (f"/products/{segment(product_id)}", f"/products/{segment(product_id)}/stock"):
        cloud.advance(1)
        answer = site.get(path, query=query, headers=headers)
        assert_no_5xx(answer, f"GET {path[:100]} {query!r:.100} {headers!r:.200}")
        assert answer.status in (200, 400, 401, 403, 404)
    cloud.advance(1)
    quoted = site.request("POST", "/quotes", body=body, headers={"Content-Type": content_type})
    assert_no_5xx(quoted, f"POST /quotes {content_type} {body[:200]!r}")
