"""What makes the simple web service: a throttled, validated API on one function scoped to one table."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import assertions_template, properties_of, resources_of, statements_of, unbounded

pytestmark = pytest.mark.infra
STACK = "SimpleWebServiceStack"


@pytest.fixture(scope="module")
def template(templates):
    return assertions_template(templates, STACK)


def test_every_route_reaches_the_function_through_a_proxy_integration(template):
    for method in ("GET", "POST", "PUT", "DELETE"):
        template.has_resource_properties(
            "AWS::ApiGateway::Method",
            {"HttpMethod": method, "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST"}},
        )
    assert len(template.find_resources("AWS::ApiGateway::Method")) == 5


def test_bodies_are_validated_by_api_gateway_before_the_function_runs(template, templates):
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Model",
        {
            "ContentType": "application/json",
            "Schema": Match.object_like({"required": ["name", "price_cents"]}),
        },
    )
    methods = resources_of(templates[STACK], "AWS::ApiGateway::Method").values()
    with_body = [m["Properties"] for m in methods if m["Properties"]["HttpMethod"] in ("POST", "PUT")]
    assert len(with_body) == 2
    assert all("RequestValidatorId" in m and "RequestModels" in m for m in with_body)
    [model] = properties_of(templates[STACK], "AWS::ApiGateway::Model").values()
    assert unbounded(model["Schema"]) == []


def test_stage_throttles_at_the_construct_defaults(template):
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"MethodSettings": [Match.object_like({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 50})]},
    )


def test_function_may_use_only_its_table_with_only_the_calls_it_makes(templates):
    template = templates[STACK]
    [table_id] = resources_of(template, "AWS::DynamoDB::Table")
    dynamodb_statements = [
        s for s in statements_of(template) if any(a.startswith("dynamodb:") for a in s["Action"])
    ]
    assert dynamodb_statements == [
        {
            "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        }
    ]


def test_table_is_on_demand_encrypted_and_recoverable(template):
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_function_has_house_defaults(template):
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogGroup": Match.any_value()},
            "Layers": Match.any_value(),
            "Environment": {"Variables": Match.object_like({"TABLE_NAME": Match.any_value()})},
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_destroy_removes_everything_the_stack_made(templates):
    """The API Gateway logging role is the account stack's (tests/infra/test_api_gateway_account.py)."""
    resources = templates[STACK]["Resources"]
    assert {r.get("DeletionPolicy", "Delete") for r in resources.values()} == {"Delete"}
    assert "AWS::ApiGateway::Account" not in {r["Type"] for r in resources.values()}
