"""A Lambda task lasts as long as its invocation on the virtual clock, and its ``TimeoutSeconds``
fails it with ``States.Timeout`` at the deadline, which Retry and Catch see as on AWS."""

from __future__ import annotations

import pytest
from aws_cdk import Stack

from tests.localcloud.conftest import python_function
from tests.localcloud.test_stepfunctions import machine

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    slow = python_function(stack, "Slow", "sfn_math", handler="handler.add")
    call = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": slow.function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "TimeoutSeconds": 5,
    }
    flow = machine(
        stack,
        "Flow",
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    **call,
                    "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "MaxAttempts": 1}],
                    "Catch": [
                        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}
                    ],
                    "Next": "After",
                },
                "After": {"Type": "Pass", "End": True},
                "TimedOut": {"Type": "Pass", "End": True},
            },
        },
    )
    bare = machine(
        stack,
        "Bare",
        {
            "StartAt": "Call",
            "States": {
                "Call": {"Type": "Task", "Resource": slow.function_arn, "TimeoutSeconds": 5, "End": True}
            },
        },
    )
    slow.grant_invoke(flow)
    slow.grant_invoke(bare)


@pytest.fixture
def cloud(synth, run):
    return run(synth("SfnTaskTimeout", build))


def test_a_task_lasts_as_long_as_its_invocation(cloud):
    cloud.function("Slow").duration = 3
    execution = cloud.start_execution("Flow", {"value": 1})
    cloud.drain()
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"value": 2, "steps": ["add"]}
    states = {span.target: span for span in cloud.trace.find("state")}
    assert (states["Call"].at, states["Call"].ended, states["After"].at) == (0, 3, 3)
    assert not cloud.trace.find("timeout")


def test_a_task_past_its_timeout_fails_with_states_timeout_which_retry_and_catch_see(cloud):
    cloud.function("Slow").duration = 10
    execution = cloud.start_execution("Flow", {"value": 1})
    cloud.drain()
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states() == ["Call", "TimedOut"]
    assert execution.output["error"]["Error"] == "States.Timeout"
    # Timed out at 5, retried 2 s later, timed out again at 12; each invocation ran on to its end.
    assert [span.at for span in cloud.trace.find("timeout")] == [5, 12]
    assert [(span.at, span.ended) for span in cloud.trace.find("invoke")] == [(0, 10), (7, 17)]
    assert [span.detail for span in cloud.trace.find("retry")] == ["in 2s"]
    timed_out = [e for e in execution.history() if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"] * 2


def test_an_uncaught_timeout_of_a_lambda_resource_fails_the_execution(cloud):
    cloud.function("Slow").duration = 6
    execution = cloud.start_execution("Bare", {"value": 1})
    cloud.drain()
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    assert [e["type"] for e in execution.history() if "TimedOut" in e["type"]] == ["LambdaFunctionTimedOut"]
    assert [span.at for span in cloud.trace.find("timeout")] == [5]
