"""Step Functions executions as the API shows them: what StopExecution and a failure leave in
DescribeExecution and the trace, the names a start without one gets, StartSyncExecution's answer,
execution logs (one stream per execution, on the virtual clock, without execution data unless
asked, seen by the log group's subscription filter), and state machines provisioned from a
template (each provisioning case on its own: test_stepfunctions_provision). One cloud from a
hand-written template (no synth)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.services.stepfunctions.provision import LOG_DELIVERY_ACTIONS

pytestmark = pytest.mark.localcloud


def trusting(service: str, *statements: dict) -> dict:
    properties: dict = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"{service}.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    }
    if statements:
        properties["Policies"] = [
            {
                "PolicyName": "Grants",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def logging_to_group(include_data: bool) -> dict:
    return {
        "Level": "ALL",
        "IncludeExecutionData": include_data,
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["Executions", "Arn"]}}}],
    }


def machine(definition: dict, **properties) -> dict:
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps(definition),
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            **properties,
        },
    }


def describing(include_data: bool) -> dict:
    """A machine whose one task has parameters (the stream's name): execution data in its logs."""
    return machine(
        {
            "StartAt": "Describe",
            "States": {
                "Describe": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:kinesis:describeStreamSummary",
                    "Parameters": {"StreamName": "${Feed}"},
                    "ResultSelector": {"shards.$": "$.StreamDescriptionSummary.OpenShardCount"},
                    "End": True,
                }
            },
        },
        DefinitionSubstitutions={"Feed": {"Ref": "Feed"}},
        LoggingConfiguration=logging_to_group(include_data),
    )


WAITS = {
    "StartAt": "Pause",
    "States": {
        "Pause": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}

TEMPLATE = {
    "Resources": {
        "Role": trusting(
            "states",
            {
                "Effect": "Allow",
                "Action": "kinesis:DescribeStreamSummary",
                "Resource": {"Fn::GetAtt": ["Feed", "Arn"]},
            },
            {"Effect": "Allow", "Action": list(LOG_DELIVERY_ACTIONS), "Resource": "*"},
        ),
        "Executions": {"Type": "AWS::Logs::LogGroup"},
        "Feed": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "LogsRole": trusting(
            "logs",
            {"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": {"Fn::GetAtt": ["Feed", "Arn"]}},
        ),
        "Subscription": {
            "Type": "AWS::Logs::SubscriptionFilter",
            "Properties": {
                "LogGroupName": {"Ref": "Executions"},
                "FilterPattern": "",
                "DestinationArn": {"Fn::GetAtt": ["Feed", "Arn"]},
                "RoleArn": {"Fn::GetAtt": ["LogsRole", "Arn"]},
            },
        },
        "Waiter": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": "waiter-by-name",
                "Definition": {
                    "StartAt": "Greet",
                    "States": {
                        "Greet": {
                            "Type": "Pass",
                            "Result": {
                                "greeting": "${Greeting}",
                                "count": "n=${Count}",
                                "unknown": "${Missing}",
                            },
                            "ResultPath": "$.made",
                            "Next": "Pause",
                        },
                        **WAITS["States"],
                    },
                },
                "DefinitionSubstitutions": {"Greeting": "hello", "Count": 3},
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "LoggingConfiguration": logging_to_group(False),
                "TracingConfiguration": {"Enabled": True},
            },
        },
        "Describing": describing(True),
        "DescribingQuietly": describing(False),
        "Failing": machine(
            {
                "StartAt": "Pause",
                "States": {
                    "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Boom"},
                    "Boom": {"Type": "Fail", "Error": "Boom", "Cause": "exploded"},
                },
            }
        ),
        "Quick": machine(WAITS, StateMachineType="EXPRESS"),
    }
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(StackArtifact("SfnExecutions", TEMPLATE, Path(".")), start=FIXED_START) as running:
        yield running


def described(cloud: LocalCloud, execution) -> dict:
    return cloud.client("stepfunctions").describe_execution(executionArn=execution.arn)


# ---------------------------------------------------------------------------------------- outcomes


