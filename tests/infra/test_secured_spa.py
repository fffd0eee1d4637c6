"""What makes the secured SPA: an SRP-only public client of a pool with a strict password policy,
every API method behind the Cognito authorizer, a function granted exactly its four item calls,
and the security headers on both behaviors, from a function and, identically, from a policy."""

from __future__ import annotations

import json

import pytest

from patterns.secured_spa import security_headers
from tests.infra.conftest import properties_of, resources_of

pytestmark = pytest.mark.infra
STACK = "SecuredSpaStack"
REGION_TOKEN = "https://cognito-idp.REGION.SUFFIX"


@pytest.fixture(scope="module")
def template(templates):
    return templates[STACK]


def joined(value) -> str:
    """An ``Fn::Join`` of the region and URL suffix, as the text it becomes (``REGION``, ``SUFFIX``)."""
    if isinstance(value, str):
        return value
    names = {"AWS::Region": "REGION", "AWS::URLSuffix": "SUFFIX"}
    return "".join(part if isinstance(part, str) else names[part["Ref"]] for part in value["Fn::Join"][1])


def test_the_page_client_is_public_srp_only_with_no_oauth_and_no_existence_hints(template):
    [client] = properties_of(template, "AWS::Cognito::UserPoolClient").values()
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in client and "AllowedOAuthFlows" not in client, "no hosted UI"
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert (client["IdTokenValidity"], client["RefreshTokenValidity"]) == (60, 1440), "minutes"
    assert not resources_of(template, "AWS::Cognito::UserPoolDomain")


def test_the_pool_takes_sign_ups_confirmed_by_email_under_a_strict_password_policy(template):
    [pool] = resources_of(template, "AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert props["AutoVerifiedAttributes"] == ["email"]
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 3,
    }
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}


def test_every_method_is_behind_the_cognito_authorizer_of_this_pool(template):
    [(authorizer_id, authorizer)] = properties_of(template, "AWS::ApiGateway::Authorizer").items()
    [pool_id] = resources_of(template, "AWS::Cognito::UserPool")
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    methods = properties_of(template, "AWS::ApiGateway::Method").values()
    assert sorted(m["HttpMethod"] for m in methods) == ["DELETE", "GET", "GET", "POST"], (
        "no OPTIONS: same origin"
    )
    assert all(
        (m["AuthorizationType"], m["AuthorizerId"]) == ("COGNITO_USER_POOLS", {"Ref": authorizer_id})
        for m in methods
    )


def test_the_function_may_call_exactly_its_four_item_actions_on_its_table(template):
    [table] = resources_of(template, "AWS::DynamoDB::Table")
    statements = [
        s
        for logical_id, p in properties_of(template, "AWS::IAM::Policy").items()
        if logical_id.startswith("PatternNotesFunction")
        for s in p["PolicyDocument"]["Statement"]
        if any(a.startswith("dynamodb:") for a in s["Action"])
    ]
    assert statements == [
        {
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "Arn"]},
        }
    ]
    key = properties_of(template, "AWS::DynamoDB::Table")[table]["KeySchema"]
    assert key == [{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}]


def test_both_behaviors_get_the_headers_from_the_function_and_the_same_from_the_policy(template):
    [config] = [
        p["DistributionConfig"] for p in properties_of(template, "AWS::CloudFront::Distribution").values()
    ]
    functions = properties_of(template, "AWS::CloudFront::Function")
    [headers_fn] = [k for k, p in functions.items() if "HEADERS" in joined(p["FunctionCode"])]
    [deep_links] = [k for k in functions if k != headers_fn]
    [policy_id] = resources_of(template, "AWS::CloudFront::ResponseHeadersPolicy")
    default, [api] = config["DefaultCacheBehavior"], config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    response_fn = {"EventType": "viewer-response", "FunctionARN": {"Fn::GetAtt": [headers_fn, "FunctionARN"]}}
    request_fn = {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [deep_links, "FunctionARN"]}}
    assert default["FunctionAssociations"] == [request_fn, response_fn]
    assert api["FunctionAssociations"] == [response_fn], "the API's paths are never rewritten"
    assert default["ResponseHeadersPolicyId"] == api["ResponseHeadersPolicyId"] == {"Ref": policy_id}
    assert "ErrorResponses" not in config, "deep links are rewritten, not error responses the function skips"

    expected = security_headers(REGION_TOKEN)
    code = joined(functions[headers_fn]["FunctionCode"])
    assert json.loads(code[code.index("{") : code.index("}") + 1]) == expected
    assert functions[headers_fn]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    security = properties_of(template, "AWS::CloudFront::ResponseHeadersPolicy")[policy_id][
        "ResponseHeadersPolicyConfig"
    ]["SecurityHeadersConfig"]
    policy = {
        "content-security-policy": joined(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]),
        "strict-transport-security": f"max-age={security['StrictTransportSecurity']['AccessControlMaxAgeSec']}; "
        "includeSubDomains" * security["StrictTransportSecurity"]["IncludeSubdomains"],
        "x-frame-options": security["FrameOptions"]["FrameOption"],
        "referrer-policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        "x-content-type-options": "nosniff" if "ContentTypeOptions" in security else None,
    }
    assert policy == expected, "the policy repeats the function's headers exactly"
    assert all(v.get("Override", True) for v in security.values() if isinstance(v, dict))


def test_the_deployment_role_reads_only_its_two_asset_objects(template):
    [policy] = [
        p
        for k, p in properties_of(template, "AWS::IAM::Policy").items()
        if k.startswith("PatternDeployPolicy")
    ]
    [get] = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "s3:GetObject"]
    assert len(get["Resource"]) == 2 and all(".zip" in json.dumps(r) for r in get["Resource"])
