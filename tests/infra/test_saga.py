"""What makes the saga pattern: forward steps whose business refusals undo only the steps before
them and whose other failures undo themselves too; compensations in reverse, retried with back-off
on any error; a logged, traced Standard workflow behind an API; each service's grants on its own
table only."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack

from patterns.saga import Saga
from tests.infra.conftest import properties_of, statements_of

pytestmark = pytest.mark.infra
STACK = "SagaStack"


def definition_of(raw) -> dict:
    """The workflow's ASL, with each token (function ARN...) shown as ``<Ref>``."""
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    parts = machine["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<Ref>" for p in parts))


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, handler: str) -> str:
    return raw["Resources"][function_id(raw, handler)]["Properties"]["Role"]["Fn::GetAtt"][0]


def test_a_standard_workflow_logged_without_data_and_traced(templates):
    [machine] = properties_of(templates[STACK], "AWS::StepFunctions::StateMachine").values()
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert (
        machine["LoggingConfiguration"]["Level"],
        machine["LoggingConfiguration"]["IncludeExecutionData"],
    ) == (
        "ALL",
        False,
    )


def test_steps_run_in_order_and_each_failure_undoes_exactly_what_may_have_happened(templates):
    definition = definition_of(templates[STACK])
    states = definition["States"]
    assert definition["StartAt"] == "CreateOrder"
    chain = ["CreateOrder", "ChargePayment", "ReserveStock", "ConfirmOrder", "Confirmed"]
    assert [states[a]["Next"] for a in chain[:-1]] == chain[1:]

    def catches(name: str) -> list[tuple[list[str], str]]:
        assert all(c["ResultPath"] == "$.failure" for c in states[name]["Catch"])
        return [(c["ErrorEquals"], c["Next"]) for c in states[name]["Catch"]]

    assert catches("CreateOrder") == [(["OrderRejected"], "Cancelled"), (["States.ALL"], "CancelOrder")]
    assert catches("ChargePayment") == [
        (["PaymentDeclined"], "CancelOrder"),
        (["States.ALL"], "RefundPayment"),
    ]
    assert catches("ReserveStock") == [(["OutOfStock"], "RefundPayment"), (["States.ALL"], "ReleaseStock")]
    assert catches("ConfirmOrder") == [(["States.ALL"], "ReleaseStock")]
    assert [states[c]["Next"] for c in ("ReleaseStock", "RefundPayment", "CancelOrder")] == [
        "RefundPayment",
        "CancelOrder",
        "Cancelled",
    ]
    assert states["Cancelled"] == {
        "Type": "Fail",
        "Error": "OrderCancelled",
        "CausePath": "$.failure.Error",
    }


def test_compensations_are_retried_on_any_error_with_back_off_then_left_to_an_operator(templates):
    states = definition_of(templates[STACK])["States"]
    for name in ("ReleaseStock", "RefundPayment", "CancelOrder"):
        assert states[name]["Retry"] == [
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 8, "BackoffRate": 2}
        ], name
        assert states[name]["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.compensation_failure",
                "Next": "CompensationFailed",
            }
        ]
        assert states[name]["Parameters"]["Payload"]["action"] in ("release", "refund", "cancel")
    assert states["CompensationFailed"]["Error"] == "CompensationFailed"
    for name in ("CreateOrder", "ChargePayment", "ReserveStock", "ConfirmOrder"):
        [retry] = states[name]["Retry"]
        assert retry["ErrorEquals"][0] == "Lambda.TooManyRequestsException", (
            "business refusals are not retried"
        )
    assert {s.get("TimeoutSeconds") for s in states.values() if s["Type"] == "Task"} == {10}