def test_stop_execution_leaves_its_error_and_cause_in_describe_execution_and_the_trace(cloud):
    began = cloud.clock.elapsed()
    execution = cloud.start_execution("Failing", {})
    assert execution.span.outcome == "RUNNING"
    cloud.advance(1)
    cloud.client("stepfunctions").stop_execution(
        executionArn=execution.arn, error="Withdrawn", cause="by the buyer"
    )
    cloud.drain()

    answer = described(cloud, execution)
    assert (answer["status"], answer["error"], answer["cause"]) == ("ABORTED", "Withdrawn", "by the buyer")
    assert (execution.error, execution.cause) == ("Withdrawn", "by the buyer")
    span = execution.span
    assert (span.kind, span.target, span.outcome, span.ended - began) == (
        "execution",
        execution.state_machine,
        "ABORTED",
        1,
    )
    assert (span.data["error"], span.data["cause"], span.data["execution_arn"]) == (
        "Withdrawn",
        "by the buyer",
        execution.arn,
    )


def test_an_execution_stopped_before_its_first_turn_is_aborted_at_the_stop_with_its_reason(cloud):
    execution = cloud.start_execution("Failing", {})
    stopped = cloud.client("stepfunctions").stop_execution(
        executionArn=execution.arn, error="Early", cause="never ran"
    )
    cloud.drain()

    answer = described(cloud, execution)
    assert (answer["status"], answer["error"], answer["cause"]) == ("ABORTED", "Early", "never ran")
    assert answer["stopDate"] == stopped["stopDate"]
    assert (execution.span.outcome, execution.span.data["error"]) == ("ABORTED", "Early")
    assert execution.states() == []


def test_a_failed_execution_keeps_the_fail_states_error_in_its_span_and_a_success_none(cloud):
    began = cloud.clock.elapsed()
    failed = cloud.start_execution("Failing", {})
    cloud.drain()
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "Boom", "exploded")
    assert (failed.span.outcome, failed.span.ended - began) == ("FAILED", 2)
    assert (failed.span.data["error"], failed.span.data["cause"]) == ("Boom", "exploded")
    assert (described(cloud, failed)["error"], described(cloud, failed)["cause"]) == ("Boom", "exploded")

    succeeded = cloud.start_execution("Quick", {})
    cloud.drain()
    assert (succeeded.status, succeeded.span.outcome) == ("SUCCEEDED", "SUCCEEDED")
    assert "error" not in succeeded.span.data and "cause" not in succeeded.span.data
    assert "xray" not in succeeded.span.data  # not traced


# ---------------------------------------------------------------------------------------- synchronous runs


def test_a_synchronous_run_answers_with_its_name_its_express_arn_and_the_clock_moved_over_its_wait(cloud):
    states = cloud.client("stepfunctions")
    began = cloud.clock.now()
    arn = cloud.physical_id("Quick")
    name = arn.rsplit(":", 1)[-1]

    named = states.start_sync_execution(stateMachineArn=arn, name="run-1", input='{"n": 1}')
    unnamed = states.start_sync_execution(stateMachineArn=arn)

    where = "arn:aws:states:us-east-1:123456789012:express"
    assert named["executionArn"].startswith(f"{where}:{name}:run-1:")
    assert (
        str(uuid.UUID(named["executionArn"].rsplit(":", 1)[-1])) == named["executionArn"].rsplit(":", 1)[-1]
    )
    assert (named["status"], json.loads(named["output"]), named["name"]) == ("SUCCEEDED", {"n": 1}, "run-1")
    assert f"{named['status']}" == "SUCCEEDED", "a plain string, as botocore parses it from AWS's answer"
    assert named["startDate"] == began and named["stopDate"] == began + timedelta(seconds=3)
    assert json.loads(unnamed["output"]) == {}
    generated = unnamed["name"]
    assert str(uuid.UUID(generated)) == generated and generated != "run-1"
    assert unnamed["executionArn"].startswith(f"{where}:{name}:{generated}:")
    assert cloud.clock.now() == began + timedelta(seconds=6)
    assert cloud.execution(named["executionArn"]).span.kind == "sync-execution"


