"""A logging state machine whose log group is gone still runs its executions to the end, as on AWS:
Step Functions delivers its execution logs itself (vended logs), so a delivery that fails is lost on
the Logs side and the execution carries on. Offline the failed write raised out of the pump and left
the execution RUNNING. The loss is recorded as a dropped-logs line (``cloud.dropped("logs")``, what
scenarios check) and a ``drop`` span, once per log group and reason."""

from __future__ import annotations

import pytest
from aws_cdk import CfnOutput, RemovalPolicy, Stack
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
