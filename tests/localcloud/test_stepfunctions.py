"""Step Functions offline: executions run by moto's interpreter from the cloud's pump, Lambda tasks
in-process as the state machine's role, Retry and Wait on the virtual clock, Catch, Choice, service
integrations, IAM denials, Express synchronous runs and JSONata."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from localcloud.errors import StateMachineDefinitionError
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud


def machine(stack: Stack, construct_id: str, definition: dict, **kwargs) -> sfn.StateMachine:
    """A state machine from an ASL document; tokens (function ARNs...) become ``Fn::Join``."""
    return sfn.StateMachine(
        stack,
        construct_id,
        definition_body=sfn.DefinitionBody.from_string(stack.to_json_string(definition)),
        **kwargs,
    )


# ---------------------------------------------------------------------------------------- Lambda tasks


def build_chain(stack: Stack) -> None:
    add = python_function(stack, "Add", "sfn_math", handler="handler.add")
    double = python_function(stack, "Double", "sfn_math", handler="handler.double")
    chain = tasks.LambdaInvoke(stack, "AddOne", lambda_function=add, payload_response_only=True).next(
        tasks.LambdaInvoke(stack, "DoubleIt", lambda_function=double, output_path="$.Payload")
    )
    sfn.StateMachine(stack, "Chain", definition_body=sfn.DefinitionBody.from_chainable(chain))


def test_a_lambda_chain_passes_each_output_to_the_next_task(synth, run):
    cloud = run(synth("SfnChain", build_chain))
    execution = cloud.start_execution("Chain", {"value": 1})
    assert execution.status == "RUNNING"  # StartExecution answers at once; the pump runs it

    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"value": 4, "steps": ["add", "double"]}
    assert execution.states() == ["AddOne", "DoubleIt"]
    described = cloud.client("stepfunctions").describe_execution(executionArn=execution.arn)
    assert (described["status"], json.loads(described["output"])["value"]) == ("SUCCEEDED", 4)


def test_an_execution_is_a_span_whose_states_hold_the_invocations(synth, run):
    cloud = run(synth("SfnChain", build_chain))
    execution = cloud.start_execution("Chain", {"value": 1})
    cloud.drain()

    span = execution.span
    assert (span.kind, span.source, span.parent, span.outcome) == ("execution", "test", None, "SUCCEEDED")
    states = [s for s in cloud.trace.spans if s.parent == span.id]
    assert [(s.target, s.detail) for s in states] == [("AddOne", "Task"), ("DoubleIt", "Task")]
    invocations = cloud.trace.find("invoke")
    assert [i.target for i in invocations] == [cloud.function("Add").name, cloud.function("Double").name]
    assert [i.parent for i in invocations] == [s.id for s in states]
    assert {i.source for i in invocations} == {execution.state_machine}


# ---------------------------------------------------------------------------------------- Retry and Catch


def flaky_task(flaky, **extra) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": flaky.function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


def build_retries(stack: Stack) -> None:
    table = pk_table(stack, "Attempts")
    flaky = python_function(stack, "Flaky", "sfn_flaky", environment={"TABLE_NAME": table.table_name})
    table.grant_read_write_data(flaky)
    retry = {"ErrorEquals": ["TransientError"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}
    flow = machine(
        stack,
        "Flow",
        {
            "StartAt": "Process",
            "States": {
                "Process": flaky_task(
                    flaky,
                    Retry=[retry],
                    Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fallback"}],
                    End=True,
                ),
                "Fallback": {"Type": "Pass", "Result": "compensated", "ResultPath": "$.outcome", "End": True},
            },
        },
    )
    uncaught = machine(
        stack, "Uncaught", {"StartAt": "Process", "States": {"Process": flaky_task(flaky, End=True)}}
    )
    flaky.grant_invoke(flow)
    flaky.grant_invoke(uncaught)


def test_retry_backs_off_on_the_virtual_clock_until_the_task_succeeds(synth, run):
    cloud = run(synth("SfnRetries", build_retries))
    execution = cloud.start_execution("Flow", {"id": "o-1", "failures": 2})

    cloud.advance(5)  # attempts at t=0 and t=2 failed; the third is due at t=2+4
    assert execution.status == "RUNNING"
    cloud.advance(1)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"id": "o-1", "attempts": 3}
    attempts = cloud.trace.find("invoke")
    assert [(span.at, span.outcome) for span in attempts] == [
        (0, "error: TransientError"),
        (2, "error: TransientError"),
        (6, "ok"),
    ]
    assert [(s.target, s.detail) for s in cloud.trace.find("retry")] == [
        ("Process", "in 2s"),
        ("Process", "in 4s"),
    ]
    failed = [e for e in execution.history() if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["TransientError"] * 2


def test_when_retries_run_out_catch_hands_the_error_to_the_fallback(synth, run):
    cloud = run(synth("SfnRetries", build_retries))
    execution = cloud.start_execution("Flow", {"id": "o-2", "failures": 9})
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states() == ["Process", "Fallback"]
    assert len(cloud.trace.find("invoke")) == 4  # the first attempt and three retries
    assert cloud.clock.elapsed() == 2 + 4 + 8
    output = execution.output
    assert (output["outcome"], output["error"]["Error"]) == ("compensated", "TransientError")
    assert "attempt 4 of o-2 failed" in json.loads(output["error"]["Cause"])["errorMessage"]
    [process] = cloud.trace.find("state", target="Process")
    assert process.outcome == "caught: TransientError"


def test_a_permanent_error_skips_the_retries_and_an_uncaught_one_fails_the_execution(synth, run):
    cloud = run(synth("SfnRetries", build_retries))
    caught = cloud.start_execution("Flow", {"id": "o-3", "permanent": True})
    uncaught = cloud.start_execution("Uncaught", {"id": "o-4", "permanent": True})
    cloud.drain()

    assert caught.states() == ["Process", "Fallback"]
    assert caught.output["error"]["Error"] == "PermanentError"
    assert uncaught.status == "FAILED"
    assert uncaught.error == "PermanentError"
    assert json.loads(uncaught.cause)["errorMessage"] == "order o-4 cannot be processed"
    assert uncaught.span.outcome == "FAILED"
    assert cloud.clock.elapsed() == 0  # no retry matched: nothing waited


# ---------------------------------------------------------------------------------------- Wait and Choice


def build_waits(stack: Stack) -> None:
    wait = sfn.Wait(stack, "FiveMinutes", time=sfn.WaitTime.duration(Duration.minutes(5)))
    sfn.StateMachine(
        stack,
        "Waiter",
        definition_body=sfn.DefinitionBody.from_chainable(wait.next(sfn.Pass(stack, "Done"))),
    )
    machine(
        stack,
        "Router",
        {
            "StartAt": "Route",
            "States": {
                "Route": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.kind", "StringEquals": "express", "Next": "Express"},
                        {"Variable": "$.weight", "NumericGreaterThan": 20, "Next": "Freight"},
                    ],
                    "Default": "Standard",
                },
                "Express": {"Type": "Pass", "Result": "express", "End": True},
                "Freight": {"Type": "Pass", "Result": "freight", "End": True},
                "Standard": {"Type": "Pass", "Result": "standard", "End": True},
            },
        },
    )
    machine(
        stack,
        "Bounded",
        {
            "StartAt": "Forever",
            "TimeoutSeconds": 60,
            "States": {"Forever": {"Type": "Wait", "Seconds": 3600, "End": True}},
        },
    )


def test_a_wait_state_finishes_only_when_virtual_time_reaches_it(synth, run):
    cloud = run(synth("SfnWaits", build_waits))
    execution = cloud.start_execution("Waiter", {"id": 1})

    cloud.advance(299)
    assert execution.status == "RUNNING"
    assert execution.states() == ["FiveMinutes"]
    cloud.advance(1)
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"id": 1}
    [wait] = cloud.trace.find("state", target="FiveMinutes")
    assert (wait.at, wait.ended) == (0, 300)


def test_drain_runs_a_waiting_execution_to_its_end_on_virtual_time(synth, run):
    cloud = run(synth("SfnWaits", build_waits))
    execution = cloud.start_execution("Waiter", {})
    cloud.drain()
    assert (execution.status, cloud.clock.elapsed()) == ("SUCCEEDED", 300)


def test_a_definition_timeout_ends_a_waiting_execution_as_timed_out(synth, run):
    cloud = run(synth("SfnWaits", build_waits))
    execution = cloud.start_execution("Bounded", {})
    cloud.advance(59)
    assert execution.status == "RUNNING"
    cloud.advance(1)
    assert execution.status == "TIMED_OUT"
    assert execution.history()[-1]["type"] == "ExecutionTimedOut"


def test_stopping_a_waiting_execution_aborts_it(synth, run):
    cloud = run(synth("SfnWaits", build_waits))
    execution = cloud.start_execution("Waiter", {})
    cloud.advance(10)
    cloud.client("stepfunctions").stop_execution(
        executionArn=execution.arn, error="Cancelled", cause="by test"
    )
    cloud.drain()
    assert execution.status == "ABORTED"
    assert cloud.clock.elapsed() == 10


def test_an_execution_stopped_before_its_first_turn_never_runs(synth, run):
    cloud = run(synth("SfnChain", build_chain))
    execution = cloud.start_execution("Chain", {"value": 1})
    cloud.client("stepfunctions").stop_execution(executionArn=execution.arn)
    cloud.drain()
    assert (execution.status, execution.span.outcome) == ("ABORTED", "ABORTED")
    assert not cloud.trace.find("invoke")


@pytest.mark.parametrize(
    ("order", "route"),
    [
        ({"kind": "express"}, "Express"),
        ({"kind": "parcel", "weight": 25}, "Freight"),
        ({"kind": "parcel", "weight": 3}, "Standard"),
    ],
)
def test_a_choice_routes_on_the_input(synth, run, order, route):
    """Each rule's path is in the input: one that is not fails the execution (test_stepfunctions_fidelity.py)."""
    cloud = run(synth("SfnWaits", build_waits))
    execution = cloud.start_execution("Router", order)
    cloud.drain()
    assert execution.states() == ["Route", route]
    assert execution.output == route.lower()


