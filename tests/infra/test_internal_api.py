"""What makes the internal API: no API Gateway, an invoke grant on the one service function, timeouts."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.defaults import PatternFunction
from patterns.internal_api import InternalApi
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "InternalApiStack"


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, function: str) -> str:
    return raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def test_there_is_no_api_gateway_and_no_resource_policy(templates):
    raw = templates[STACK]
    assert not [r for r in raw["Resources"].values() if r["Type"].startswith("AWS::ApiGateway::")]
    assert resources_of(raw, "AWS::Lambda::Permission") == {}, "reached through IAM identity grants only"
    assert resources_of(raw, "AWS::Lambda::Url") == {}


def test_only_the_caller_may_invoke_the_service_and_only_that_function(templates):
    raw = templates[STACK]
    service = function_id(raw, "service.handler")
    caller = function_id(raw, "caller.handler")
    invokes = [s for s in statements_of(raw) if any(a.startswith("lambda:") for a in s["Action"])]
    assert invokes == [
        {"Action": ["lambda:InvokeFunction"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [service, "Arn"]}}
    ], "one grant, on the unqualified function, no '<arn>:*'"
    assert invokes[0] in statements_of(raw, role_of(raw, caller))
    assert not [
        s for s in statements_of(raw, role_of(raw, service)) if "lambda:InvokeFunction" in s["Action"]
    ]


def test_the_service_only_reads_prices(templates):
    raw = templates[STACK]
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    service_role = role_of(raw, function_id(raw, "service.handler"))
    reads = [s for s in statements_of(raw) if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert reads == [
        {"Action": ["dynamodb:GetItem"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [table, "Arn"]}}
    ]
    assert reads[0] in statements_of(raw, service_role)


def test_the_caller_knows_the_service_and_outlives_its_timeout(templates):
    raw = templates[STACK]
    service = function_id(raw, "service.handler")
    functions = properties_of(raw, "AWS::Lambda::Function")
    caller = functions[function_id(raw, "caller.handler")]
    variables = caller["Environment"]["Variables"]
    assert variables["QUOTE_FUNCTION_NAME"] == {"Ref": service}
    assert variables["QUOTE_FUNCTION_TIMEOUT_SECONDS"] == "3"
    assert functions[service]["Timeout"] == 3
    assert caller["Timeout"] == 10


def build(**props) -> tuple[Stack, InternalApi]:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    return stack, InternalApi(stack, "Quotes", **props)


def own_caller(stack: Stack, name: str, seconds: int) -> PatternFunction:
    return PatternFunction(
        stack, name, code_dir="internal_api", handler="caller.handler", timeout=Duration.seconds(seconds)
    )


def test_your_own_callers_replace_the_demo_caller():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    checkout, invoicing = own_caller(stack, "Checkout", 10), own_caller(stack, "Invoicing", 20)
    quotes = InternalApi(stack, "Quotes", callers=[checkout], service_timeout=Duration.seconds(5))
    quotes.add_caller(invoicing)
    assert quotes.caller is None and quotes.callers == [checkout, invoicing]
    raw = Template.from_stack(stack).to_json()
    service = stack.get_logical_id(quotes.service.node.default_child)
    for fn in (checkout, invoicing):
        role = stack.get_logical_id(fn.role.node.default_child)
        assert {
            "Action": ["lambda:InvokeFunction"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [service, "Arn"]},
        } in statements_of(raw, role)
        variables = raw["Resources"][stack.get_logical_id(fn.node.default_child)]["Properties"]["Environment"]
        assert variables["Variables"]["QUOTE_FUNCTION_TIMEOUT_SECONDS"] == "5"
    assert "CallerFunctionName" not in quotes.outputs()
    assert len(properties_of(raw, "AWS::Lambda::Function")) == 3, "service and the two callers only"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"caller_timeout": Duration.seconds(3)},
            r"timeout \(3 s\) must be longer than the service's \(3 s\)",
        ),
        ({"callers": []}, "callers is empty"),
    ],
)
def test_contradictory_props_fail_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_callers_and_caller_timeout_are_never_both_given():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    with pytest.raises(ValueError, match="caller_timeout sets the demo caller's timeout"):
        InternalApi(
            stack, "Quotes", callers=[own_caller(stack, "Mine", 10)], caller_timeout=Duration.seconds(10)
        )


def test_a_caller_that_would_die_waiting_is_refused():
    stack, quotes = build()
    hasty = lambda_.Function(
        stack,
        "Hasty",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="caller.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        timeout=Duration.seconds(2),
    )
    with pytest.raises(ValueError, match="must be longer than the service's"):
        quotes.add_caller(hasty)