def test_each_service_may_touch_its_own_table_only(templates):
    raw = templates[STACK]
    tables = {
        props["KeySchema"][0]["AttributeName"]: table
        for table, props in properties_of(raw, "AWS::DynamoDB::Table").items()
    }
    granted = {
        "orders.handler": ("order_id", ["dynamodb:PutItem", "dynamodb:UpdateItem"]),
        "payments.handler": ("pk", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
        "inventory.handler": ("sku", ["dynamodb:UpdateItem"]),
    }
    for handler, (key, actions) in granted.items():
        statements = [
            s for s in statements_of(raw, role_of(raw, handler)) if any("dynamodb:" in a for a in s["Action"])
        ]
        assert [sorted(s["Action"]) for s in statements] == [actions], handler
        assert statements[0]["Resource"] == {"Fn::GetAtt": [tables[key], "Arn"]}, handler

    api_statements = statements_of(raw, role_of(raw, "api.handler"))
    assert not any("dynamodb:" in a for s in api_statements for a in s["Action"])
    [machine_id] = properties_of(raw, "AWS::StepFunctions::StateMachine")
    [start] = [s for s in api_statements if "states:StartExecution" in s["Action"]]
    assert (start["Action"], start["Resource"]) == (["states:StartExecution"], {"Ref": machine_id})
    [describe] = [s for s in api_statements if "states:DescribeExecution" in s["Action"]]
    assert describe["Action"] == ["states:DescribeExecution"]
    assert describe["Resource"]["Fn::Join"][1][-3:] == [
        ":execution:",
        {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": machine_id}]}]},
        ":*",
    ], "this state machine's executions only"


def test_the_api_posts_orders_and_polls_them_through_one_function(templates):
    raw = templates[STACK]
    methods = properties_of(raw, "AWS::ApiGateway::Method")
    paths = {
        raw["Resources"][m["ResourceId"]["Ref"]]["Properties"]["PathPart"]: m["HttpMethod"]
        for m in methods.values()
        if m["HttpMethod"] != "OPTIONS"
    }
    assert paths == {"orders": "POST", "{order_id}": "GET"}
    assert {m["Integration"]["Type"] for m in methods.values()} == {"AWS_PROXY"}
    [post] = [m for m in methods.values() if m["HttpMethod"] == "POST"]
    assert post["RequestValidatorId"], "a bad body is refused before any code runs"
    [model] = properties_of(raw, "AWS::ApiGateway::Model").values()
    assert post["RequestModels"] == {
        "application/json": {"Ref": next(iter(properties_of(raw, "AWS::ApiGateway::Model")))}
    }
    schema = model["Schema"]
    assert (schema["additionalProperties"], sorted(schema["required"])) == (
        False,
        ["amount_cents", "country", "customer_id", "quantity", "sku"],
    )


def test_the_countries_timeout_and_retries_are_props():
    stack = Stack(App(), "Variant")
    saga = Saga(
        stack,
        "Pattern",
        delivery_countries=["SE"],
        step_timeout=Duration.seconds(4),
        compensation_retry_attempts=3,
    )
    from aws_cdk.assertions import Template

    raw = Template.from_stack(stack).to_json()
    states = definition_of(raw)["States"]
    assert states["RefundPayment"]["Retry"][0]["MaxAttempts"] == 3
    assert states["ReserveStock"]["TimeoutSeconds"] == 4
    orders = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "orders.handler")]
    assert orders["Environment"]["Variables"]["DELIVERY_COUNTRIES"] == "SE"
    assert orders["Timeout"] == 4
    assert saga.outputs().keys() >= {"ApiUrl", "StateMachineArn", "InventoryTableName"}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"delivery_countries": []}, "delivery_countries must be ISO codes"),
        ({"delivery_countries": ["germany"]}, "delivery_countries must be ISO codes"),
        ({"compensation_retry_attempts": 0}, "compensation_retry_attempts must be from 1 to 20"),
        ({"step_timeout": Duration.seconds(901)}, "step_timeout must be from 1 to 900 seconds"),
        ({"function_props": {"billing": {}}}, "function_props names no function"),
    ],
)
def test_contradictory_props_are_refused_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        Saga(Stack(App(), "Bad"), "Pattern", **props)