# ---------------------------------------------------------------------------------------- service integrations and IAM


def build_integrations(stack: Stack) -> None:
    table = pk_table(stack, "Orders")
    add = python_function(stack, "Add", "sfn_math", handler="handler.add")
    store = machine(
        stack,
        "Store",
        {
            "StartAt": "Put",
            "States": {
                "Put": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {
                        "TableName": table.table_name,
                        "Item": {"pk": {"S.$": "$.id"}, "status": {"S": "placed"}},
                    },
                    "ResultPath": "$.put",
                    "Next": "Get",
                },
                "Get": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                    "Parameters": {"TableName": table.table_name, "Key": {"pk": {"S.$": "$.id"}}},
                    "ResultSelector": {"status.$": "$.Item.status.S"},
                    "End": True,
                },
            },
        },
    )
    table.grant_read_write_data(store)
    machine(
        stack,
        "Denied",
        {
            "StartAt": "Invoke",
            "States": {
                "Invoke": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": add.function_arn, "Payload.$": "$"},
                    "Catch": [{"ErrorEquals": ["Lambda.AWSLambdaException"], "Next": "Refused"}],
                    "End": True,
                },
                "Refused": {"Type": "Pass", "End": True},
            },
        },
    )
    machine(
        stack,
        "Reader",
        {
            "StartAt": "Get",
            "States": {
                "Get": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                    "Parameters": {"TableName": table.table_name, "Key": {"pk": {"S": "o-1"}}},
                    "End": True,
                }
            },
        },
    )


