"""What makes the robust API: a function per route over one shared table, each scoped to the call its
route makes, a synchronous call to one internal service, an asynchronous handoff with retries and a
failure queue."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.robust_api import RobustApi
from tests.infra.conftest import properties_of, resources_of, statements_of, unbounded

pytestmark = pytest.mark.infra
STACK = "RobustApiStack"


@pytest.fixture(scope="module")
def template(templates):
    return templates[STACK]


def functions_by_handler(template) -> dict[str, tuple[str, dict]]:
    return {
        props["Handler"]: (logical_id, props)
        for logical_id, props in properties_of(template, "AWS::Lambda::Function").items()
    }


def grants(template, props) -> list[dict]:
    """A function's statements beyond logs and X-Ray."""
    role = props["Role"]["Fn::GetAtt"][0]
    return [s for s in statements_of(template, role) if not s["Action"][0].startswith(("logs:", "xray:"))]


def arn_of(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_each_route_reaches_its_own_function(template):
    handlers = functions_by_handler(template)
    resources = properties_of(template, "AWS::ApiGateway::Resource")
    path_of = {logical_id: props["PathPart"] for logical_id, props in resources.items()}
    routes = {}
    for method in properties_of(template, "AWS::ApiGateway::Method").values():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        [target] = [
            h for h, (logical_id, _) in handlers.items() if logical_id in json.dumps(integration["Uri"])
        ]
        routes[(method["HttpMethod"], path_of[method["ResourceId"]["Ref"]])] = target
    assert routes == {
        ("POST", "orders"): "create_order.handler",
        ("GET", "{order_id}"): "get_order.handler",
        ("POST", "shipment"): "ship_order.handler",
    }


def test_every_function_shares_the_one_table_with_only_the_call_its_route_makes(template):
    [table_id] = resources_of(template, "AWS::DynamoDB::Table")
    handlers = functions_by_handler(template)
    expected = {
        "create_order.handler": "dynamodb:PutItem",
        "get_order.handler": "dynamodb:GetItem",
        "ship_order.handler": "dynamodb:UpdateItem",
        "shipper.handler": "dynamodb:UpdateItem",
    }
    for handler, action in expected.items():
        _, props = handlers[handler]
        assert props["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": table_id}
        table_grants = [s for s in grants(template, props) if s["Action"][0].startswith("dynamodb:")]
        assert table_grants == [{"Action": [action], "Effect": "Allow", "Resource": arn_of(table_id)}]
    _, quote = handlers["shipping_quote.handler"]
    assert grants(template, quote) == [], "the quote service touches no data"


def test_create_order_may_invoke_only_the_quote_service_and_waits_longer_than_it_runs(template):
    handlers = functions_by_handler(template)
    quote_id, quote = handlers["shipping_quote.handler"]
    _, create = handlers["create_order.handler"]
    invoke = [s for s in grants(template, create) if s["Action"] == ["lambda:InvokeFunction"]]
    assert invoke == [{"Action": ["lambda:InvokeFunction"], "Effect": "Allow", "Resource": arn_of(quote_id)}]
    variables = create["Environment"]["Variables"]
    assert variables["QUOTE_FUNCTION_NAME"] == arn_of(quote_id)
    assert variables["QUOTE_FUNCTION_TIMEOUT_SECONDS"] == "3" and quote["Timeout"] == 3
    # Two attempts of (service timeout + 2 s), within API Gateway's 29 s.
    assert 2 * (3 + 2) < create["Timeout"] < 29


def test_ship_order_hands_off_to_the_shipper_which_retries_then_keeps_failures(template):
    handlers = functions_by_handler(template)
    shipper_id, shipper = handlers["shipper.handler"]
    _, ship = handlers["ship_order.handler"]
    invoke = [s for s in grants(template, ship) if s["Action"] == ["lambda:InvokeFunction"]]
    assert invoke == [
        {"Action": ["lambda:InvokeFunction"], "Effect": "Allow", "Resource": arn_of(shipper_id)}
    ]
    assert ship["Environment"]["Variables"]["SHIPPER_FUNCTION_NAME"] == arn_of(shipper_id)
    [config] = properties_of(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["FunctionName"] == {"Ref": shipper_id}
    assert config["MaximumRetryAttempts"] == 2
    failures = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = template["Resources"][failures]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    sends = [s for s in grants(template, shipper) if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sends] == [arn_of(failures)]


def test_new_orders_are_validated_by_api_gateway_before_any_function_runs(template):
    [create_order] = [
        m for m in properties_of(template, "AWS::ApiGateway::Method").values() if "RequestModels" in m
    ]
    assert create_order["HttpMethod"] == "POST" and "RequestValidatorId" in create_order
    [model] = properties_of(template, "AWS::ApiGateway::Model").values()
    assert model["Schema"]["required"] == ["customer_id", "country", "weight_grams"]
    assert model["Schema"]["additionalProperties"] is False
    assert unbounded(model["Schema"]) == []


def test_outputs_name_the_api_the_table_and_the_failure_queue(template):
    assert {"ApiUrl", "TableName", "ShippingFailureQueueUrl"} <= set(template["Outputs"])


# ------------------------------------------------------------------------------------- the props contract


@pytest.fixture
def stack() -> Stack:
    return Stack(App(builtin_cloud_formation_validation=False), "Contract")


def test_existing_table_and_quote_service_are_used_instead_of_new_ones(stack):
    table = dynamodb.Table.from_table_name(stack, "Existing", "orders")
    quotes = lambda_.Function.from_function_arn(
        stack, "Quotes", "arn:aws:lambda:us-east-1:123456789012:function:quotes"
    )
    api = RobustApi(stack, "Orders", table=table, quote_service=quotes, quote_timeout=Duration.seconds(5))
    template = Template.from_stack(stack).to_json()
    assert resources_of(template, "AWS::DynamoDB::Table") == {}
    assert api.table is table and api.quote_service is quotes
    handlers = {
        props["Handler"]: props for props in properties_of(template, "AWS::Lambda::Function").values()
    }
    assert "shipping_quote.handler" not in handlers
    create = handlers["create_order.handler"]
    assert create["Environment"]["Variables"]["QUOTE_FUNCTION_NAME"].endswith(":function:quotes")
    assert create["Environment"]["Variables"]["QUOTE_FUNCTION_TIMEOUT_SECONDS"] == "5"
    assert create["Timeout"] == 15


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"quote_timeout": Duration.millis(500)}, "quote_timeout must be from 1 to 10 seconds"),
        ({"quote_timeout": Duration.seconds(11)}, "quote_timeout must be from 1 to 10 seconds"),
        ({"shipping_retry_attempts": 3}, "retry_attempts must be from 0 to 2"),
        ({"shipping_max_event_age": Duration.seconds(30)}, "max_event_age must be from 1 minute to 6 hours"),
    ],
)
def test_impossible_props_fail_at_synth(stack, props, message):
    with pytest.raises(ValueError, match=message):
        RobustApi(stack, "Orders", **props)
