"""What makes the gatekeeper: every method behind one cached TOKEN authorizer, and least privilege
between the authorizer, the admin API and the backend."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match

from patterns.gatekeeper import AUTHORIZATION_HEADER_PATTERN, Gatekeeper
from tests.infra.conftest import assertions_template, properties_of, resources_of, statements_of, unbounded

pytestmark = pytest.mark.infra
STACK = "GatekeeperStack"


@pytest.fixture(scope="module")
def template(templates):
    return assertions_template(templates, STACK)


def function_id(raw: dict, handler: str) -> str:
    [found] = [k for k, p in properties_of(raw, "AWS::Lambda::Function").items() if p["Handler"] == handler]
    return found


def role_of(raw: dict, handler: str) -> str:
    return raw["Resources"][function_id(raw, handler)]["Properties"]["Role"]["Fn::GetAtt"][0]


def data_grants(raw: dict, handler: str) -> list[dict]:
    return [
        {"Action": s["Action"], "Resource": s["Resource"]}
        for s in statements_of(raw, role_of(raw, handler))
        if any(a.startswith("dynamodb:") for a in s["Action"])
    ]


def table_id(raw: dict, partition_key: str) -> str:
    [found] = [
        k
        for k, p in properties_of(raw, "AWS::DynamoDB::Table").items()
        if p["KeySchema"][0]["AttributeName"] == partition_key
    ]
    return found


def test_one_token_authorizer_reads_the_authorization_header_and_caches_for_five_minutes(templates):
    raw = templates[STACK]
    [authorizer] = properties_of(raw, "AWS::ApiGateway::Authorizer").values()
    assert authorizer["Type"] == "TOKEN"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["AuthorizerResultTtlInSeconds"] == 300
    assert authorizer["IdentityValidationExpression"] == AUTHORIZATION_HEADER_PATTERN
    uri = str(authorizer["AuthorizerUri"])
    assert function_id(raw, "authorizer.handler") in uri


def test_every_method_admin_included_is_behind_the_authorizer(templates):
    raw = templates[STACK]
    [authorizer_id] = resources_of(raw, "AWS::ApiGateway::Authorizer")
    methods = properties_of(raw, "AWS::ApiGateway::Method").values()
    routes = sorted(m["HttpMethod"] for m in methods)
    assert routes == ["DELETE", "GET", "GET", "GET", "POST", "POST"]
    for method in methods:
        assert method["AuthorizationType"] == "CUSTOM"
        assert method["AuthorizerId"] == {"Ref": authorizer_id}


def test_only_api_gateway_through_this_authorizer_may_invoke_the_authorizer_function(templates):
    raw = templates[STACK]
    [authorizer_id] = resources_of(raw, "AWS::ApiGateway::Authorizer")
    permissions = [
        p
        for p in properties_of(raw, "AWS::Lambda::Permission").values()
        if p["FunctionName"] == {"Fn::GetAtt": [function_id(raw, "authorizer.handler"), "Arn"]}
    ]
    [permission] = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert {"Ref": authorizer_id} in permission["SourceArn"]["Fn::Join"][1]


def test_the_authorizer_may_only_read_principals_and_the_backend_never_sees_them(templates):
    raw = templates[STACK]
    principals = {"Fn::GetAtt": [table_id(raw, "principal_id"), "Arn"]}
    documents = {"Fn::GetAtt": [table_id(raw, "owner"), "Arn"]}
    assert data_grants(raw, "authorizer.handler") == [
        {"Action": ["dynamodb:GetItem"], "Resource": principals}
    ]
    assert data_grants(raw, "admin.handler") == [
        {"Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], "Resource": principals}
    ]
    assert data_grants(raw, "documents.handler") == [
        {"Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], "Resource": documents}
    ]


def test_the_admin_api_reports_the_same_cache_ttl_the_authorizer_uses(template):
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "admin.handler",
            "Environment": {"Variables": Match.object_like({"CACHE_TTL_SECONDS": "300"})},
        },
    )


def test_bodies_are_validated_before_the_admin_and_backend_functions_run(templates):
    raw = templates[STACK]
    posts = [m for m in properties_of(raw, "AWS::ApiGateway::Method").values() if m["HttpMethod"] == "POST"]
    assert len(posts) == 2 and all("RequestValidatorId" in m and "RequestModels" in m for m in posts)
    schemas = [p["Schema"] for p in properties_of(raw, "AWS::ApiGateway::Model").values()]
    [principal_model] = [s for s in schemas if s.get("title") == "NewPrincipal"]
    assert principal_model["required"] == ["principal_id", "permissions"]
    assert principal_model["properties"]["permissions"]["maxItems"] == 50
    assert principal_model["properties"]["permissions"]["items"]["maxLength"] == 200
    assert [problem for schema in schemas for problem in unbounded(schema)] == []


def test_principals_table_is_keyed_by_principal_encrypted_and_recoverable(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "principal_id", "KeyType": "HASH"}],
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_the_cache_ttl_is_bounded_by_what_api_gateway_allows():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Ttl")
    with pytest.raises(ValueError, match="results_cache_ttl must be from 0 to 3600 seconds"):
        Gatekeeper(stack, "TooLong", results_cache_ttl=Duration.hours(2))
    uncached = Gatekeeper(stack, "Uncached", results_cache_ttl=Duration.seconds(0))
    assert uncached.results_cache_ttl.to_seconds() == 0
