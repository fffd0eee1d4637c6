"""What makes the fan-out / fan-in: Event invokes with retries to a failure queue that a recorder
reads, one results table keyed by job and part, and grants that allow settling but no polling."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from patterns.fan_out_fan_in import FanOutFanIn
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "FanOutFanInStack"


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, function: str) -> str:
    return raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def data_statements(raw, function: str) -> list[dict]:
    """A function's statements on DynamoDB and Lambda, the only data it may touch."""
    return sorted(
        (
            {"Action": sorted(s["Action"]), "Resource": s["Resource"]}
            for s in statements_of(raw, role_of(raw, function))
            if any(a.startswith(("dynamodb:", "lambda:")) for a in s["Action"])
        ),
        key=str,
    )


def test_the_results_table_is_keyed_by_job_and_part(templates):
    [table] = properties_of(templates[STACK], "AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == [
        {"AttributeName": "job_id", "KeyType": "HASH"},
        {"AttributeName": "part", "KeyType": "RANGE"},
    ]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_a_failed_chunk_is_retried_then_sent_to_the_queue_the_recorder_reads(templates):
    raw = templates[STACK]
    worker, recorder = function_id(raw, "worker.handler"), function_id(raw, "recorder.handler")
    [config] = properties_of(raw, "AWS::Lambda::EventInvokeConfig").values()
    assert config["FunctionName"] == {"Ref": worker} and config["Qualifier"] == "$LATEST"
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)
    failures = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    [mapping] = properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [failures, "Arn"]}
    assert mapping["FunctionName"] == {"Ref": recorder}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = raw["Resources"][failures]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3, "a failure the recorder cannot settle is kept"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["VisibilityTimeout"] == 6 * 30, "six times the recorder's timeout"


def test_grants_allow_settling_and_starting_and_nothing_that_would_poll(templates):
    raw = templates[STACK]
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    worker = function_id(raw, "worker.handler")
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    settle = {"Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"], "Resource": table_arn}
    assert data_statements(raw, worker) == [settle]
    assert data_statements(raw, function_id(raw, "recorder.handler")) == [settle]
    assert data_statements(raw, function_id(raw, "splitter.handler")) == sorted(
        [
            {"Action": ["dynamodb:PutItem"], "Resource": table_arn},
            {"Action": ["lambda:InvokeFunction"], "Resource": {"Fn::GetAtt": [worker, "Arn"]}},
        ],
        key=str,
    )
    actions = {a for s in statements_of(raw) for a in s["Action"]}
    assert not actions & {"dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem"}, (
        "completion is pushed, not polled"
    )
    assert resources_of(raw, "AWS::Lambda::Permission") == {}, "nothing outside may invoke a function"


def test_every_function_knows_the_table_and_the_splitter_knows_the_worker(templates):
    raw = templates[STACK]
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    functions = properties_of(raw, "AWS::Lambda::Function")
    for handler in ("splitter.handler", "worker.handler", "recorder.handler"):
        assert functions[function_id(raw, handler)]["Environment"]["Variables"]["JOBS_TABLE_NAME"] == {
            "Ref": table
        }
    splitter = functions[function_id(raw, "splitter.handler")]["Environment"]["Variables"]
    assert splitter["WORKER_FUNCTION_NAME"] == {"Ref": function_id(raw, "worker.handler")}


def build(**props) -> tuple[Stack, FanOutFanIn]:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    return stack, FanOutFanIn(stack, "Orders", **props)


def test_props_reach_the_template_and_grant_start_allows_one_function_to_start_jobs():
    from aws_cdk import aws_lambda as lambda_

    stack, fan = build(
        retry_attempts=0, max_event_age=Duration.minutes(5), worker_timeout=Duration.seconds(90)
    )
    nightly = lambda_.Function(
        stack,
        "Nightly",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="i.h",
        code=lambda_.Code.from_inline("def h(e, c): pass"),
    )
    fan.grant_start(nightly)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 300}
    )
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "worker.handler", "Timeout": 90})
    raw = template.to_json()
    splitter = function_id(raw, "splitter.handler")
    nightly_id = next(k for k in properties_of(raw, "AWS::Lambda::Function") if k.startswith("Nightly"))
    assert {
        "Action": ["lambda:InvokeFunction"],
        "Resource": {"Fn::GetAtt": [splitter, "Arn"]},
    } in data_statements(raw, nightly_id)
    assert properties_of(raw, "AWS::Lambda::Function")[nightly_id]["Environment"]["Variables"] == {
        "SPLITTER_FUNCTION_NAME": {"Ref": splitter}
    }


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"retry_attempts": 3}, "retry_attempts must be from 0 to 2"),
        ({"max_event_age": Duration.hours(7)}, "max_event_age must be from 1 minute to 6 hours"),
        (
            {"failure_queue_props": {"visibility_timeout": Duration.seconds(5)}},
            "queue_props['visibility_timeout'] is shorter than the recorder's timeout",
        ),
        ({"jobs_table_props": {"partition_key": None}}, "is set by the construct itself"),
    ],
)
def test_contradictory_props_are_refused_at_synth(props, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        build(**props)
