"""What makes the proxied front end: one distribution with /api/* to the API (prefix dropped by a
function, the stage as origin path, caching off, everything but Host forwarded) and the rest to a
bucket only it reads; no custom error responses; deep links by a function on the bucket's behavior."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import properties_of, resources_of

pytestmark = pytest.mark.infra
STACK = "ProxiedFrontendStack"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def template(templates):
    return templates[STACK]


@pytest.fixture(scope="module")
def config(template):
    [props] = properties_of(template, "AWS::CloudFront::Distribution").values()
    return props["DistributionConfig"]


def function_code(template, association) -> str:
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    return properties_of(template, "AWS::CloudFront::Function")[function_id]["FunctionCode"]


def test_no_custom_error_response_can_rewrite_the_apis_answers(config):
    assert "CustomErrorResponses" not in config


def test_api_paths_go_to_the_stage_with_the_prefix_dropped_uncached_without_host(template, config):
    [api] = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert (api["CachePolicyId"], api["OriginRequestPolicyId"]) == (
        CACHING_DISABLED,
        ALL_VIEWER_EXCEPT_HOST_HEADER,
    )
    assert {"GET", "POST", "PUT", "DELETE"} <= set(api["AllowedMethods"])
    [association] = api["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert "request.uri.substring(4)" in function_code(template, association), "drops /api"
    origin = next(o for o in config["Origins"] if o["Id"] == api["TargetOriginId"])
    [stage] = resources_of(template, "AWS::ApiGateway::Stage")
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert {"Ref": stage} in json.loads(
        json.dumps(origin["OriginPath"]["Fn::Join"][1][1]["Fn::Select"][1]["Fn::Split"][1]["Fn::Join"][1])
    ), "the origin path is the stage: /api/items reaches /prod/items"


def test_the_page_comes_from_a_bucket_only_this_distribution_reads(template, config):
    default = config["DefaultCacheBehavior"]
    s3_origin = next(o for o in config["Origins"] if "S3OriginConfig" in o)
    assert default["TargetOriginId"] == s3_origin["Id"] and "OriginAccessControlId" in s3_origin
    [association] = default["FunctionAssociations"]
    assert "request.uri = '/index.html'" in function_code(template, association)
    policies = properties_of(template, "AWS::S3::BucketPolicy").values()
    allows = [s for p in policies for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    [read] = [s for s in allows if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    [distribution] = resources_of(template, "AWS::CloudFront::Distribution")
    assert read["Action"] == "s3:GetObject"
    assert {"Ref": distribution} in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]


def test_error_responses_and_a_bad_prefix_are_refused_before_synth():
    from aws_cdk import App, Stack

    from patterns.proxied_frontend import ProxiedFrontend

    stack = Stack(App(), "Refusals")
    with pytest.raises(ValueError, match="error_responses"):
        ProxiedFrontend(stack, "A", distribution_props={"error_responses": []})
    with pytest.raises(ValueError, match="api_prefix"):
        ProxiedFrontend(stack, "B", api_prefix="/api/v1")