def test_names_a_start_leaves_out_are_uuids_distinct_and_repeatable_run_to_run(cloud):
    states = cloud.client("stepfunctions")
    arn = cloud.physical_id("Quick")
    names = [states.start_sync_execution(stateMachineArn=arn)["name"] for _ in range(2)]

    # The engine numbers the names it makes; two in a row are consecutive in that numbering.
    candidates = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}/{n}")): n for n in range(1, 200)}
    assert names[0] in candidates and names[1] in candidates
    assert candidates[names[1]] == candidates[names[0]] + 2  # each run also names its ARN's suffix


def test_an_express_execution_and_machine_are_refused_where_aws_keeps_no_history_of_them(cloud):
    """As recorded against AWS: an Express execution's ARN is not valid for DescribeExecution,
    StopExecution or GetExecutionHistory, and ListExecutions does not serve an Express machine."""
    from botocore.exceptions import ClientError

    states = cloud.client("stepfunctions")
    arn = cloud.physical_id("Quick")
    express = states.start_sync_execution(stateMachineArn=arn)["executionArn"]
    calls = (states.describe_execution, states.stop_execution, states.get_execution_history)
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call(executionArn=express)
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidArn",
            "Invalid Arn: 'Resource type not valid in this context: express'",
        )
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as refused:
        states.list_executions(stateMachineArn=arn)
    assert refused.value.response["Error"] == {
        "Code": "StateMachineTypeNotSupported",
        "Message": "This operation is not supported by this type of state machine",
    }
    standard = cloud.start_execution("Failing", {})
    assert states.describe_execution(executionArn=standard.arn)["status"] == "RUNNING"
    listed = states.list_executions(stateMachineArn=cloud.physical_id("Failing"))["executions"]
    assert standard.arn in [each["executionArn"] for each in listed]
    cloud.drain()


# ---------------------------------------------------------------------------------------- logs


def log_events(cloud: LocalCloud, execution) -> tuple[str, list[dict]]:
    group = cloud.physical_id("Executions")
    streams = cloud.client("logs").describe_log_streams(logGroupName=group)["logStreams"]
    [stream] = [s["logStreamName"] for s in streams if s["logStreamName"].endswith(f"/{execution.name}")]
    events = cloud.client("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
    return stream, events


def test_an_execution_logs_each_event_on_its_own_stream_at_the_virtual_time_without_its_data(cloud):
    began = cloud.clock.now()
    execution = cloud.start_execution("Waiter", {"secret": "s3cr3t"}, name="logged-1")
    cloud.drain()

    assert execution.status == "SUCCEEDED"
    assert execution.output == {
        "secret": "s3cr3t",
        "made": {"greeting": "hello", "count": "n=3", "unknown": "${Missing}"},
    }
    stream, events = log_events(cloud, execution)
    assert stream == f"states/waiter-by-name/{began:%Y-%m-%d}/logged-1"
    messages = [json.loads(e["message"]) for e in events]
    assert [(m["type"], e["timestamp"]) for m, e in zip(messages, events, strict=True)] == [
        (kind, int((began + timedelta(seconds=seconds)).timestamp() * 1000))
        for kind, seconds in (
            ("ExecutionStarted", 0),
            ("PassStateEntered", 0),
            ("PassStateExited", 0),
            ("WaitStateEntered", 0),
            ("WaitStateExited", 3),
            ("PassStateEntered", 3),
            ("PassStateExited", 3),
            ("ExecutionSucceeded", 3),
        )
    ]
    assert not any("s3cr3t" in e["message"] for e in events)
    # Traced, but the role may not write to X-Ray: its segments are dropped, as AWS drops them.
    assert execution.span.data["xray"] == "dropped"


def test_the_log_groups_subscription_filter_sees_every_event_of_the_execution(cloud):
    execution = cloud.start_execution("Waiter", {}, name="subscribed-1")
    cloud.drain()
    _, events = log_events(cloud, execution)

    kinesis = cloud.client("kinesis")
    stream = cloud.physical_id("Feed")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    delivered = [
        json.loads(
            gzip.decompress(r["Data"] if isinstance(r["Data"], bytes) else base64.b64decode(r["Data"]))
        )
        for r in records
    ]
    mine = [m for m in delivered if m["logStream"].endswith("/subscribed-1")]

    assert [event["message"] for m in mine for event in m["logEvents"]] == [e["message"] for e in events]
    assert len(mine) == len(events)  # one PutLogEvents call per history event


def test_with_execution_data_a_tasks_parameters_and_output_are_logged(cloud):
    execution = cloud.start_execution("Describing", {"visible": "in the log"}, name="with-data-1")
    cloud.drain()

    assert (execution.status, execution.output) == ("SUCCEEDED", {"shards": 1}), execution.cause
    _, events = log_events(cloud, execution)
    messages = [json.loads(e["message"]) for e in events]
    [scheduled] = [m for m in messages if m["type"] == "TaskScheduled"]
    assert json.loads(scheduled["details"]["parameters"]) == {"StreamName": cloud.physical_id("Feed")}
    assert "in the log" in events[0]["message"]


# ---------------------------------------------------------------------------------------- provisioning


def test_a_state_machine_is_created_with_its_name_type_tracing_and_logging(cloud):
    states = cloud.client("stepfunctions")
    waiter = states.describe_state_machine(stateMachineArn=cloud.physical_id("Waiter"))
    quick = states.describe_state_machine(stateMachineArn=cloud.physical_id("Quick"))

    assert (waiter["name"], waiter["type"], quick["type"]) == ("waiter-by-name", "STANDARD", "EXPRESS")
    assert quick["name"].startswith("SfnExecutions-Quick-")
    assert (waiter["tracingConfiguration"], quick["tracingConfiguration"]) == (
        {"enabled": True},
        {"enabled": False},
    )
    group_arn = cloud.resources["Executions"].attributes["Arn"]
    assert waiter["loggingConfiguration"] == {
        "level": "ALL",
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}],
    }
    assert json.loads(waiter["definition"])["States"]["Greet"]["Result"]["greeting"] == "hello"


