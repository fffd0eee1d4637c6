"""CloudFront's edge cache against what AWS does: invalidations through the SDK (paths, wildcards only
at the end, the distribution's ARN in IAM), the cache key and TTLs of a cache policy against the
origin's ``Cache-Control``, the Authorization header kept out of a cache it is not a key of, a
secret origin header read from Secrets Manager, and the origin request policies CloudFront refuses."""

from __future__ import annotations

import pytest
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_secretsmanager as secretsmanager
from botocore.exceptions import ClientError

from localcloud.errors import TemplateError
from localcloud.services.cloudfront.invalidations import path_problem
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    api = apigateway.LambdaRestApi(
        stack, "Api", handler=python_function(stack, "Backend", "cloudfront_cache"), cloud_watch_role=False
    )
    secret = secretsmanager.Secret(stack, "OriginSecret")
    origin = origins.RestApiOrigin(
        api, custom_headers={"x-origin-verify": secret.secret_value.unsafe_unwrap()}
    )
    keyed = cloudfront.CachePolicy(
        stack,
        "Keyed",
        min_ttl=Duration.seconds(0),
        default_ttl=Duration.seconds(0),
        max_ttl=Duration.seconds(100),
        query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list("currency", "cc"),
        header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Accept-Language", "Authorization"),
    )
    cloudfront.Distribution(
        stack,
        "Cdn",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origin,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=keyed,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        ),
        additional_behaviors={
            "/unkeyed/*": cloudfront.BehaviorOptions(
                origin=origin,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            ),
            "/uncached/*": cloudfront.BehaviorOptions(
                origin=origin,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            ),
        },
    )
    CfnOutput(stack, "SecretArn", value=secret.secret_arn)


@pytest.fixture(scope="module")
def cloud(synth):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    started = LocalCloud(synth("CloudFrontEdgeCache", build), start=FIXED_START)
    started.start()
    yield started
    started.stop()


@pytest.fixture
def cdn(cloud):
    cdn = cloud.distribution()
    cdn.invalidate("/*")
    return cdn


def batch(*paths: str, reference: str = "r1") -> dict:
    return {"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": reference}


def test_create_invalidation_through_the_sdk_drops_the_matching_cached_answers(cloud, cdn):
    first = cdn.get("/prices/p1", query={"currency": "EUR", "cc": "max-age=50"})
    assert cdn.get("/prices/p1", query={"currency": "EUR", "cc": "max-age=50"}).json() == first.json()
    other = cdn.get("/prices/p2", query={"currency": "EUR", "cc": "max-age=50"})

    client = cloud.client("cloudfront")
    made = client.create_invalidation(
        DistributionId=cdn.id, InvalidationBatch=batch("/prices/p1", reference="a")
    )
    assert made["Invalidation"]["Status"] == "InProgress"
    fresh = cdn.get("/prices/p1", query={"currency": "EUR", "cc": "max-age=50"})
    assert (fresh.header("X-Cache"), fresh.json()["call"]) == (
        "Miss from cloudfront",
        other.json()["call"] + 1,
    ), "the path's answers go, whatever their query strings"
    assert cdn.get("/prices/p2", query={"currency": "EUR", "cc": "max-age=50"}).header("X-Cache") == (
        "Hit from cloudfront"
    ), "another path stays"
    client.create_invalidation(DistributionId=cdn.id, InvalidationBatch=batch("/prices/*", reference="w"))
    assert cdn.get("/prices/p2", query={"currency": "EUR", "cc": "max-age=50"}).header("X-Cache") == (
        "Miss from cloudfront"
    ), "a wildcard at the end takes everything under it"

    got = client.get_invalidation(DistributionId=cdn.id, Id=made["Invalidation"]["Id"])["Invalidation"]
    assert (got["Status"], got["InvalidationBatch"]["Paths"]["Items"]) == ("Completed", ["/prices/p1"])
    again = client.create_invalidation(
        DistributionId=cdn.id, InvalidationBatch=batch("/prices/p1", reference="a")
    )
    assert again["Invalidation"]["Id"] == made["Invalidation"]["Id"], "one CallerReference, one invalidation"
    listed = client.list_invalidations(DistributionId=cdn.id)["InvalidationList"]
    assert made["Invalidation"]["Id"] in [i["Id"] for i in listed["Items"]]

    with pytest.raises(ClientError) as reused:
        client.create_invalidation(DistributionId=cdn.id, InvalidationBatch=batch("/other", reference="a"))
    assert reused.value.response["Error"]["Code"] == "InvalidationBatchAlreadyExists"
    with pytest.raises(ClientError) as unknown:
        client.create_invalidation(DistributionId="ENOSUCHDIST", InvalidationBatch=batch("/*"))
    assert unknown.value.response["Error"]["Code"] == "NoSuchDistribution"
    with pytest.raises(ClientError) as miscounted:
        client.create_invalidation(
            DistributionId=cdn.id,
            InvalidationBatch={"Paths": {"Quantity": 2, "Items": ["/a"]}, "CallerReference": "b"},
        )
    assert miscounted.value.response["Error"]["Code"] == "InconsistentQuantities"