def test_dynamodb_integrations_write_and_read_the_table_as_the_role(synth, run):
    cloud = run(synth("SfnIntegrations", build_integrations))
    execution = cloud.start_execution("Store", {"id": "o-1"})
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"status": "placed"}
    item = cloud.client("dynamodb").get_item(TableName=cloud.physical_id("Orders"), Key={"pk": {"S": "o-1"}})
    assert item["Item"]["status"] == {"S": "placed"}
    assert not [g for g in cloud.iam.unused_grants() if "dynamodb:PutItem" in g and "Store" in g]


def test_a_lambda_task_the_role_may_not_invoke_fails_as_aws_fails_it_and_catch_takes_it(synth, run):
    cloud = run(synth("SfnIntegrations", build_integrations))
    execution = cloud.start_execution("Denied", {"value": 1})
    cloud.drain()

    assert execution.states() == ["Invoke", "Refused"]
    [failed] = [e for e in execution.history() if e["type"] == "TaskFailed"]
    details = failed["taskFailedEventDetails"]
    assert details["error"] == "Lambda.AWSLambdaException"
    assert "is not authorized to perform: lambda:InvokeFunction on resource" in details["cause"]
    assert "Error Code: AccessDeniedException" in details["cause"]
    assert not cloud.trace.find("invoke")
    [denied] = cloud.trace.find("denied")
    assert (denied.source, denied.outcome) == (execution.state_machine, "AccessDenied")


