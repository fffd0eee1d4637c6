"""What makes the Step Functions circuit breaker: no Lambda of its own (the workflows read and write
the circuit through DynamoDB integrations), a Choice that fails fast before the call, three retries
with back-off then OPEN and a mapped error, an alarm on the dependency's Errors whose ALARM event
reaches the control workflow through EventBridge, a scheduled health check whose close is
conditional on the version it read, and grants scoped to the one table, function and workflow."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.circuit_breaker_sfn import StepFunctionsCircuitBreaker
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "CircuitBreakerSfnStack"
#: What CDK's table grants give a role on a customer-managed key for reads and updates.
KEY_FOR_WRITES = {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}


def machines(raw) -> dict[str, tuple[str, dict]]:
    """Each state machine's logical id: its type and its definition (references as ``<Ref>``)."""
    found = {}
    for logical_id, machine in properties_of(raw, "AWS::StepFunctions::StateMachine").items():
        parts = machine["DefinitionString"]["Fn::Join"][1]
        definition = json.loads("".join(p if isinstance(p, str) else "<Ref>" for p in parts))
        found[logical_id] = (machine["StateMachineType"], definition)
    return found


def workflow(raw, kind: str) -> dict:
    [definition] = [d for t, d in machines(raw).values() if t == kind]
    return definition["States"]


def role_of(raw, logical_id: str) -> str:
    return raw["Resources"][logical_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]


def test_two_logged_traced_workflows_and_the_only_function_is_the_dependency(templates):
    raw = templates[STACK]
    assert sorted(t for t, _ in machines(raw).values()) == ["EXPRESS", "STANDARD"]
    for machine in properties_of(raw, "AWS::StepFunctions::StateMachine").values():
        assert machine["TracingConfiguration"] == {"Enabled": True}
        logging = machine["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    assert [f["Handler"] for f in properties_of(raw, "AWS::Lambda::Function").values()] == ["rates.handler"]


def test_the_call_reads_the_circuit_fails_fast_while_open_and_retries_3_times_with_backoff(templates):
    states = workflow(templates[STACK], "STANDARD")
    read = states["ReadCircuit"]
    assert read["Resource"].endswith(":states:::dynamodb:getItem")
    assert (read["Parameters"]["Key"], read["Parameters"]["ConsistentRead"]) == (
        {"circuit": {"S": "rates-service"}},
        True,
    )
    assert states["CircuitState"]["Choices"] == [
        {"Variable": "$.circuit.Item.state.S", "StringEquals": "OPEN", "Next": "CircuitOpen"}
    ]
    assert (states["CircuitOpen"]["Type"], states["CircuitOpen"]["Error"]) == ("Fail", "CircuitOpen")
    call = states["CallDependency"]
    assert call["Retry"] == [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2}
    ]
    assert call["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "OpenAfterRetries"}
    ]
    opening = states["OpenAfterRetries"]
    assert opening["Resource"].endswith(":states:::dynamodb:updateItem")
    assert opening["Parameters"]["ExpressionAttributeValues"][":open"] == {"S": "OPEN"}
    assert opening["Next"] == "DependencyUnavailable"
    assert states["DependencyUnavailable"] == {
        "Type": "Fail",
        "Error": "DependencyUnavailable",
        "CausePath": "$.failure.Cause",
    }


def test_the_control_opens_on_command_and_closes_only_the_version_its_probe_read(templates):
    states = workflow(templates[STACK], "EXPRESS")
    assert {(c["StringEquals"], c["Next"]) for c in states["Command"]["Choices"]} == {
        ("open", "OpenByAlarm"),
        ("probe", "ReadForProbe"),
    }
    assert states["IsOpen"]["Choices"][0]["Next"] == "ProbeDependency"
    assert states["ProbeDependency"]["Catch"][0]["Next"] == "StillUnhealthy"
    assert "Retry" not in states["ProbeDependency"], "a failed probe waits for the next schedule"
    close = states["CloseCircuit"]["Parameters"]
    assert close["ConditionExpression"] == "#version = :read"
    assert close["ExpressionAttributeValues"][":read"] == {"N.$": "$.circuit.Item.version.N"}
    assert states["CloseCircuit"]["Catch"] == [
        {
            "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
            "ResultPath": "$.failure",
            "Next": "ChangedMeanwhile",
        }
    ]


def test_the_alarm_counts_the_dependency_errors_each_minute(templates):
    raw = templates[STACK]
    [alarm] = properties_of(raw, "AWS::CloudWatch::Alarm").values()
    [dependency] = resources_of(raw, "AWS::Lambda::Function")
    assert alarm | {"AlarmDescription": None} == {
        "AlarmDescription": None,
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": dependency}}],
        "Statistic": "Sum",
        "Period": 60,
        "Threshold": 3,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "TreatMissingData": "notBreaching",
    }


