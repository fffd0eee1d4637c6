"""What makes the state machine pattern: its definition's Choice, Wait, Retry, token wait and
Catch; a logged, traced Standard workflow; the assigner's capped concurrency; grants to one
resource each."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack

from patterns.defaults import SecureDefaultOverridden
from patterns.state_machine import StateMachine
from tests.infra.conftest import properties_of, statements_of

pytestmark = pytest.mark.infra
STACK = "StateMachineStack"


def definition_of(raw) -> dict:
    """The workflow's ASL, with each token (function ARN, topic...) shown as ``<Ref>``."""
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    parts = machine["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<Ref>" for p in parts))


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def test_a_standard_workflow_logged_at_all_levels_without_data_and_traced(templates):
    raw = templates[STACK]
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    [destination] = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert raw["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    assert raw["Resources"][group]["Properties"]["RetentionInDays"] == 30


def test_no_driver_yet_waits_a_minute_and_looks_again_at_most_five_times(templates):
    states = definition_of(templates[STACK])["States"]
    choice = states["DriverAvailable?"]
    assert choice["Choices"] == [
        {"Variable": "$.search.available", "NumericGreaterThan": 0, "Next": "AssignDriver"},
        {"Variable": "$.search.attempt", "NumericGreaterThanEquals": 5, "Next": "NoDriverFound"},
    ]
    assert choice["Default"] == "WaitForDrivers"
    assert states["WaitForDrivers"] == {"Type": "Wait", "Seconds": 60, "Next": "LoadDrivers"}
    assert states["NoDriverFound"]["Next"] == "CancelOrder"


def test_transient_errors_are_retried_with_back_off_and_everything_else_is_compensated(templates):
    states = definition_of(templates[STACK])["States"]
    transient = {
        "ErrorEquals": ["DriversUnavailable", "Lambda.TooManyRequestsException"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
    }
    for name in ("LoadDrivers", "AssignDriver", "IssueReceipt", "CancelOrder"):
        assert transient in states[name]["Retry"], name
    to_cancel = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "CancelOrder"}
    for name in ("LoadDrivers", "AssignDriver", "NotifyCustomer", "AwaitDelivery"):
        assert states[name]["Catch"][-1] == to_cancel, name
    assert states["AssignDriver"]["Catch"][0] == {
        "ErrorEquals": ["NoDriverAvailable"],
        "ResultPath": "$.failure",
        "Next": "WaitForDrivers",
    }
    assert "Catch" not in states["IssueReceipt"], "a delivered order is never cancelled"
    assert states["CancelOrder"]["Next"] == "Cancelled"
    assert states["Cancelled"] == {
        "Type": "Fail",
        "Error": "OrderCancelled",
        "CausePath": "$.cancellation.reason",
    }


def test_the_workflow_waits_for_the_drivers_report_with_a_token_and_a_timeout(templates):
    states = definition_of(templates[STACK])["States"]
    waiting = states["AwaitDelivery"]
    assert waiting["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert waiting["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert waiting["TimeoutSeconds"] == 2 * 3600
    notify = states["NotifyCustomer"]
    assert notify["Resource"].endswith(":states:::sns:publish")
    assert notify["ResultPath"] is None


def test_assignments_run_one_at_a_time(templates):
    raw = templates[STACK]
    assigner = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "assign_driver.handler")]
    assert assigner["ReservedConcurrentExecutions"] == 1


def test_grants_are_scoped_to_one_resource_each(templates):
    raw = templates[STACK]
    [machine_id] = properties_of(raw, "AWS::StepFunctions::StateMachine")
    machine = raw["Resources"][machine_id]["Properties"]
    role = machine["RoleArn"]["Fn::GetAtt"][0]
    invoked = {
        json.dumps(resource)
        for statement in statements_of(raw, role)
        if "lambda:InvokeFunction" in statement["Action"]
        for resource in statement["Resource"]
    }
    workflow = ["load_drivers", "assign_driver", "await_delivery", "issue_receipt", "cancel_order"]
    expected = {json.dumps({"Fn::GetAtt": [function_id(raw, f"{m}.handler"), "Arn"]}) for m in workflow}
    assert expected <= invoked
    assert function_id(raw, "confirm_delivery.handler") not in "".join(invoked), (
        "the driver app's function is not a task"
    )
    [publish] = [s for s in statements_of(raw, role) if "sns:Publish" in s["Action"]]
    assert publish["Resource"] == {"Ref": next(iter(properties_of(raw, "AWS::SNS::Topic")))}

    confirm_role = raw["Resources"][function_id(raw, "confirm_delivery.handler")]["Properties"]["Role"][
        "Fn::GetAtt"
    ][0]
    [answer] = [
        s for s in statements_of(raw, confirm_role) if any(a.startswith("states:") for a in s["Action"])
    ]
    assert sorted(answer["Action"]) == ["states:SendTaskFailure", "states:SendTaskSuccess"], "no heartbeats"
    assert answer["Resource"] == {"Ref": machine_id}

    queries = [s for s in statements_of(raw) if "dynamodb:Query" in s["Action"]]
    assert {json.dumps(s["Resource"]) for s in queries} == {
        json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, "/index/ByZoneStatus"]]})
        for table, props in properties_of(raw, "AWS::DynamoDB::Table").items()
        if props.get("GlobalSecondaryIndexes")
    }


def synth_variant(**props) -> dict:
    stack = Stack(App(), "Variant")
    StateMachine(stack, "Pattern", **props)
    from aws_cdk.assertions import Template

    return Template.from_stack(stack).to_json()


def test_the_waits_bounds_and_retries_are_props():
    raw = synth_variant(
        driver_search_interval=Duration.seconds(20),
        max_driver_searches=9,
        delivery_timeout=Duration.minutes(45),
        retry_attempts=0,
        assignment_concurrency=4,
    )
    states = definition_of(raw)["States"]
    assert states["WaitForDrivers"]["Seconds"] == 20
    assert states["DriverAvailable?"]["Choices"][1]["NumericGreaterThanEquals"] == 9
    assert states["AwaitDelivery"]["TimeoutSeconds"] == 45 * 60
    assert all("DriversUnavailable" not in json.dumps(s.get("Retry", [])) for s in states.values())
    assigner = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "assign_driver.handler")]
    assert assigner["ReservedConcurrentExecutions"] == 4


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"max_driver_searches": 0}, "max_driver_searches must be from 1 to 100"),
        ({"assignment_concurrency": 0}, "assignment_concurrency must be from 1 to 1000"),
        ({"retry_attempts": 11}, "retry_attempts must be from 0 to 10"),
    ],
)
def test_contradictory_props_are_refused_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        StateMachine(Stack(App(), "Bad"), "Pattern", **props)


def test_logging_execution_data_warns_that_a_secure_default_is_off():
    with pytest.warns(SecureDefaultOverridden, match="include_execution_data"):
        raw = synth_variant(include_execution_data=True)
    [machine] = properties_of(raw, "AWS::StepFunctions::StateMachine").values()
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True
