"""The single page app offline: the page, its hashed assets and the API through one distribution;
the bucket closed to everyone else; deep links falling back to index.html; two caching regimes."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from tests.e2e.fuzz import pattern_cloud

pytestmark = pytest.mark.e2e
ASSET = re.compile(r"""["'](/[\w/-]+\.[0-9a-f]{8}\.\w+)["']""")
YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "spa")


@pytest.fixture(scope="module")
def site(cloud):
    return cloud.distribution()


@pytest.fixture(scope="module")
def index(site) -> bytes:
    return site.get("/index.html").body


def assets(index: bytes) -> list[str]:
    return ASSET.findall(index.decode())


def test_the_page_and_its_hashed_assets_come_through_the_distribution(site, index):
    root = site.get("/")
    assert (root.status, root.header("Content-Type"), root.body) == (200, "text/html", index)
    assert b'<main id="view"' in index and b'"/app.js"' not in index, "index.html names the hashed files"
    types = {path.rsplit(".", 1)[-1]: site.get(path).header("Content-Type") for path in assets(index)}
    assert types == {"js": "text/javascript", "css": "text/css"}
    assert site.get("/app.js").body == index, "no unhashed copy is deployed: /app.js is the fallback page"


def test_direct_bucket_access_is_refused(cloud, site):
    bucket = cloud.outputs["BucketName"]
    reader = cloud.client_as(cloud.function("Service/ItemsFunction").role_arn, "s3", "outsider")
    with pytest.raises(ClientError) as refused:
        reader.get_object(Bucket=bucket, Key="index.html")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    policy = json.loads(cloud.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "cloudfront.amazonaws.com"}]
    assert allows[0]["Condition"] == {"StringEquals": {"AWS:SourceArn": site.distribution.arn}}, (
        "only this distribution, not any CloudFront distribution, may read"
    )
    access = cloud.client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(access.values())


def test_deep_links_fall_back_to_index_html_with_200(site, index):
    for path in ("/view/some-id", "/view/a/b/c", "/no/such/page.html"):
        answer = site.get(path)
        assert (answer.status, answer.body, answer.header("X-Cache")) == (200, index, "Error from cloudfront")
        assert answer.header("Cache-Control") == "no-cache", "the fallback is index.html, headers and all"
    missing_asset = site.get("/app.00000000.js")
    assert (missing_asset.status, missing_asset.header("Content-Type")) == (200, "text/html"), (
        "the trade-off of a blanket fallback: a missing asset is the page, which the browser refuses to run"
    )


def test_index_html_is_revalidated_and_hashed_assets_are_immutable_for_a_year(cloud, site, index):
    for path in assets(index):
        first = site.get(path)
        assert first.header("Cache-Control") == f"public, max-age={YEAR}, immutable"
        cloud.advance(30 * 24 * 3600)
        again = site.get(path)
        assert (again.header("X-Cache"), again.body) == ("Hit from cloudfront", first.body)
        assert int(again.header("Age")) >= 30 * 24 * 3600
    assert site.get("/index.html").header("Cache-Control") == "no-cache"
    cloud.advance(2)
    assert site.get("/index.html").header("X-Cache") == "Miss from cloudfront", (
        "no-cache keeps index.html only for the policy's minimum TTL (1 s)"
    )


def test_the_api_answers_through_the_distribution_and_its_errors_pass_through(cloud, site):
    created = site.request("POST", "/items", json={"name": "lamp", "price_cents": 1299})
    assert created.status == 201
    item = created.json()
    assert site.get(f"/items/{item['id']}").json() == item
    assert item in site.get("/items").json()["items"]
    assert site.get(f"/items/{item['id']}").header("X-Cache") == "Miss from cloudfront", "never cached"
    missing = site.get("/items/no-such-item")
    assert (missing.status, missing.json()) == (
        404,
        {"statusCode": 404, "message": "item no-such-item not found"},
    ), "only 403 is mapped to the page, so the API's 404 is the API's"
    bad = site.request("POST", "/items", json={"price_cents": -1})
    assert bad.status == 400 and "'name' is a required property" in bad.json()["message"]
    unknown_route = site.request("DELETE", "/items")
    assert (unknown_route.status, unknown_route.header("Content-Type")) == (200, "text/html"), (
        "API Gateway's 403 for a route it lacks is mapped like the bucket's: the documented trade-off"
    )
    assert cloud.trace.find("invoke"), "the API's function ran behind the distribution"
