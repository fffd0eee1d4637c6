"""CloudFront on a purpose-built stack: a private bucket behind origin access control, a REST API
under ``/api/*``, CloudFront Functions on viewer request and response, a response headers policy,
the edge cache on the virtual clock, and the failure paths (denied reads, missing objects, a
throwing function, a method the behavior does not allow).
"""

from __future__ import annotations

import http.client
import json
import logging
from urllib.parse import urlsplit

import pytest
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3

from localcloud.errors import ResourceNotFound, TemplateError
from localcloud.lib.http import HttpRequest
from localcloud.server import LocalServer
from tests.localcloud.conftest import FUNCTIONS, python_function

pytestmark = pytest.mark.localcloud

PAGE = b"<html><body>home</body></html>"


def build_site(stack: Stack) -> None:
    bucket = s3.Bucket(stack, "Site")
    api = apigateway.LambdaRestApi(
        stack, "Api", handler=python_function(stack, "Backend", "cloudfront_api"), cloud_watch_role=False
    )
    viewer_request = cloudfront.Function(
        stack,
        "Rewrite",
        code=cloudfront.FunctionCode.from_file(
            file_path=str(FUNCTIONS / "cloudfront_edge" / "viewer_request.js")
        ),
        runtime=cloudfront.FunctionRuntime.JS_2_0,
    )
    viewer_response = cloudfront.Function(
        stack,
        "Mark",
        code=cloudfront.FunctionCode.from_file(
            file_path=str(FUNCTIONS / "cloudfront_edge" / "viewer_response.js")
        ),
        runtime=cloudfront.FunctionRuntime.JS_1_0,
    )
    headers = cloudfront.ResponseHeadersPolicy(
        stack,
        "Headers",
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=Duration.days(365), include_subdomains=True, override=True
            ),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(
                frame_option=cloudfront.HeadersFrameOption.DENY, override=True
            ),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
            ),
            xss_protection=cloudfront.ResponseHeadersXSSProtection(
                protection=True, mode_block=True, override=True
            ),
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy="default-src 'self'", override=True
            ),
        ),
        custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
            custom_headers=[
                cloudfront.ResponseCustomHeader(header="X-Served-By", value="edge", override=True),
                cloudfront.ResponseCustomHeader(header="Cache-Control", value="no-cache", override=False),
            ]
        ),
        cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
            access_control_allow_credentials=False,
            access_control_allow_headers=["Content-Type"],
            access_control_allow_methods=["GET", "POST"],
            access_control_allow_origins=["https://shop.example.com"],
            access_control_max_age=Duration.seconds(600),
            origin_override=True,
        ),
    )
    site_origin = origins.S3BucketOrigin.with_origin_access_control(bucket)
    site = cloudfront.Distribution(
        stack,
        "Cdn",
        default_root_object="index.html",
        default_behavior=cloudfront.BehaviorOptions(
            origin=site_origin,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
            response_headers_policy=headers,
        ),
        additional_behaviors={
            "/api/*": cloudfront.BehaviorOptions(
                origin=origins.RestApiOrigin(api),
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    ),
                    cloudfront.FunctionAssociation(
                        function=viewer_response, event_type=cloudfront.FunctionEventType.VIEWER_RESPONSE
                    ),
                ],
            ),
            "/raw/*": cloudfront.BehaviorOptions(
                origin=origins.RestApiOrigin(api),
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER,
            ),
        },
    )
    cloudfront.Distribution(
        stack,
        "Spa",
        default_root_object="index.html",
        default_behavior=cloudfront.BehaviorOptions(
            origin=site_origin,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=viewer_response, event_type=cloudfront.FunctionEventType.VIEWER_RESPONSE
                )
            ],
        ),
        error_responses=[
            cloudfront.ErrorResponse(
                http_status=403,
                response_http_status=200,
                response_page_path="/index.html",
                ttl=Duration.seconds(0),
            )
        ],
    )
    CfnOutput(stack, "BucketName", value=bucket.bucket_name)
    CfnOutput(stack, "CdnArn", value=site.distribution_arn)


@pytest.fixture
def cloud(synth, run):
    cloud = run(synth("CloudFrontSite", build_site))
    s3_client = cloud.client("s3")
    bucket = cloud.outputs["BucketName"]
    s3_client.put_object(Bucket=bucket, Key="index.html", Body=PAGE, ContentType="text/html")
    s3_client.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs", ContentType="text/html")
    s3_client.put_object(Bucket=bucket, Key="app.js", Body=b"run()", ContentType="application/javascript")
    return cloud


def policy_statements(cloud) -> list[dict]:
    return json.loads(cloud.client("s3").get_bucket_policy(Bucket=cloud.outputs["BucketName"])["Policy"])[
        "Statement"
    ]


