"""What makes the circuit breaker: one circuit table only its caller reads and conditionally writes,
the thresholds in the caller's environment, one invoke grant on the dependency, timeouts that nest."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.circuit_breaker import CircuitBreaker
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "CircuitBreakerStack"


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, function: str) -> str:
    return raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def table_id(raw, key: str) -> str:
    [found] = [
        k
        for k, v in properties_of(raw, "AWS::DynamoDB::Table").items()
        if v["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    ]
    return found


def test_the_caller_reads_and_updates_the_circuit_item_and_nothing_else_does(templates):
    raw = templates[STACK]
    caller_role = role_of(raw, function_id(raw, "api.handler"))
    circuit = table_id(raw, "circuit")
    grants = [s for s in statements_of(raw) if s["Resource"] == {"Fn::GetAtt": [circuit, "Arn"]}]
    assert grants == [
        {
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [circuit, "Arn"]},
        }
    ], "conditional UpdateItem is the only write: no PutItem, no DeleteItem, no Scan"
    assert grants[0] in statements_of(raw, caller_role)


def test_the_caller_invokes_only_the_dependency_which_only_reads_its_rates(templates):
    raw = templates[STACK]
    caller, dependency = function_id(raw, "api.handler"), function_id(raw, "rates.handler")
    invokes = [s for s in statements_of(raw) if any(a.startswith("lambda:") for a in s["Action"])]
    assert invokes == [
        {
            "Action": ["lambda:InvokeFunction"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [dependency, "Arn"]},
        }
    ]
    assert invokes[0] in statements_of(raw, role_of(raw, caller))
    rates = table_id(raw, "currency")
    assert [
        s for s in statements_of(raw, role_of(raw, dependency)) if s["Action"][0].startswith("dynamodb:")
    ] == [{"Action": ["dynamodb:GetItem"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [rates, "Arn"]}}]


def test_the_thresholds_reach_the_caller_and_its_timeout_outlives_the_dependency(templates):
    raw = templates[STACK]
    functions = properties_of(raw, "AWS::Lambda::Function")
    caller = functions[function_id(raw, "api.handler")]
    dependency = functions[function_id(raw, "rates.handler")]
    env = caller["Environment"]["Variables"]
    assert {k: v for k, v in env.items() if k.startswith("CIRCUIT_") and k != "CIRCUIT_TABLE_NAME"} == {
        "CIRCUIT_NAME": "rates-service",
        "CIRCUIT_FAILURE_THRESHOLD": "5",
        "CIRCUIT_WINDOW_SECONDS": "60",
        "CIRCUIT_OPEN_SECONDS": "30",
        "CIRCUIT_MAX_OPEN_SECONDS": "600",
        "CIRCUIT_PROBE_TIMEOUT_SECONDS": "8",
    }
    assert env["CIRCUIT_TABLE_NAME"] == {"Ref": table_id(raw, "circuit")}
    assert (dependency["Timeout"], caller["Timeout"], env["RATES_FUNCTION_TIMEOUT_SECONDS"]) == (3, 8, "3")


def test_the_circuit_table_is_on_demand_encrypted_and_recoverable(templates):
    table = properties_of(templates[STACK], "AWS::DynamoDB::Table")[table_id(templates[STACK], "circuit")]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_api_is_throttled_and_routes_get_rates_to_the_caller(templates):
    raw = templates[STACK]
    [stage] = properties_of(raw, "AWS::ApiGateway::Stage").values()
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 100
    methods = properties_of(raw, "AWS::ApiGateway::Method")
    assert [m["HttpMethod"] for m in methods.values()] == ["GET"]


def _stack():
    return Stack(App(builtin_cloud_formation_validation=False), "Contract")


def _mine(stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:function:fx"
    )


def test_contradictory_settings_fail_at_synth():
    with pytest.raises(ValueError, match="failure_threshold must be 1 or more"):
        CircuitBreaker(_stack(), "C", failure_threshold=0)
    with pytest.raises(ValueError, match=r"max_open_timeout \(10 s\) must be at least open_timeout \(30 s\)"):
        CircuitBreaker(_stack(), "C", max_open_timeout=Duration.seconds(10))
    with pytest.raises(ValueError, match="dependency_timeout must be from 1 to 20 s"):
        CircuitBreaker(_stack(), "C", dependency_timeout=Duration.seconds(25))
    stack = _stack()
    with pytest.raises(ValueError, match=r"dependency_props.*dependency"):
        CircuitBreaker(stack, "C", dependency=_mine(stack), dependency_props={"memory_size": 512})


def test_your_own_dependency_and_another_breaker_share_the_table():
    stack = _stack()
    checkout = lambda_.Function(
        stack,
        "Checkout",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        timeout=Duration.seconds(12),
    )
    breaker = CircuitBreaker(stack, "C", dependency=_mine(stack), failure_threshold=2)
    breaker.add_breaker(checkout, "payments")
    raw = Template.from_stack(stack).to_json()
    assert breaker.rates_table is None and len(resources_of(raw, "AWS::DynamoDB::Table")) == 1
    env = properties_of(raw, "AWS::Lambda::Function")[stack.get_logical_id(checkout.node.default_child)]
    variables = env["Environment"]["Variables"]
    assert (variables["CIRCUIT_NAME"], variables["CIRCUIT_FAILURE_THRESHOLD"]) == ("payments", "2")
    assert variables["CIRCUIT_PROBE_TIMEOUT_SECONDS"] == "12", "its own timeout is its probe timeout"
    grants = [s for s in statements_of(raw) if s["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]]
    assert len(grants) == 2, "the API's function and the checkout each get the two actions on the table"
