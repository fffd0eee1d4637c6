"""What makes the aggregator: one API route, one function that may invoke exactly its services, a budget
shorter than its timeout, and internal services that each read only their own table."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.aggregator import Aggregator
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "AggregatorStack"
SERVICES = ("catalog", "pricing", "inventory")


@pytest.fixture(scope="module")
def template(templates):
    return templates[STACK]


def functions_by_handler(template) -> dict[str, tuple[str, dict]]:
    return {
        props["Handler"]: (logical_id, props)
        for logical_id, props in properties_of(template, "AWS::Lambda::Function").items()
    }


def test_one_get_route_reaches_the_aggregator_through_a_proxy_integration(template):
    methods = list(properties_of(template, "AWS::ApiGateway::Method").values())
    assert [(m["HttpMethod"], m["Integration"]["Type"]) for m in methods] == [("GET", "AWS_PROXY")]
    aggregator_id, _ = functions_by_handler(template)["aggregator.handler"]
    uri = json.dumps(methods[0]["Integration"]["Uri"])
    assert aggregator_id in uri
    resources = properties_of(template, "AWS::ApiGateway::Resource").values()
    assert sorted(r["PathPart"] for r in resources) == ["products", "{product_id}"]


def test_aggregator_may_invoke_exactly_its_three_services_and_nothing_else(template):
    handlers = functions_by_handler(template)
    aggregator_id, _ = handlers["aggregator.handler"]
    [role_ref] = [
        props["Role"]["Fn::GetAtt"][0]
        for logical_id, props in properties_of(template, "AWS::Lambda::Function").items()
        if logical_id == aggregator_id
    ]
    grants = [
        s for s in statements_of(template, role_ref) if not s["Action"][0].startswith(("logs:", "xray:"))
    ]
    service_arns = sorted(
        ({"Fn::GetAtt": [handlers[f"services.{name}"][0], "Arn"]} for name in SERVICES), key=str
    )
    assert len(grants) == 1
    assert grants[0]["Action"] == ["lambda:InvokeFunction"]
    assert sorted(grants[0]["Resource"], key=str) == service_arns, "unqualified ARNs only: no ':*' versions"


def test_each_service_reads_only_its_own_table_with_get_item(template):
    handlers = functions_by_handler(template)
    tables = resources_of(template, "AWS::DynamoDB::Table")
    assert len(tables) == 3
    for name in SERVICES:
        _, props = handlers[f"services.{name}"]
        table_ref = props["Environment"]["Variables"]["TABLE_NAME"]["Ref"]
        role_ref = props["Role"]["Fn::GetAtt"][0]
        data_grants = [s for s in statements_of(template, role_ref) if s["Action"][0].startswith("dynamodb:")]
        assert data_grants == [
            {
                "Action": ["dynamodb:GetItem"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [table_ref, "Arn"]},
            }
        ]
        assert not any(s["Action"][0].startswith("lambda:") for s in statements_of(template, role_ref))


def test_the_budget_fits_inside_the_aggregator_timeout_and_the_services_stop_soon_after(template):
    handlers = functions_by_handler(template)
    _, aggregator = handlers["aggregator.handler"]
    variables = aggregator["Environment"]["Variables"]
    assert variables["BUDGET_MS"] == "1000"
    assert "MAX_CONCURRENT_CALLS" not in variables, "by default every service is called at once"
    assert aggregator["Timeout"] == 3
    assert variables["SERVICES"] == ",".join(SERVICES)
    for name in SERVICES:
        assert variables[f"SERVICE_{name.upper()}_ARN"] == {
            "Fn::GetAtt": [handlers[f"services.{name}"][0], "Arn"]
        }
    assert {handlers[f"services.{name}"][1]["Timeout"] for name in SERVICES} == {1}
    assert handlers["services.inventory"][1]["Environment"]["Variables"]["LOW_STOCK_THRESHOLD"] == "5"


def test_service_tables_are_on_demand_encrypted_and_recoverable(template):
    for props in properties_of(template, "AWS::DynamoDB::Table").values():
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["KeySchema"] == [{"AttributeName": "product_id", "KeyType": "HASH"}]


def test_outputs_name_the_api_and_each_service_table(template):
    assert {"ApiUrl", "CatalogTableName", "PricingTableName", "InventoryTableName"} <= set(
        template["Outputs"]
    )


# ------------------------------------------------------------------------------------- the props contract


@pytest.fixture
def stack() -> Stack:
    return Stack(App(builtin_cloud_formation_validation=False), "Contract")


def test_your_own_services_replace_the_samples_and_only_they_may_be_invoked(stack):
    reviews = lambda_.Function.from_function_arn(
        stack, "Reviews", "arn:aws:lambda:us-east-1:123456789012:function:reviews"
    )
    page = Aggregator(
        stack, "Page", services={"reviews": reviews}, budget=Duration.millis(300), max_concurrent_calls=1
    )
    template = Template.from_stack(stack).to_json()
    assert resources_of(template, "AWS::DynamoDB::Table") == {}
    assert page.tables == {} and page.services == {"reviews": reviews}
    invoke = [s for s in statements_of(template) if "lambda:InvokeFunction" in s["Action"]]
    assert invoke == [
        {
            "Action": ["lambda:InvokeFunction"],
            "Effect": "Allow",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:reviews",
        }
    ]
    [aggregator] = properties_of(template, "AWS::Lambda::Function").values()
    assert aggregator["Environment"]["Variables"]["BUDGET_MS"] == "300"
    assert aggregator["Environment"]["Variables"]["MAX_CONCURRENT_CALLS"] == "1"
    assert aggregator["Timeout"] == 3


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"budget": Duration.millis(10)}, "budget must be from 50 ms to 28 s"),
        ({"budget": Duration.seconds(29)}, "budget must be from 50 ms to 28 s"),
        ({"max_concurrent_calls": 4}, r"max_concurrent_calls must be from 1 to the number of services \(3\)"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls must be from 1"),
        ({"low_stock_threshold": -1}, "low_stock_threshold must be 0 or more"),
        ({"services": {}}, "services must name at least one service"),
    ],
)
def test_contradictory_or_impossible_props_fail_at_synth(stack, props, message):
    with pytest.raises(ValueError, match=message):
        Aggregator(stack, "Page", **props)


def test_sample_service_props_do_not_apply_to_your_services(stack):
    fn = lambda_.Function.from_function_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:function:mine"
    )
    with pytest.raises(ValueError, match="low_stock_threshold configures the sample services"):
        Aggregator(stack, "Page", services={"mine": fn}, low_stock_threshold=3)
    with pytest.raises(ValueError, match="service names must match"):
        Aggregator(stack, "Other", services={"Bad-Name": fn})