def put_policy(cloud, statements: list[dict]) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    cloud.client("s3").put_bucket_policy(Bucket=cloud.outputs["BucketName"], Policy=json.dumps(document))


def test_the_root_is_the_default_root_object_read_through_origin_access_control(cloud):
    cdn = cloud.distribution("Cdn")

    response = cdn.get("/")

    assert response.status == 200
    assert response.body == PAGE
    assert response.header("Content-Type") == "text/html"
    assert response.header("X-Cache") == "Miss from cloudfront"
    assert response.header("Via") == f"1.1 {cdn.domain_name} (CloudFront)"
    assert cdn.get("/app.js").header("Content-Type") == "application/javascript"


def test_a_viewer_request_function_rewrites_the_uri_and_can_answer_itself(cloud):
    cdn = cloud.distribution("Cdn")

    assert cdn.get("/docs/").body == b"docs"
    redirect = cdn.get("/old")
    assert redirect.status == 301
    assert redirect.header("location") == "/new"
    assert redirect.header("X-Cache") == "FunctionGeneratedResponse from cloudfront"
    assert redirect.header("Strict-Transport-Security") is None  # the policy is for origin and cache answers


def test_a_throwing_function_gives_503(cloud, caplog):
    with caplog.at_level(logging.INFO, logger="localcloud.cloudfront"):
        response = cloud.distribution("Cdn").get("/boom")

    assert response.status == 503
    assert response.header("X-Cache") == "FunctionExecutionError from cloudfront"
    assert "the function failed on purpose" in caplog.text


def test_api_paths_reach_the_rest_api_with_the_stage_as_origin_path(cloud):
    cdn = cloud.distribution("Cdn")

    response = cdn.request("POST", "/api/orders", query={"page": "2"}, json={"sku": "A1"})

    assert response.status == 200
    seen = response.json()
    assert (seen["method"], seen["path"], seen["stage"], seen["query"]) == (
        "POST",
        "/api/orders",
        "prod",
        {"page": "2"},
    )
    assert seen["headers"]["x-edge-function"] == "viewer-request"
    assert seen["headers"]["host"].endswith(".execute-api.us-east-1.amazonaws.com")
    assert response.header("x-viewer-response") == "seen 200"
    assert response.header("X-Cache") == "Miss from cloudfront"
    assert cdn.get("/api/orders").header("X-Cache") == "Miss from cloudfront"  # caching disabled


def test_forwarding_the_viewers_host_to_api_gateway_is_forbidden(cloud, caplog):
    with caplog.at_level(logging.INFO, logger="localcloud.cloudfront"):
        response = cloud.distribution("Cdn").get("/raw/anything")

    assert response.status == 403
    assert response.json() == {"message": "Forbidden"}
    assert "AllViewerExceptHostHeader" in caplog.text


def test_the_response_headers_policy_adds_security_custom_and_cors_headers(cloud):
    cdn = cloud.distribution("Cdn")

    plain = cdn.get("/index.html")
    cross = cdn.get("/index.html", headers={"Origin": "https://shop.example.com"})
    stranger = cdn.get("/index.html", headers={"Origin": "https://evil.example.com"})
    preflight = cdn.request(
        "OPTIONS",
        "/api/orders",
        headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
    )

    assert plain.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    assert plain.header("X-Content-Type-Options") == "nosniff"
    assert plain.header("X-Frame-Options") == "DENY"
    assert plain.header("Referrer-Policy") == "no-referrer"
    assert plain.header("X-XSS-Protection") == "1; mode=block"
    assert plain.header("Content-Security-Policy") == "default-src 'self'"
    assert plain.header("X-Served-By") == "edge"
    assert plain.header("Cache-Control") == "no-cache"
    assert plain.header("Access-Control-Allow-Origin") is None
    assert cross.header("Access-Control-Allow-Origin") == "https://shop.example.com"
    assert stranger.header("Access-Control-Allow-Origin") is None
    assert preflight.header("Access-Control-Allow-Origin") is None  # the /api/* behavior has no policy


def test_the_cache_serves_hits_until_an_invalidation_or_the_ttl(cloud):
    cdn = cloud.distribution("Cdn")
    bucket = cloud.outputs["BucketName"]
    assert cdn.get("/app.js").body == b"run()"
    cloud.client("s3").put_object(
        Bucket=bucket, Key="app.js", Body=b"run(2)", ContentType="application/javascript"
    )

    hit = cdn.get("/app.js")
    assert (hit.body, hit.header("X-Cache")) == (b"run()", "Hit from cloudfront")
    assert cdn.invalidate("/app.*") == 1
    assert cdn.get("/app.js").body == b"run(2)"
    cloud.client("s3").put_object(
        Bucket=bucket, Key="app.js", Body=b"run(3)", ContentType="application/javascript"
    )
    cloud.advance(86400)  # CachingOptimized: a day without Cache-Control from the origin
    assert cdn.get("/app.js").body == b"run(3)"