def test_without_execution_data_a_tasks_parameters_input_and_output_are_not_logged(cloud):
    execution = cloud.start_execution(
        "DescribingQuietly", {"hidden": "not in the log"}, name="without-data-1"
    )
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    _, events = log_events(cloud, execution)
    messages = [json.loads(e["message"]) for e in events]
    [scheduled] = [m for m in messages if m["type"] == "TaskScheduled"]
    assert scheduled["details"]["resource"] == "describeStreamSummary"
    assert "parameters" not in scheduled["details"]
    assert not any(
        "not in the log" in e["message"] or cloud.physical_id("Feed") in e["message"] for e in events
    )


def test_a_machine_created_at_runtime_without_include_execution_data_logs_none(cloud):
    states = cloud.client("stepfunctions")
    group_arn = cloud.resources["Executions"].attributes["Arn"]
    arn = states.create_state_machine(
        name="made-at-runtime",
        definition=json.dumps(WAITS),
        roleArn=cloud.resources["Role"].attributes["Arn"],
        loggingConfiguration={
            "level": "ALL",
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}],
        },
    )["stateMachineArn"]
    execution = cloud.start_execution(arn, {"hidden": "not in the log"}, name="runtime-1")
    cloud.drain()

    assert execution.status == "SUCCEEDED", execution.cause
    _, events = log_events(cloud, execution)
    assert [json.loads(e["message"])["type"] for e in events] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert not any("not in the log" in e["message"] for e in events)


def test_a_log_write_to_a_group_that_is_gone_is_refused_as_put_log_events_refuses_it(cloud):
    from botocore.exceptions import ClientError

    from localcloud.services.stepfunctions.log_delivery import put_log_event

    event = {"timestamp": int(cloud.clock.now().timestamp() * 1000), "message": "{}"}
    with pytest.raises(ClientError) as refused:
        put_log_event(cloud.kernel, "no-such-group", "states/x/2026-01-01/y", event, True)

    assert refused.value.operation_name == "PutLogEvents"
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "log group does not exist" in refused.value.response["Error"]["Message"]