def test_the_cache_key_is_the_policys_and_the_ttl_the_origins_within_its_bounds(cloud, cdn):
    def get(currency="EUR", language="en", cc="max-age=30", ignored="x", **headers):
        return cdn.get(
            "/k",
            query={"currency": currency, "cc": cc, "ignored": ignored},
            headers={"Accept-Language": language, **headers},
        )

    first = get()
    assert first.json()["query"]["ignored"] == "x", "forwarded by the origin request policy"
    hit = get(ignored="y", **{"X-Other": "y"})
    assert (hit.header("X-Cache"), hit.json()["call"]) == ("Hit from cloudfront", first.json()["call"]), (
        "what is forwarded but not in the key does not split the cache"
    )
    assert get(currency="USD").header("X-Cache") == "Miss from cloudfront"
    assert get(language="de").header("X-Cache") == "Miss from cloudfront"
    cloud.advance(31)
    assert get().header("X-Cache") == "Miss from cloudfront", "max-age=30 has passed"
    assert get(cc="max-age=500").header("X-Cache") == "Miss from cloudfront"
    cloud.advance(101)
    assert get(cc="max-age=500").header("X-Cache") == "Miss from cloudfront", "capped at the max TTL (100 s)"
    get(cc="public")
    assert get(cc="public").header("X-Cache") == "Miss from cloudfront", "no max-age: the default TTL, 0"
    for refusal in ("no-store", "private, max-age=60"):
        get(cc=refusal)
        assert get(cc=refusal).header("X-Cache") == "Miss from cloudfront", refusal
    post = cdn.request("POST", "/k", query={"cc": "max-age=60"})
    assert cdn.request("POST", "/k", query={"cc": "max-age=60"}).json()["call"] == post.json()["call"] + 1


def test_authorization_in_the_key_reaches_the_origin_and_separates_the_answers(cloud, cdn):
    alice = cdn.get("/me", query={"cc": "max-age=60"}, headers={"Authorization": "Bearer alice"})
    assert alice.json()["headers"]["authorization"] == "Bearer alice"
    bob = cdn.get("/me", query={"cc": "max-age=60"}, headers={"Authorization": "Bearer bob"})
    assert (bob.header("X-Cache"), bob.json()["headers"]["authorization"]) == (
        "Miss from cloudfront",
        "Bearer bob",
    )


@pytest.mark.parametrize("path", ["index.html", "/img/*.png", "/*/index.html"])
def test_a_path_not_starting_with_a_slash_or_with_an_inner_wildcard_is_refused(cloud, path):
    with pytest.raises(ClientError) as refused:
        cloud.client("cloudfront").create_invalidation(
            DistributionId=cloud.distribution().id, InvalidationBatch=batch(path, reference=path)
        )
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert path in refused.value.response["Error"]["Message"]
    assert path_problem("/img/*") is None and path_problem("/*") is None
    with pytest.raises(ValueError):
        cloud.cloudfront.invalidate(cloud.distribution().id, [path])


def test_invalidation_needs_the_distribution_in_the_callers_policy(cloud):
    cdn = cloud.distribution()
    role = cloud.function("Backend").role_arn
    with pytest.raises(ClientError) as denied:
        cloud.client_as(role, "cloudfront", "backend").create_invalidation(
            DistributionId=cdn.id, InvalidationBatch=batch("/*", reference="denied")
        )
    assert denied.value.response["Error"]["Code"].startswith("AccessDenied")
    assert f"distribution/{cdn.id}" in denied.value.response["Error"]["Message"]


def test_authorization_reaches_the_origin_only_where_no_answer_is_cached_without_it(cdn):
    uncached = cdn.get("/uncached/echo", headers={"Authorization": "Bearer alice"}).json()
    assert uncached["headers"]["authorization"] == "Bearer alice", "CachingDisabled: the policy forwards it"
    stripped = cdn.get("/unkeyed/echo", headers={"Authorization": "Bearer alice", "X-Trace": "t"}).json()
    assert "authorization" not in stripped["headers"], (
        "a caching behavior whose key lacks it strips it, so no one's answer is cached for all"
    )
    assert stripped["headers"]["x-trace"] == "t", "the origin request policy forwards the rest"


def test_the_secret_origin_header_is_read_from_secrets_manager(cloud, cdn):
    secret = cloud.client("secretsmanager").get_secret_value(SecretId=cloud.outputs["SecretArn"])[
        "SecretString"
    ]
    seen = cdn.get("/uncached/echo").json()
    assert seen["secret"] == secret and "{{resolve" not in secret


def test_an_origin_request_policy_forwarding_authorization_is_refused(cloud):
    config = {
        "Name": "leaky",
        "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["authorization"]},
        "CookiesConfig": {"CookieBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "none"},
    }
    with pytest.raises(TemplateError, match="cannot forward the Authorization header"):
        cloud.cloudfront.add_policy("origin-request", "Leaky", config)