def test_a_missing_object_is_403_unless_the_policy_lets_cloudfront_list_the_bucket(cloud):
    cdn = cloud.distribution("Cdn")
    denied = cdn.get("/missing.html")
    assert denied.status == 403
    assert b"<Code>AccessDenied</Code>" in denied.body

    statements = policy_statements(cloud)
    listing = {
        **next(s for s in statements if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}),
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{cloud.outputs['BucketName']}",
    }
    put_policy(cloud, [*statements, listing])
    cdn.invalidate("/*")

    missing = cdn.get("/missing.html")
    assert missing.status == 404
    assert b"<Code>NoSuchKey</Code>" in missing.body


def test_a_bucket_policy_without_this_distribution_denies_the_read(cloud, caplog):
    put_policy(cloud, [s for s in policy_statements(cloud) if "AWS:SourceArn" not in json.dumps(s)])

    with caplog.at_level(logging.INFO, logger="localcloud.cloudfront"):
        response = cloud.distribution("Cdn").get("/index.html")

    assert response.status == 403
    assert b"<Code>AccessDenied</Code>" in response.body
    assert f"cloudfront.amazonaws.com for {cloud.outputs['CdnArn']}" in caplog.text


def test_a_tls_only_deny_does_not_stop_cloudfront_which_reads_over_tls(cloud):
    bucket_arn = f"arn:aws:s3:::{cloud.outputs['BucketName']}"
    tls_only = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    everything = {**tls_only, "Condition": {}}
    put_policy(cloud, [*policy_statements(cloud), tls_only])
    assert cloud.distribution("Cdn").get("/index.html").status == 200

    put_policy(cloud, [*policy_statements(cloud), everything])
    assert cloud.distribution("Spa").get("/index.html").status == 403  # an explicit deny wins


def test_a_custom_error_response_serves_the_spa_page_for_unknown_paths(cloud):
    spa = cloud.distribution("Spa")

    response = spa.get("/orders/42")

    assert response.status == 200
    assert response.body == PAGE
    assert response.header("X-Cache") == "Error from cloudfront"
    assert cloud.distribution("Cdn").get("/orders/42").status == 403  # the other distribution has none
    assert response.header("x-viewer-response") is None, (
        "the origin answered 403: CloudFront runs no viewer-response function, custom error page or not"
    )
    assert spa.get("/index.html").header("x-viewer-response") == "seen 200"


def test_a_method_the_behavior_does_not_allow_is_refused(cloud):
    response = cloud.distribution("Cdn").request("POST", "/index.html", body="x")

    assert response.status == 403
    assert b"not configured to allow the HTTP request method" in response.body


def test_distributions_are_found_by_name_and_dispatch_never_raises(cloud):
    with pytest.raises(ResourceNotFound, match="names 2 of the distributions"):
        cloud.distribution()
    cdn = cloud.distribution("Cdn")
    assert cloud.distribution(cdn.id).id == cdn.id
    assert [d.logical_id for d in cloud.cloudfront.distributions()] == [
        cdn.distribution.logical_id,
        cloud.distribution("Spa").distribution.logical_id,
    ]
    assert cloud.cloudfront.dispatch("ENOSUCHDIST", HttpRequest.build("GET", "/")).status == 403
    assert cloud.trace.find(kind="request", target=f"cloudfront:{cdn.id}") == []
    cdn.get("/")
    assert cloud.trace.find(kind="request", target=f"cloudfront:{cdn.id}")[0].outcome == "200"


def test_an_unpublished_function_cannot_be_associated(synth, run):
    def build(stack: Stack) -> None:
        draft = cloudfront.CfnFunction(
            stack,
            "Draft",
            name="draft",
            auto_publish=False,
            function_code="function handler(event) { return event.request; }",
            function_config=cloudfront.CfnFunction.FunctionConfigProperty(
                comment="draft", runtime="cloudfront-js-1.0"
            ),
        )
        cloudfront.Distribution(
            stack,
            "Cdn",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin("example.com"),
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=cloudfront.Function.from_function_attributes(
                            stack, "DraftRef", function_arn=draft.attr_function_arn, function_name="draft"
                        ),
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
        )

    with pytest.raises(TemplateError, match="function draft is not published"):
        run(synth("CloudFrontDraft", build))