def test_a_service_call_the_role_may_not_make_fails_the_execution(synth, run):
    cloud = run(synth("SfnIntegrations", build_integrations))
    execution = cloud.start_execution("Reader", {})
    cloud.drain()

    assert execution.status == "FAILED"
    assert execution.error == "DynamoDb.DynamoDbException"  # as the aws-sdk integration names it
    assert "is not authorized to perform: dynamodb:GetItem" in execution.cause


# ---------------------------------------------------------------------------------------- Express


def build_express(stack: Stack) -> None:
    add = python_function(stack, "Add", "sfn_math", handler="handler.add")
    express = machine(
        stack,
        "Quick",
        {
            "StartAt": "AddOne",
            "States": {
                "AddOne": {"Type": "Task", "Resource": add.function_arn, "Next": "Pause"},
                "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Check"},
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.value", "NumericGreaterThan": 10, "Next": "TooBig"}],
                    "Default": "Done",
                },
                "TooBig": {"Type": "Fail", "Error": "TooBig", "Cause": "the value passed 10"},
                "Done": {"Type": "Succeed"},
            },
        },
        state_machine_type=sfn.StateMachineType.EXPRESS,
    )
    add.grant_invoke(express)
    machine(stack, "Slow", {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    caller = machine(
        stack,
        "Caller",
        {
            "StartAt": "AskQuick",
            "States": {
                "AskQuick": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
                    "Parameters": {"StateMachineArn": express.state_machine_arn, "Input": {"value": 4}},
                    "ResultSelector": {"status.$": "$.Status", "output.$": "States.StringToJson($.Output)"},
                    "End": True,
                }
            },
        },
    )
    express.grant_start_sync_execution(caller)


def test_a_synchronous_express_execution_answers_with_its_output(synth, run):
    cloud = run(synth("SfnExpress", build_express))
    states = cloud.client("stepfunctions")

    answer = states.start_sync_execution(stateMachineArn=cloud.physical_id("Quick"), input='{"value": 1}')

    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"value": 2, "steps": ["add"]}
    assert cloud.clock.elapsed() == 2  # the Wait moved virtual time; nothing slept
    assert ":express:" in answer["executionArn"]
    execution = cloud.execution(answer["executionArn"])
    assert execution.states() == ["AddOne", "Pause", "Check", "Done"]
    assert execution.span.kind == "sync-execution"


