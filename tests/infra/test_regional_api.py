"""What makes the regional API behind CloudFront: a cache key of exactly what the API varies by, an
origin request policy without Host, a secret origin header from Secrets Manager, the stage as origin
path, and a function that may read one table's items and one secret."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, Stack
from aws_cdk.assertions import Template

from tests.infra.conftest import properties_of, resources_of

pytestmark = pytest.mark.infra
STACK = "RegionalApiStack"


@pytest.fixture(scope="module")
def template(templates):
    return templates[STACK]


@pytest.fixture(scope="module")
def behavior(template):
    [props] = properties_of(template, "AWS::CloudFront::Distribution").values()
    assert "CacheBehaviors" not in props["DistributionConfig"], "one behavior: the API"
    return props["DistributionConfig"]["DefaultCacheBehavior"], props["DistributionConfig"]


def test_the_cache_key_is_currency_language_and_token_and_the_api_chooses_the_ttl(template, behavior):
    [(policy_id, policy)] = properties_of(template, "AWS::CloudFront::CachePolicy").items()
    config = policy["CachePolicyConfig"]
    keys = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert keys["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["currency"]}
    assert keys["HeadersConfig"] == {
        "HeaderBehavior": "whitelist",
        "Headers": ["Accept-Language", "Authorization"],
    }
    assert keys["CookiesConfig"] == {"CookieBehavior": "none"}
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, 0, 3600), (
        "no-store is honoured, silence is not cached, nothing is kept past an hour"
    )
    assert behavior[0]["CachePolicyId"] == {"Ref": policy_id}
    assert behavior[0]["CachedMethods"] == ["GET", "HEAD"]
    assert {"GET", "POST", "OPTIONS"} <= set(behavior[0]["AllowedMethods"])


def test_the_origin_request_policy_adds_content_type_only_never_host(template, behavior):
    [(policy_id, policy)] = properties_of(template, "AWS::CloudFront::OriginRequestPolicy").items()
    config = policy["OriginRequestPolicyConfig"]
    assert config["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Content-Type"]}
    assert config["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert config["CookiesConfig"] == {"CookieBehavior": "none"}
    assert behavior[0]["OriginRequestPolicyId"] == {"Ref": policy_id}


def test_the_language_is_normalized_at_the_edge_before_the_cache_key(template, behavior):
    [(function_id, function)] = properties_of(template, "AWS::CloudFront::Function").items()
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0" and function["AutoPublish"] is True
    assert '["en", "de"]' in function["FunctionCode"]
    [association] = behavior[0]["FunctionAssociations"]
    assert association == {
        "EventType": "viewer-request",
        "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]},
    }


def test_the_origin_is_the_stage_with_a_secret_header_from_secrets_manager(template, behavior):
    [origin] = behavior[1]["Origins"]
    [stage] = resources_of(template, "AWS::ApiGateway::Stage")
    path = origin["OriginPath"]["Fn::Join"][1]
    assert (
        path[0] == "/"
        and path[1]["Fn::Select"][0] == 3
        and {"Ref": stage} in json.loads(json.dumps(path[1]["Fn::Select"][1]["Fn::Split"][1]["Fn::Join"][1]))
    ), "the stage is the origin path: /products reaches /prod/products"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    [header] = origin["OriginCustomHeaders"]
    [secret_id] = resources_of(template, "AWS::SecretsManager::Secret")
    assert header["HeaderName"] == "x-origin-verify"
    assert header["HeaderValue"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]
    }
    assert behavior[0]["ViewerProtocolPolicy"] == "https-only"


def test_the_api_is_regional(template):
    [api] = properties_of(template, "AWS::ApiGateway::RestApi").values()
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}, "CloudFront is the edge; no second one"


def test_the_function_reads_one_tables_items_and_one_secret(template):
    [secret_id] = resources_of(template, "AWS::SecretsManager::Secret")
    [table_id] = resources_of(template, "AWS::DynamoDB::Table")
    [policy] = [
        p
        for i, p in properties_of(template, "AWS::IAM::Policy").items()
        if i.startswith("PatternCatalogRoleDefaultPolicy")
    ]
    statements = {
        json.dumps(s["Action"]): s["Resource"]
        for s in policy["PolicyDocument"]["Statement"]
        if not any(
            a.startswith(("xray:", "logs:"))
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        )
    }
    assert statements == {
        '"dynamodb:GetItem"': {"Fn::GetAtt": [table_id, "Arn"]},
        '"secretsmanager:GetSecretValue"': {"Ref": secret_id},
    }


def test_bad_props_are_refused_before_synth():
    from aws_cdk import App

    from patterns.regional_api import RegionalApi

    stack = Stack(App(), "Refusals")
    for kwargs, message in (
        ({"currencies": {"USD": "1.1", "EUR": "1"}}, "the first \\(the base\\) to '1'"),
        ({"currencies": {"eur": "1"}}, "ISO codes"),
        ({"languages": ["EN"]}, "lower-case"),
        ({"edge_max_age": Duration.hours(2)}, "at most max_ttl"),
        # The function reads each rate as a Decimal at init: one it cannot read fails every request.
        ({"currencies": {"EUR": "1", "USD": "abc"}}, "USD: 'abc' is not a positive rate"),
        ({"currencies": {"EUR": "1", "USD": "-1.08"}}, "USD: '-1.08' is not a positive rate"),
        ({"currencies": {"EUR": "1", "USD": "NaN"}}, "USD: 'NaN' is not a positive rate"),
    ):
        with pytest.raises(ValueError, match=message):
            RegionalApi(stack, f"Api{len(stack.node.children)}", **kwargs)


def test_a_rotation_reaches_the_distribution_by_naming_the_secrets_new_version():
    """CloudFormation re-reads a dynamic reference only when the reference itself changes: a stack
    update after a new secret value changes nothing unless it names the new version."""
    from aws_cdk import App

    from patterns.regional_api import RegionalApi

    stack = Stack(App(), "Rotated")
    version = "6b2f0e0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    pinned = RegionalApi(stack, "Pinned", origin_secret_version_id=version)
    with pytest.raises(ValueError, match="origin_secret_version_id"):
        RegionalApi(stack, "Bad", origin_secret_version_id="latest")
    [distribution] = properties_of(
        Template.from_stack(stack).to_json(), "AWS::CloudFront::Distribution"
    ).values()
    [origin] = distribution["DistributionConfig"]["Origins"]
    [header] = origin["OriginCustomHeaders"]
    secret = pinned.node.find_child("OriginSecret").node.default_child
    assert header["HeaderValue"] == {
        "Fn::Join": [
            "",
            [
                "{{resolve:secretsmanager:",
                {"Ref": stack.get_logical_id(secret)},
                f":SecretString:::{version}}}}}",
            ],
        ]
    }
