"""StopExecution as the local cloud answers it: a running execution stops on the virtual clock with
the caller's error and cause, its history ending in ExecutionAborted with no event of the task it
stopped; an execution that does not exist is refused, as AWS refuses it. The
stack is the one of test_stepfunctions_semantics_states.py (one synth for both)."""

from __future__ import annotations

import json

import pytest

from tests.localcloud.test_stepfunctions_semantics_states import build

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def cloud(synth):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    with LocalCloud(synth("SfnSemanticsStates", build), start=FIXED_START) as started:
        yield started


def waiting(cloud):
    execution = cloud.start_execution("Beat", {})
    cloud.advance(0)
    sqs_client, url = cloud.client("sqs"), cloud.physical_id("Tokens")
    [message] = sqs_client.receive_message(QueueUrl=url)["Messages"]
    sqs_client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return execution, json.loads(message["Body"])["token"]


def test_a_stop_answers_with_its_virtual_stop_date_and_keeps_the_callers_error(cloud):
    execution, _ = waiting(cloud)
    cloud.advance(7)
    answer = cloud.client("stepfunctions").stop_execution(
        executionArn=execution.arn, error="Withdrawn", cause="by the buyer"
    )
    assert answer["stopDate"] == cloud.clock.now()
    cloud.advance(0)
    assert (execution.status, execution.error, execution.cause) == ("ABORTED", "Withdrawn", "by the buyer")


def test_a_stop_while_a_callback_task_waits_ends_the_history_without_a_task_event(cloud):
    """AWS's history of a stopped execution (localstack's recorded ``test_stop_execution``) ends with
    ExecutionAborted right after the events of the state it stopped in: the task did not time out."""
    execution, _ = waiting(cloud)
    cloud.advance(3)
    cloud.client("stepfunctions").stop_execution(executionArn=execution.arn)
    cloud.advance(0)
    events = cloud.client("stepfunctions").get_execution_history(executionArn=execution.arn)["events"]
    assert [e["type"] for e in events[-3:]] == ["TaskStarted", "TaskSubmitted", "ExecutionAborted"]
    assert events[-1]["executionAbortedEventDetails"] == {}
    assert execution.status == "ABORTED"


def test_a_stop_of_an_execution_that_does_not_exist_is_refused(cloud):
    states = cloud.client("stepfunctions")
    execution, token = waiting(cloud)
    with pytest.raises(states.exceptions.ExecutionDoesNotExist):
        states.stop_execution(executionArn=f"{execution.arn}-gone")
    states.send_task_success(taskToken=token, output="{}")
    cloud.advance(0)
    assert execution.status == "SUCCEEDED"