def test_a_synchronous_express_execution_answers_with_its_failure(synth, run):
    cloud = run(synth("SfnExpress", build_express))
    answer = cloud.client("stepfunctions").start_sync_execution(
        stateMachineArn=cloud.physical_id("Quick"), input='{"value": 10}'
    )
    assert (answer["status"], answer["error"], answer["cause"]) == ("FAILED", "TooBig", "the value passed 10")
    assert "output" not in answer


def test_a_state_machine_can_run_an_express_one_synchronously_through_the_sdk(synth, run):
    cloud = run(synth("SfnExpress", build_express))
    execution = cloud.start_execution("Caller", {})
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"status": "SUCCEEDED", "output": {"value": 5, "steps": ["add"]}}
    [inner] = cloud.trace.find("sync-execution")
    assert cloud.trace.spans[inner.parent - 1].target == "AskQuick"
    assert cloud.clock.elapsed() == 2


def test_start_sync_execution_refuses_a_standard_machine_and_bad_input(synth, run):
    cloud = run(synth("SfnExpress", build_express))
    states = cloud.client("stepfunctions")
    with pytest.raises(states.exceptions.ClientError, match="StateMachineTypeNotSupported"):
        states.start_sync_execution(stateMachineArn=cloud.physical_id("Slow"))
    with pytest.raises(states.exceptions.ClientError, match="InvalidExecutionInput"):
        states.start_sync_execution(stateMachineArn=cloud.physical_id("Quick"), input="{not json")
    missing = cloud.physical_id("Quick") + "Gone"
    with pytest.raises(states.exceptions.ClientError, match="StateMachineDoesNotExist"):
        states.start_sync_execution(stateMachineArn=missing)


def test_an_input_over_256_kib_is_refused_by_both_starts_and_one_at_the_limit_starts(synth, run):
    cloud = run(synth("SfnExpress", build_express))
    states = cloud.client("stepfunctions")
    at_limit = json.dumps({"value": 1, "pad": "x" * (262_144 - len('{"value": 1, "pad": ""}'))})
    assert len(at_limit.encode()) == 262_144
    over = at_limit.replace('"value": 1', '"value": "\u00e9"')  # one character, two bytes of UTF-8
    for start, machine_id in ((states.start_sync_execution, "Quick"), (states.start_execution, "Slow")):
        with pytest.raises(states.exceptions.ClientError, match="less than or equal to 262144") as refused:
            start(stateMachineArn=cloud.physical_id(machine_id), input=over)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert states.list_executions(stateMachineArn=cloud.physical_id("Slow"))["executions"] == []
    states.start_execution(stateMachineArn=cloud.physical_id("Slow"), input=at_limit)
    assert len(states.list_executions(stateMachineArn=cloud.physical_id("Slow"))["executions"]) == 1


def test_start_sync_execution_is_authorized_against_the_callers_role(synth, run):
    cloud = run(synth("SfnExpress", build_express))
    caller = cloud.function("Add").role_arn  # a role with no states:StartSyncExecution grant
    client = cloud.client_as(caller, "stepfunctions", "caller")
    with pytest.raises(client.exceptions.ClientError, match="states:StartSyncExecution"):
        client.start_sync_execution(stateMachineArn=cloud.physical_id("Quick"))


# ---------------------------------------------------------------------------------------- JSONata


def build_jsonata(stack: Stack) -> None:
    add = python_function(stack, "Add", "sfn_math", handler="handler.add")
    flow = machine(
        stack,
        "Priced",
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Compute",
            "States": {
                "Compute": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Arguments": {
                        "FunctionName": add.function_arn,
                        "Payload": {"value": "{% $sum($states.input.items.price) %}"},
                    },
                    "Output": "{% $states.result.Payload %}",
                    "Assign": {"currency": "{% $states.input.currency %}"},
                    "Next": "Large",
                },
                "Large": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.value > 100 %}", "Next": "Discount"}],
                    "Default": "Total",
                },
                "Discount": {
                    "Type": "Pass",
                    "Output": {"total": "{% $states.input.value - 10 %}", "currency": "{% $currency %}"},
                    "End": True,
                },
                "Total": {
                    "Type": "Pass",
                    "Output": {"total": "{% $states.input.value %}", "currency": "{% $currency %}"},
                    "End": True,
                },
            },
        },
    )
    add.grant_invoke(flow)


