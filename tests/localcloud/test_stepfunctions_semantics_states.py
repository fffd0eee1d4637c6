"""Step Functions states on the virtual clock, one cloud for the module: Retry intervals with
BackoffRate and MaxDelaySeconds, retriers tried in order, Wait states of a second and of none,
HeartbeatSeconds of a callback task, a ``.sync`` task's TimeoutSeconds, and the errors a Lambda
task reports for a function it may not invoke or that does not exist."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs

from tests.localcloud.conftest import python_function
from tests.localcloud.test_stepfunctions import machine

pytestmark = pytest.mark.localcloud

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def failing(error: str, **retry) -> dict:
    """A Parallel whose one branch fails with ``error``: a retriable state that needs no function."""
    branch = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": error, "Cause": "it broke"}}}
    return {"Type": "Parallel", "Branches": [branch], **retry, "End": True}


def build(stack: Stack) -> None:
    add = python_function(stack, "Add", "sfn_math", handler="handler.add")
    queue = sqs.Queue(stack, "Tokens")
    machine(
        stack,
        "Backoff",
        {
            "StartAt": "Work",
            "States": {
                "Work": failing(
                    "Boom",
                    Retry=[
                        {"ErrorEquals": ["Other"], "IntervalSeconds": 7, "MaxAttempts": 5},
                        {
                            "ErrorEquals": ["Boom"],
                            "IntervalSeconds": 10,
                            "BackoffRate": 2,
                            "MaxAttempts": 3,
                            "MaxDelaySeconds": 15,
                        },
                    ],
                )
            },
        },
    )
    machine(
        stack,
        "NoRetry",
        {
            "StartAt": "Work",
            "States": {"Work": failing("Boom", Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 0}])},
        },
    )
    machine(
        stack,
        "InTime",
        {
            "StartAt": "Pause",
            "TimeoutSeconds": 60,
            "States": {"Pause": {"Type": "Wait", "Seconds": 10, "End": True}},
        },
    )
    purged = sqs.Queue(stack, "Purged")
    purger = machine(
        stack,
        "Purger",
        {
            "StartAt": "Purge",
            "States": {
                "Purge": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sqs:purgeQueue",
                    "Parameters": {"QueueUrl": purged.queue_url},
                    "End": True,
                }
            },
        },
    )
    purged.grant_purge(purger)
    machine(
        stack,
        "Ticks",
        {
            "StartAt": "Second",
            "States": {
                "Second": {"Type": "Wait", "Seconds": 1, "Next": "None"},
                "None": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        },
    )
    beat = machine(
        stack,
        "Beat",
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue.queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "HeartbeatSeconds": 10,
                    "TimeoutSeconds": 100,
                    "End": True,
                }
            },
        },
    )
    queue.grant_send_messages(beat)
    child = machine(
        stack, "Child", {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 30, "End": True}}}
    )
    parent = machine(
        stack,
        "Impatient",
        {
            "StartAt": "Run",
            "States": {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": child.state_machine_arn, "Input": {}},
                    "TimeoutSeconds": 5,
                    "End": True,
                }
            },
        },
    )
    child.grant_start_execution(parent)
    child.grant_read(parent)
    missing = f"{add.function_arn}-missing"
    for construct_id, state in (
        ("Missing", {"Type": "Task", "Resource": missing, "End": True}),
        (
            "MissingInvoke",
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": missing, "Payload.$": "$"},
                "End": True,
            },
        ),
    ):
        granted = machine(stack, construct_id, {"StartAt": "Call", "States": {"Call": state}})
        granted.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[missing])
        )
    timed = machine(
        stack,
        "Timed",
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": add.function_arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "TimeoutSeconds": 5,
                    "Next": "After",
                },
                "After": {"Type": "Pass", "End": True},
            },
        },
    )
    add.grant_invoke(timed)
    machine(
        stack,
        "Each",
        {
            "StartAt": "Items",
            "States": {
                "Items": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": {
                        "StartAt": "Pause",
                        "States": {"Pause": {"Type": "Wait", "Seconds": 2, "End": True}},
                    },
                    "End": True,
                }
            },
        },
    )
    machine(
        stack,
        "Caught",
        {
            "StartAt": "Work",
            "States": {
                "Work": {
                    **failing("Boom"),
                    "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Handled"}],
                },
                "Handled": {"Type": "Pass", "End": True},
            },
        },
    )
    machine(
        stack,
        "Priced",
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Sum",
            "States": {"Sum": {"Type": "Pass", "Output": "{% $sum($states.input.n) %}", "End": True}},
        },
    )
    times = {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"}
    machine(
        stack,
        "Routed",
        {
            "StartAt": "Stamp",
            "States": {
                "Stamp": {"Type": "Pass", "Parameters": times, "ResultPath": "$.times", "Next": "Route"},
                "Route": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.circuit.state", "StringEquals": "OPEN", "Next": "Open"}],
                    "Default": "Closed",
                },
                "Open": {"Type": "Pass", "End": True},
                "Closed": {"Type": "Pass", "End": True},
            },
        },
    )
    approve = machine(
        stack,
        "Approve",
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue.queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 100,
                    "End": True,
                }
            },
        },
    )
    queue.grant_send_messages(approve)
    retried = machine(
        stack,
        "MissingTwice",
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": missing,
                    "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                    "End": True,
                }
            },
        },
    )
    retried.add_to_role_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[missing]))
    machine(
        stack,
        "Denied",
        {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": add.function_arn, "End": True}}},
    )


@pytest.fixture(scope="module")
def cloud(synth):
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    with LocalCloud(synth("SfnSemanticsStates", build), start=FIXED_START) as started:
        yield started


def spans(cloud, execution, kind: str) -> list:
    """The spans of ``kind`` under ``execution``, at any depth."""
    mine = {execution.span.id}
    found = []
    for span in cloud.trace.spans:
        if span.parent in mine:
            mine.add(span.id)
            if span.kind == kind:
                found.append(span)
    return found


AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_every_kind_of_state_runs_on_the_virtual_clock_side_by_side(cloud):
    """One execution of each kind at once, as the first test: the interpreter is fitted once per
    process, and the mutation tool checks that fitting against the first tests that ran it."""
    states = cloud.client("stepfunctions")
    start = cloud.clock.elapsed()
    ticks = cloud.start_execution("Ticks", {})
    each = cloud.start_execution("Each", {"items": [1, 2]})
    caught = cloud.start_execution("Caught", {"id": 3})
    priced = cloud.start_execution("Priced", {"n": [1, 2]})
    routed = cloud.start_execution("Routed", {"circuit": {}})
    approve = cloud.start_execution("Approve", {})
    backoff = cloud.start_execution("Backoff", {})
    impatient = cloud.start_execution("Impatient", {})
    stopped = cloud.start_execution("Ticks", {})
    states.stop_execution(executionArn=stopped.arn)
    unnamed = states.start_execution(stateMachineArn=cloud.physical_id("Ticks"))["executionArn"]
    cloud.advance(0)

    assert uuid.UUID(cloud.execution(unnamed).name).version == 5
    assert (stopped.status, stopped.states()) == ("ABORTED", [])
    assert (priced.status, priced.output) == ("SUCCEEDED", 3)
    assert (routed.status, routed.error) == ("FAILED", "States.Runtime")
    [stamp] = [e for e in routed.history() if e["type"] == "PassStateExited"]
    stamped = json.loads(stamp["stateExitedEventDetails"]["output"])["times"]
    assert all(AWS_TIME.match(moment) for moment in stamped.values()), stamped
    assert (caught.status, caught.output["error"]["Error"]) == ("SUCCEEDED", "Boom")
    [work] = [s for s in spans(cloud, caught, "state") if s.target == "Work"]
    assert work.outcome == "caught: Boom"
    token = token_of(cloud)
    states.send_task_success(taskToken=token, output='{"approved": true}')
    with pytest.raises(states.exceptions.TaskTimedOut):
        states.send_task_success(taskToken=token, output="{}")
    cloud.advance(0)
    assert (approve.status, approve.output) == ("SUCCEEDED", {"approved": True})

    cloud.advance(1)
    assert (ticks.status, each.status) == ("SUCCEEDED", "RUNNING")
    cloud.advance(1)
    assert (each.status, each.output) == ("SUCCEEDED", [1, 2])
    cloud.advance(3)
    assert (impatient.status, impatient.error) == ("FAILED", "States.Timeout")
    cloud.drain()
    assert (backoff.status, len(spans(cloud, backoff, "retry"))) == ("FAILED", 3)
    assert cloud.clock.elapsed() - start == 40


def test_retriers_are_tried_in_order_and_the_interval_grows_to_its_cap(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Backoff", {})
    cloud.advance(39)
    assert execution.status == "RUNNING"
    cloud.advance(1)
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Boom", "it broke")
    retries = spans(cloud, execution, "retry")
    assert [(r.target, r.detail, r.at - start, r.ended - start) for r in retries] == [
        ("Work", "in 10s", 0, 10),
        ("Work", "in 15s", 10, 25),  # 20 s, capped by MaxDelaySeconds
        ("Work", "in 15s", 25, 40),
    ]
    [work] = [s for s in spans(cloud, execution, "state") if s.target == "Work"]
    assert (work.outcome, work.at - start, work.ended - start) == ("error: Boom", 0, 40)


def test_max_attempts_zero_never_retries(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("NoRetry", {})
    cloud.advance(0)
    assert (execution.status, execution.error) == ("FAILED", "Boom")
    assert not spans(cloud, execution, "retry")
    assert cloud.clock.elapsed() == start


def test_a_wait_of_one_second_waits_it_and_a_wait_of_none_does_not_wait(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Ticks", {"id": 1})
    cloud.advance(0.5)
    assert execution.status == "RUNNING"
    cloud.advance(0.5)
    assert (execution.status, execution.output) == ("SUCCEEDED", {"id": 1})
    states = {s.target: (s.at - start, s.ended - start) for s in spans(cloud, execution, "state")}
    assert states == {"Second": (0, 1), "None": (1, 1), "Done": (1, 1)}


def token_of(cloud) -> str:
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Tokens"))["Messages"]
    cloud.client("sqs").delete_message(
        QueueUrl=cloud.physical_id("Tokens"), ReceiptHandle=message["ReceiptHandle"]
    )
    return json.loads(message["Body"])["token"]


def test_heartbeats_keep_a_callback_task_alive_until_one_is_late(cloud):
    states = cloud.client("stepfunctions")
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Beat", {})
    cloud.advance(0)
    token = token_of(cloud)
    cloud.advance(8)
    states.send_task_heartbeat(taskToken=token)
    cloud.advance(8)
    states.send_task_heartbeat(taskToken=token)
    cloud.advance(9.5)
    assert execution.status == "RUNNING"  # the last heartbeat came at 16: the next is due by 26
    cloud.advance(0.5)
    # A late heartbeat fails the task with States.Timeout (HeartbeatTimeout is for Retry and Catch).
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    assert [e["type"] for e in execution.history() if "TimedOut" in e["type"]] == ["TaskTimedOut"]
    assert cloud.clock.elapsed() - start == 26
    with pytest.raises(states.exceptions.TaskTimedOut):
        states.send_task_heartbeat(taskToken=token)


def test_a_callback_task_with_heartbeats_ends_when_its_token_is_answered(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Beat", {})
    cloud.advance(3)
    cloud.client("stepfunctions").send_task_success(taskToken=token_of(cloud), output='{"ok": true}')
    cloud.advance(0)
    assert (execution.status, execution.output) == ("SUCCEEDED", {"ok": True})
    assert cloud.clock.elapsed() - start == 3


def test_a_sync_task_past_its_timeout_fails_with_states_timeout_at_the_deadline(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Impatient", {})
    cloud.advance(4.5)
    assert execution.status == "RUNNING"
    cloud.advance(0.5)
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    assert [e["type"] for e in execution.history() if "TimedOut" in e["type"]] == ["TaskTimedOut"]
    cloud.drain()  # the child runs on to its own end
    assert cloud.clock.elapsed() - start == 30


def test_a_missing_function_fails_the_task_with_lambdas_not_found_error(cloud):
    direct = cloud.start_execution("Missing", {})
    invoked = cloud.start_execution("MissingInvoke", {})
    cloud.advance(0)
    missing = f"{cloud.function('Add').arn}-missing"
    for execution, event in ((direct, "LambdaFunctionFailed"), (invoked, "TaskFailed")):
        assert (execution.status, execution.error) == ("FAILED", "Lambda.ResourceNotFoundException")
        [failed] = [e for e in execution.history() if e["type"] == event]
        assert execution.cause.startswith("Function not found: ") and missing in execution.cause
        assert (
            "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "
            in (execution.cause)
        )
        assert execution.cause.endswith("; Proxy: null)")
        assert failed[next(key for key in failed if key.endswith("EventDetails"))]["cause"] == execution.cause
    ids = [re.search(r"Request ID: ([^;]+);", e.cause)[1] for e in (direct, invoked)]
    assert all(UUID.match(i) for i in ids) and ids[0] != ids[1]
    [details] = [e["taskFailedEventDetails"] for e in invoked.history() if e["type"] == "TaskFailed"]
    assert (details["resourceType"], details["resource"]) == ("lambda", "invoke")


def test_a_lambda_resource_the_role_may_not_invoke_fails_as_a_lambda_function_failure(cloud):
    execution = cloud.start_execution("Denied", {"value": 1})
    cloud.advance(0)
    assert (execution.status, execution.error) == ("FAILED", "Lambda.AWSLambdaException")
    [failed] = [e for e in execution.history() if e["type"] == "LambdaFunctionFailed"]
    assert failed["lambdaFunctionFailedEventDetails"]["error"] == "Lambda.AWSLambdaException"
    assert "Status Code: 403; Error Code: AccessDeniedException; Request ID: " in execution.cause
    [call] = [s for s in spans(cloud, execution, "state") if s.target == "Call"]
    assert call.outcome == "error: Lambda.AWSLambdaException"


def test_a_start_that_names_no_execution_gets_a_uuid(cloud):
    states = cloud.client("stepfunctions")
    arn = cloud.physical_id("Ticks")
    names = [
        states.describe_execution(executionArn=states.start_execution(stateMachineArn=arn)["executionArn"])[
            "name"
        ]
        for _ in range(2)
    ]
    assert all(UUID.match(name) and uuid.UUID(name).version == 5 for name in names)  # repeatable run to run
    assert names[0] != names[1]
    cloud.drain()


def test_an_execution_that_ends_before_its_timeout_succeeds_when_it_ends(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("InTime", {"id": 2})
    cloud.advance(10)
    assert (execution.status, execution.output) == ("SUCCEEDED", {"id": 2})
    assert cloud.clock.elapsed() - start == 10


def test_an_sdk_action_that_answers_nothing_gives_an_empty_result(cloud):
    execution = cloud.start_execution("Purger", {"keep": 1})
    cloud.advance(0)
    assert (execution.status, execution.output) == ("SUCCEEDED", {}), execution.cause


def test_a_task_that_lasts_exactly_its_timeout_succeeds(cloud):
    """States.Timeout is for a task that runs longer than TimeoutSeconds."""
    cloud.advance(1)  # not at the cloud's first moment, whichever test ran before
    cloud.function("Add").duration = 5
    try:
        start = cloud.clock.elapsed()
        execution = cloud.start_execution("Timed", {"value": 1})
        cloud.advance(5)
    finally:
        cloud.function("Add").duration = 0
    assert (execution.status, execution.output) == ("SUCCEEDED", {"value": 2, "steps": ["add"]}), (
        execution.cause
    )
    states = {s.target: (s.at - start, s.ended - start) for s in spans(cloud, execution, "state")}
    assert states == {"Call": (0, 5), "After": (5, 5)}


def test_callbacks_for_a_token_never_issued_are_refused_as_invalid(cloud):
    states = cloud.client("stepfunctions")
    for call in (
        lambda: states.send_task_heartbeat(taskToken="never-issued"),
        lambda: states.send_task_failure(taskToken="never-issued", error="E"),
    ):
        with pytest.raises(states.exceptions.InvalidToken):
            call()


def test_each_token_answers_its_own_execution_whichever_is_answered_first(cloud):
    first = cloud.start_execution("Beat", {})
    cloud.advance(0)
    first_token = token_of(cloud)
    second = cloud.start_execution("Beat", {})
    cloud.advance(0)
    second_token = token_of(cloud)
    states = cloud.client("stepfunctions")
    states.send_task_failure(taskToken=second_token, error="Rejected", cause="no")
    cloud.advance(0)
    assert (first.status, second.status, second.error, second.cause) == (
        "RUNNING",
        "FAILED",
        "Rejected",
        "no",
    )
    states.send_task_success(taskToken=first_token, output='{"n": 1}')
    cloud.advance(0)
    assert (first.status, first.output) == ("SUCCEEDED", {"n": 1})


def test_stopping_an_execution_that_has_ended_leaves_it_as_it_ended(cloud):
    execution = cloud.start_execution("NoRetry", {})
    cloud.advance(0)
    cloud.client("stepfunctions").stop_execution(executionArn=execution.arn, error="Late", cause="too late")
    cloud.advance(0)
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Boom", "it broke")


def test_each_failure_of_a_task_has_a_request_id_of_its_own(cloud):
    execution = cloud.start_execution("MissingTwice", {})
    cloud.advance(1)
    assert (execution.status, execution.error) == ("FAILED", "Lambda.ResourceNotFoundException")
    failures = [e for e in execution.history() if e["type"] == "LambdaFunctionFailed"]
    ids = [
        re.search(r"Request ID: ([^;]+);", e["lambdaFunctionFailedEventDetails"]["cause"])[1]
        for e in failures
    ]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_drain_does_not_wait_out_a_heartbeat(cloud):
    """As for a task token: what an execution waits for from outside is not something drain can finish."""
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Beat", {})
    cloud.drain()
    assert (execution.status, cloud.clock.elapsed()) == ("RUNNING", start)
    cloud.client("stepfunctions").send_task_success(taskToken=token_of(cloud), output="{}")
    cloud.advance(0)
    assert execution.status == "SUCCEEDED"