def build_failover(stack: Stack) -> None:
    """An origin group (an OAI bucket, then an OAC bucket on 403/404), a cache policy keyed on ``v``,
    and AWS's managed security headers policy."""
    primary, fallback = s3.Bucket(stack, "Primary"), s3.Bucket(stack, "Fallback")
    versioned = cloudfront.CachePolicy(
        stack,
        "Versioned",
        min_ttl=Duration.seconds(0),
        default_ttl=Duration.seconds(60),
        max_ttl=Duration.seconds(300),
        query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list("v"),
    )
    cloudfront.Distribution(
        stack,
        "Cdn",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.OriginGroup(
                primary_origin=origins.S3BucketOrigin.with_origin_access_identity(primary),
                fallback_origin=origins.S3BucketOrigin.with_origin_access_control(fallback),
                fallback_status_codes=[403, 404],
            ),
            cache_policy=versioned,
            response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        ),
    )
    CfnOutput(stack, "PrimaryBucket", value=primary.bucket_name)
    CfnOutput(stack, "FallbackBucket", value=fallback.bucket_name)


@pytest.fixture
def failover(synth, run):
    return run(synth("CloudFrontFailover", build_failover))


def test_an_origin_group_fails_over_and_an_access_identity_reads_its_bucket(failover):
    s3_client = failover.client("s3")
    s3_client.put_object(
        Bucket=failover.outputs["PrimaryBucket"], Key="a.txt", Body=b"primary", ContentType="text/plain"
    )
    s3_client.put_object(
        Bucket=failover.outputs["FallbackBucket"], Key="b.txt", Body=b"fallback", ContentType="text/plain"
    )
    cdn = failover.distribution()

    assert cdn.get("/a.txt").body == b"primary"
    assert cdn.get("/b.txt").body == b"fallback"
    assert cdn.get("/c.txt").status == 403
    assert cdn.get("/a.txt").header("X-Frame-Options") == "SAMEORIGIN"  # the managed policy


def test_the_cache_key_holds_only_what_the_cache_policy_names_and_the_origin_sets_the_ttl(failover):
    bucket = failover.outputs["PrimaryBucket"]
    s3_client = failover.client("s3")
    s3_client.put_object(Bucket=bucket, Key="app.js", Body=b"v1", CacheControl="max-age=10")
    cdn = failover.distribution()
    assert cdn.get("/app.js", query={"v": "1"}).body == b"v1"
    s3_client.put_object(Bucket=bucket, Key="app.js", Body=b"v2", CacheControl="max-age=10")

    assert cdn.get("/app.js", query={"v": "1", "utm": "mail"}).body == b"v1"  # utm is not in the key
    assert cdn.get("/app.js", query={"v": "2"}).body == b"v2"
    failover.advance(10)
    assert cdn.get("/app.js", query={"v": "1"}).body == b"v2"  # max-age=10 from the object


def test_the_localhost_server_serves_each_distribution(cloud):
    with LocalServer(cloud, real_time=False) as server:
        server.start()
        [door] = [d for d in server.front_doors if d.resource_id == cloud.distribution("Cdn").id]
        connection = http.client.HTTPConnection("127.0.0.1", urlsplit(door.url).port, timeout=10)
        try:
            connection.request("GET", "/docs/")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"docs")
            assert response.getheader("X-Frame-Options") == "DENY"
        finally:
            connection.close()


def test_a_viewer_that_has_the_object_gets_304_from_a_caching_behavior(cloud):
    cdn = cloud.distribution("Cdn")
    first = cdn.get("/app.js")
    etag, modified = first.header("ETag"), first.header("Last-Modified")

    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
    ):
        answer = cdn.get("/app.js", headers=headers)
        assert (answer.status, answer.body, answer.header("ETag")) == (304, b"", etag), headers
        assert answer.header("Content-Type") is None and answer.header("Via") is not None
    for headers in (
        {"If-None-Match": '"other"'},
        {"If-None-Match": '"other"', "If-Modified-Since": modified},
        {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
    ):
        assert cdn.get("/app.js", headers=headers).status == 200, headers
    assert cdn.request("HEAD", "/app.js", headers={"If-None-Match": etag}).status == 304


def test_a_conditional_request_for_a_custom_error_page_or_an_uncached_path_gets_the_whole_answer(cloud):
    spa = cloud.distribution("Spa")
    page = spa.get("/orders/42")
    assert page.status == 200
    assert spa.get("/orders/42", headers={"If-None-Match": page.header("ETag")}).status == 200
    cdn = cloud.distribution("Cdn")
    assert cdn.get("/api/orders", headers={"If-None-Match": "*"}).status == 200, "CachingDisabled forwards it"