def test_jsonata_states_compute_arguments_conditions_and_outputs(synth, run):
    cloud = run(synth("SfnJsonata", build_jsonata))
    small = cloud.start_execution("Priced", {"currency": "EUR", "items": [{"price": 3}, {"price": 4}]})
    large = cloud.start_execution("Priced", {"currency": "USD", "items": [{"price": 100}, {"price": 8}]})
    cloud.drain()

    assert small.output == {"total": 8, "currency": "EUR"}
    assert large.states() == ["Compute", "Large", "Discount"]
    assert large.output == {"total": 99, "currency": "USD"}


def build_jsonata_text(stack: Stack) -> None:
    machine(
        stack,
        "Measured",
        {
            "QueryLanguage": "JSONata",
            "StartAt": "Measure",
            "States": {
                "Measure": {
                    "Type": "Pass",
                    "Output": {
                        "length": "{% $length($states.input.text) %}",
                        "text": "{% $states.input.text %}",
                        "first": "{% $substring($states.input.text, 0, 1) %}",
                    },
                    "End": True,
                }
            },
        },
    )


@pytest.mark.parametrize(
    ("text", "length"), [("\U0001f600\U0001f600", 2), ("caf\u00e9 \U0001f600", 6), ("a\ud83d", 2)]
)
def test_jsonata_counts_characters_as_code_points_as_aws_does(synth, run, text, length):
    """An emoji in the input is one character to JSONata on AWS, not the two UTF-16 units its JSON escape has."""
    cloud = run(synth("SfnJsonataText", build_jsonata_text))
    measured = cloud.start_execution("Measured", {"text": text})
    cloud.drain()
    assert measured.output == {"length": length, "text": text, "first": text[0]}


# ---------------------------------------------------------------------------------------- Parallel, Map, callbacks, nesting


def build_fan_out(stack: Stack) -> None:
    add = python_function(stack, "Add", "sfn_math", handler="handler.add")
    queue = sqs.Queue(stack, "Approvals")
    branch = {"Type": "Task", "Resource": add.function_arn}
    flow = machine(
        stack,
        "FanOut",
        {
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {
                            "StartAt": "Soon",
                            "States": {
                                "Soon": {"Type": "Wait", "Seconds": 10, "Next": "A"},
                                "A": {**branch, "End": True},
                            },
                        },
                        {
                            "StartAt": "Later",
                            "States": {
                                "Later": {"Type": "Wait", "Seconds": 30, "Next": "B"},
                                "B": {**branch, "End": True},
                            },
                        },
                    ],
                    "Next": "Each",
                },
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {"StartAt": "Double", "States": {"Double": {**branch, "End": True}}},
                    "End": True,
                },
            },
        },
    )
    add.grant_invoke(flow)
    approval = machine(
        stack,
        "Approval",
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": queue.queue_url,
                        "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.id"},
                    },
                    "TimeoutSeconds": 600,
                    "End": True,
                }
            },
        },
    )
    queue.grant_send_messages(approval)
    deadline = machine(
        stack,
        "Deadline",
        {
            "StartAt": "Ask",
            "TimeoutSeconds": 60,
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue.queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        },
    )
    queue.grant_send_messages(deadline)
    parent = machine(
        stack,
        "Parent",
        {
            "StartAt": "Child",
            "States": {
                "Child": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": flow.state_machine_arn, "Input": {"value": 1}},
                    "OutputPath": "$.Output",
                    "End": True,
                }
            },
        },
    )
    flow.grant_start_execution(parent)
    flow.grant_read(parent)


