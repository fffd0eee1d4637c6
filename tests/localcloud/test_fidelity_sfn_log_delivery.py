"""A logging state machine whose log group is gone still runs its executions to the end, as on AWS:
Step Functions delivers its execution logs itself (vended logs), so a delivery that fails is lost on
the Logs side and the execution carries on. Offline the failed write raised out of the pump and left
the execution RUNNING. The loss is recorded as a dropped-logs line (``cloud.dropped("logs")``, what
scenarios check) and a ``drop`` span, once per log group and reason."""

from __future__ import annotations

import json

import pytest
from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    group = logs.LogGroup(stack, "Executions", removal_policy=RemovalPolicy.DESTROY)
    machine = sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(
            sfn.Pass(stack, "Greet", parameters={"greeting.$": "States.Format('hello {}', $.name)"})
        ),
        logs=sfn.LogOptions(destination=group, level=sfn.LogLevel.ALL),
    )
    CfnOutput(stack, "MachineArn", value=machine.state_machine_arn)
    CfnOutput(stack, "GroupName", value=group.log_group_name)
    later = logs.LogGroup(stack, "Later", removal_policy=RemovalPolicy.DESTROY)
    waiting = sfn.StateMachine(
        stack,
        "Waiting",
        definition_body=sfn.DefinitionBody.from_chainable(
            sfn.Wait(stack, "Pause", time=sfn.WaitTime.duration(Duration.seconds(10)))
        ),
        logs=sfn.LogOptions(destination=later, level=sfn.LogLevel.ALL),
    )
    CfnOutput(stack, "WaitingArn", value=waiting.state_machine_arn)
    CfnOutput(stack, "LaterName", value=later.log_group_name)


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("SfnLogDelivery", build), start=FIXED_START) as started:
        yield started


def events(cloud: LocalCloud) -> list[str]:
    found = cloud.client("logs").filter_log_events(logGroupName=cloud.outputs["GroupName"])["events"]
    return [event["message"] for event in found]


def test_executions_log_while_the_group_exists_then_run_on_without_it(cloud):
    first = cloud.start_execution(cloud.outputs["MachineArn"], {"name": "ada"})
    cloud.drain()
    assert first.status == "SUCCEEDED"
    assert events(cloud), "the execution's history reached its log group"
    assert cloud.dropped("logs") == []

    cloud.client("logs").delete_log_group(logGroupName=cloud.outputs["GroupName"])
    runs = [cloud.start_execution(cloud.outputs["MachineArn"], {"name": name}) for name in ("bo", "cy")]
    cloud.drain()
    assert [run.status for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert [run.output for run in runs] == [{"greeting": "hello bo"}, {"greeting": "hello cy"}]
    (line,) = cloud.dropped("logs")
    assert line.startswith(f"{cloud.outputs['GroupName']}: Step Functions' log delivery failed: ")
    assert "ResourceNotFoundException" in line
    drops = [span for span in cloud.kernel.trace.spans if span.kind == "drop"]
    assert [span.outcome for span in drops] == ["ResourceNotFoundException"]


def test_a_group_made_again_mid_execution_gets_the_rest_of_its_history_in_a_new_stream(cloud):
    """The stream a refused write never made is made on the next write, once the group is back."""
    group = cloud.outputs["LaterName"]
    cloud.client("logs").delete_log_group(logGroupName=group)
    run = cloud.start_execution(cloud.outputs["WaitingArn"], {})
    cloud.advance(5)
    assert run.status == "RUNNING"
    cloud.client("logs").create_log_group(logGroupName=group)
    cloud.drain()
    assert run.status == "SUCCEEDED"
    found = cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    kinds = [json.loads(event["message"])["type"] for event in found]
    assert kinds[-2:] == ["WaitStateExited", "ExecutionSucceeded"]
    assert "ExecutionStarted" not in kinds, "what was written while the group was gone is lost"