def test_the_alarm_event_and_the_schedule_start_the_control_workflow_with_a_dead_letter_queue(templates):
    raw = templates[STACK]
    rules = properties_of(raw, "AWS::Events::Rule")
    [alarm_id] = resources_of(raw, "AWS::CloudWatch::Alarm")
    [control] = [k for k, (t, _) in machines(raw).items() if t == "EXPRESS"]
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    on_alarm = next(r for r in rules.values() if "EventPattern" in r)
    assert on_alarm["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [{"Fn::GetAtt": [alarm_id, "Arn"]}],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    schedule = next(r for r in rules.values() if "ScheduleExpression" in r)
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    [alarm_target], [schedule_target] = on_alarm["Targets"], schedule["Targets"]
    assert json.loads(schedule_target["Input"]) == {"command": "probe"}
    assert alarm_target["InputTransformer"]["InputPathsMap"] == {
        "detail-alarmName": "$.detail.alarmName",
        "detail-state-reason": "$.detail.state.reason",
    }
    for target, retries in ((alarm_target, 3), (schedule_target, 0)):
        assert target["Arn"] == {"Ref": control}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": retries}
    events_role = alarm_target["RoleArn"]["Fn::GetAtt"][0]
    assert statements_of(raw, events_role) == [
        {"Action": ["states:StartExecution"], "Effect": "Allow", "Resource": {"Ref": control}}
    ]


def test_each_workflow_may_only_read_and_update_the_circuit_and_invoke_the_dependency(templates):
    raw = templates[STACK]
    [dependency] = resources_of(raw, "AWS::Lambda::Function")
    for logical_id in machines(raw):
        granted = [s for s in statements_of(raw, role_of(raw, logical_id)) if s["Resource"] != "*"]
        assert [s["Action"] for s in granted] == [
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            ["lambda:InvokeFunction"],
        ]
        assert granted[0]["Resource"]["Fn::Join"][1][-1] == {"Ref": "PatternCircuitTable4F2E98EA"}
        assert granted[1]["Resource"][0] == {"Fn::GetAtt": [dependency, "Arn"]}
    writes = {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    assert not [s for s in statements_of(raw) if writes & set(s["Action"])]


def _stack():
    return Stack(App(builtin_cloud_formation_validation=False), "Contract")


def test_contradictory_settings_fail_at_synth():
    with pytest.raises(ValueError, match="retry_attempts must be from 0 to 10"):
        StepFunctionsCircuitBreaker(_stack(), "C", retry_attempts=11)
    with pytest.raises(ValueError, match="alarm_datapoints must be from 1 to alarm_evaluation_periods"):
        StepFunctionsCircuitBreaker(_stack(), "C", alarm_datapoints=3, alarm_evaluation_periods=2)
    with pytest.raises(ValueError, match="health_check_interval must be at least 1 minute"):
        StepFunctionsCircuitBreaker(_stack(), "C", health_check_interval=Duration.seconds(30))
    with pytest.raises(ValueError, match="backoff_rate must be 1 or more"):
        StepFunctionsCircuitBreaker(_stack(), "C", backoff_rate=0.5)
    with pytest.raises(ValueError, match="a circuit name is 1 to 1,024 bytes"):
        StepFunctionsCircuitBreaker(_stack(), "C", circuit="")
    stack = _stack()
    mine = lambda_.Function.from_function_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:function:fx"
    )
    with pytest.raises(ValueError, match=r"dependency_props.*dependency"):
        StepFunctionsCircuitBreaker(stack, "C", dependency=mine, dependency_props={"memory_size": 512})
    with pytest.raises(ValueError, match="health_check_payload is required with your own dependency"):
        StepFunctionsCircuitBreaker(stack, "D", dependency=mine)


def test_your_own_dependency_thresholds_and_table_key():
    stack = _stack()
    mine = lambda_.Function.from_function_arn(
        stack, "Mine", "arn:aws:lambda:us-east-1:123456789012:function:fx"
    )
    key = kms.Key(stack, "TableKey", enable_key_rotation=True)
    breaker = StepFunctionsCircuitBreaker(
        stack,
        "C",
        circuit="payments",
        dependency=mine,
        circuit_table_props={"encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED, "encryption_key": key},
        retry_attempts=0,
        alarm_threshold=10,
        alarm_evaluation_periods=3,
        alarm_datapoints=2,
        health_check_interval=Duration.minutes(5),
        health_check_payload={"ping": True},
    )
    raw = Template.from_stack(stack).to_json()
    assert breaker.rates_table is None and not resources_of(raw, "AWS::Lambda::Function")
    [alarm] = properties_of(raw, "AWS::CloudWatch::Alarm").values()
    assert (alarm["Dimensions"][0]["Value"], alarm["Threshold"], alarm["DatapointsToAlarm"]) == ("fx", 10, 2)
    assert "Retry" not in workflow(raw, "STANDARD")["CallDependency"]
    assert workflow(raw, "EXPRESS")["ProbeDependency"]["Parameters"] == {"ping": True}
    assert workflow(raw, "EXPRESS")["OpenByAlarm"]["Parameters"]["Key"] == {"circuit": {"S": "payments"}}
    [schedule] = [r for r in properties_of(raw, "AWS::Events::Rule").values() if "ScheduleExpression" in r]
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    key_id = stack.get_logical_id(key.node.default_child)
    for logical_id in machines(raw):
        on_key = {
            action
            for s in statements_of(raw, role_of(raw, logical_id))
            if s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
            for action in s["Action"]
        }
        assert on_key == KEY_FOR_WRITES, "the workflows' DynamoDB tasks read and update the circuit item"