def test_parallel_branches_wait_side_by_side_and_map_runs_each_item(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    execution = cloud.start_execution("FanOut", {"value": 1})
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    assert cloud.clock.elapsed() == 30  # the branches waited 10 s and 30 s at the same time
    assert [item["value"] for item in execution.output] == [3, 3]
    [both] = cloud.trace.find("state", target="Both")
    branch_states = [s.target for s in cloud.trace.spans if s.parent == both.id]
    assert sorted(branch_states) == ["A", "B", "Later", "Soon"]
    [a] = cloud.trace.find("state", target="A")
    assert (a.at, [i.at for i in cloud.trace.find("invoke") if i.parent == a.id]) == (10, [10])


def test_a_task_token_holds_the_execution_until_the_callback(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    execution = cloud.start_execution("Approval", {"id": "o-7"})
    cloud.drain()
    assert execution.status == "RUNNING"  # waiting for a token is not something drain can finish

    sqs_client = cloud.client("sqs")
    [message] = sqs_client.receive_message(QueueUrl=cloud.physical_id("Approvals"))["Messages"]
    body = json.loads(message["Body"])
    assert body["order"] == "o-7"
    stranger = cloud.client_as(cloud.function("Add").role_arn, "stepfunctions", "stranger")
    with pytest.raises(
        stranger.exceptions.ClientError, match=r"states:SendTaskSuccess on resource: arn:.*Approval"
    ):
        stranger.send_task_success(taskToken=body["token"], output="{}")  # authorized on its machine
    cloud.client("stepfunctions").send_task_success(taskToken=body["token"], output='{"approved": true}')
    cloud.drain()
    assert (execution.status, execution.output) == ("SUCCEEDED", {"approved": True})


def test_a_task_token_that_never_comes_times_out_on_the_virtual_clock(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    execution = cloud.start_execution("Approval", {"id": "o-8"})
    cloud.advance(599)
    assert execution.status == "RUNNING"
    cloud.advance(1)
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")


def test_a_token_is_answered_once_and_only_with_json_as_step_functions_allows(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    sfn_client = cloud.client("stepfunctions")
    execution = cloud.start_execution("Approval", {"id": "o-9"})
    cloud.drain()
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Approvals"))["Messages"]
    token = json.loads(message["Body"])["token"]

    with pytest.raises(sfn_client.exceptions.InvalidOutput):
        sfn_client.send_task_success(taskToken=token, output="approved")
    with pytest.raises(sfn_client.exceptions.InvalidToken) as invalid:
        sfn_client.send_task_success(taskToken="not-a-token", output="{}")
    assert invalid.value.response["Error"]["Message"] == "Invalid Token: 'Invalid token'", "AWS's words"
    sfn_client.send_task_heartbeat(taskToken=token)
    sfn_client.send_task_success(taskToken=token, output='{"approved": true}')
    # The task the token stood for is gone once answered, even before the execution goes on.
    for late in (
        lambda: sfn_client.send_task_success(taskToken=token, output="{}"),
        lambda: sfn_client.send_task_failure(taskToken=token, error="Late"),
        lambda: sfn_client.send_task_heartbeat(taskToken=token),
    ):
        with pytest.raises(sfn_client.exceptions.TaskTimedOut, match="does not exist anymore"):
            late()
    cloud.drain()
    assert (execution.status, execution.output) == ("SUCCEEDED", {"approved": True})
    with pytest.raises(sfn_client.exceptions.TaskTimedOut):
        sfn_client.send_task_failure(taskToken=token, error="Late")


def test_a_task_failure_sent_for_a_token_fails_the_execution_with_its_error_and_cause(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    execution = cloud.start_execution("Approval", {"id": "o-11"})
    cloud.drain()
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Approvals"))["Messages"]
    token = json.loads(message["Body"])["token"]
    cloud.client("stepfunctions").send_task_failure(taskToken=token, error="Rejected", cause="over budget")
    cloud.drain()
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Rejected", "over budget")


def test_an_execution_past_its_timeout_while_awaiting_a_token_times_out(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    execution = cloud.start_execution("Deadline", {})
    cloud.advance(59)
    assert execution.status == "RUNNING"
    cloud.advance(1)
    assert execution.status == "TIMED_OUT"
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Approvals"))["Messages"]
    sfn_client = cloud.client("stepfunctions")
    with pytest.raises(sfn_client.exceptions.TaskTimedOut):
        sfn_client.send_task_success(taskToken=json.loads(message["Body"])["token"], output="{}")


def test_an_execution_stopped_while_awaiting_a_token_is_aborted_and_its_token_gone(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    execution = cloud.start_execution("Approval", {"id": "o-10"})
    cloud.drain()
    sfn_client = cloud.client("stepfunctions")
    cloud.advance(5)
    stopped = sfn_client.stop_execution(executionArn=execution.arn, error="Withdrawn", cause="by the buyer")
    assert stopped["stopDate"] == cloud.clock.now()
    cloud.drain()
    assert (execution.status, execution.error, execution.cause) == ("ABORTED", "Withdrawn", "by the buyer")
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Approvals"))["Messages"]
    with pytest.raises(sfn_client.exceptions.TaskTimedOut):
        sfn_client.send_task_success(taskToken=json.loads(message["Body"])["token"], output="{}")


def test_a_nested_execution_runs_and_the_parent_waits_for_its_output(synth, run):
    cloud = run(synth("SfnFanOut", build_fan_out))
    parent = cloud.start_execution("Parent", {})
    cloud.drain()

    assert parent.status == "SUCCEEDED", parent.cause
    assert [item["value"] for item in parent.output] == [3, 3]
    assert cloud.clock.elapsed() == 31  # the child's 30 s, and the parent's next look at it
    [child] = [s for s in cloud.trace.find("execution") if s.parent is not None]
    assert cloud.trace.spans[child.parent - 1].target == "Child"


# ---------------------------------------------------------------------------------------- definitions the cloud cannot run


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:123456789012:activity:approve",
                "End": True,
            },
            "state 'Work': activity task .* activities are not supported offline",
        ),
        (
            {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True},
            "state 'Work': .* the ecs integration is not supported offline",
        ),
        (
            {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem.waitForTaskToken", "End": True},
            r"state 'Work': .*\.waitForTaskToken is not supported for dynamodb:putItem",
        ),
        ({"Type": "Wait", "End": True}, "state 'Work': moto's interpreter cannot parse it"),
    ],
)
def test_a_definition_the_cloud_cannot_run_is_refused_naming_the_machine_and_state(
    synth, run, state, message
):
    def build(stack: Stack) -> None:
        machine(
            stack,
            "Odd",
            {"StartAt": "First", "States": {"First": {"Type": "Pass", "Next": "Work"}, "Work": state}},
        )

    name = f"SfnOdd{abs(hash(json.dumps(state))) % 10_000}"
    with pytest.raises(StateMachineDefinitionError, match=f"state machine {name}-Odd.*{message}"):
        run(synth(name, build))


# ---------------------------------------------------------------------------------------- logging and starts from functions


def build_logged(stack: Stack) -> None:
    group = logs.LogGroup(stack, "Executions")
    machine(
        stack,
        "Logged",
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}},
        logs=sfn.LogOptions(destination=group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )


def test_an_execution_logs_its_events_to_the_log_group_without_its_data(synth, run):
    cloud = run(synth("SfnLogged", build_logged))
    execution = cloud.start_execution("Logged", {"secret": "s3cr3t"})
    cloud.drain()

    group = cloud.physical_id("Executions")
    events = cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    types = [json.loads(e["message"])["type"] for e in events]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert all(json.loads(e["message"])["execution_arn"] == execution.arn for e in events)
    assert not any("s3cr3t" in e["message"] for e in events)
