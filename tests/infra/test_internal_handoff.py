"""What makes the internal handoff: async retries and age, a failure queue, an idempotency table."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from patterns.internal_handoff import InternalHandoff
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "InternalHandoffStack"


def function_id(raw, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def role_of(raw, function: str) -> str:
    return raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]


def table_with_key(raw, key: str) -> str:
    [found] = [
        k
        for k, v in properties_of(raw, "AWS::DynamoDB::Table").items()
        if v["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    ]
    return found


def test_the_worker_retries_twice_within_an_hour_then_sends_to_the_failure_queue(templates):
    raw = templates[STACK]
    worker = function_id(raw, "worker.handler")
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    [config] = properties_of(raw, "AWS::Lambda::EventInvokeConfig").values()
    assert config["FunctionName"] == {"Ref": worker}
    assert config["Qualifier"] == "$LATEST"
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    sends = [s for s in statements_of(raw, role_of(raw, worker)) if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [queue, "Arn"]}], (
        "Lambda sends with the worker's role"
    )
    assert raw["Resources"][queue]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_idempotency_table_expires_records_and_outlives_every_retry(templates):
    raw = templates[STACK]
    table = table_with_key(raw, "id")
    props = raw["Resources"][table]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    worker = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "worker.handler")]
    variables = worker["Environment"]["Variables"]
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {"Ref": table}
    assert int(variables["IDEMPOTENCY_TTL_SECONDS"]) >= 3600, "at least the maximum event age"


def test_grants_are_scoped_to_one_resource_each(templates):
    raw = templates[STACK]
    worker, requester = function_id(raw, "worker.handler"), function_id(raw, "requester.handler")
    balances, idempotency = table_with_key(raw, "customer_id"), table_with_key(raw, "id")
    data = [s for s in statements_of(raw) if any(a.startswith(("dynamodb:", "lambda:")) for a in s["Action"])]
    assert sorted(data, key=str) == sorted(
        [
            {
                "Action": ["dynamodb:UpdateItem"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [balances, "Arn"]},
            },
            {
                "Action": [
                    "dynamodb:DeleteItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [idempotency, "Arn"]},
            },
            {
                "Action": ["lambda:InvokeFunction"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [worker, "Arn"]},
            },
        ],
        key=str,
    )
    invoke = {
        "Action": ["lambda:InvokeFunction"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [worker, "Arn"]},
    }
    assert invoke in statements_of(raw, role_of(raw, requester))
    assert not [
        s for s in statements_of(raw, role_of(raw, requester)) if "dynamodb:UpdateItem" in s["Action"]
    ]


def test_the_requester_knows_the_worker_and_nothing_invokes_the_worker_from_outside(templates):
    raw = templates[STACK]
    requester = properties_of(raw, "AWS::Lambda::Function")[function_id(raw, "requester.handler")]
    assert requester["Environment"]["Variables"]["WORKER_FUNCTION_NAME"] == {
        "Ref": function_id(raw, "worker.handler")
    }
    assert resources_of(raw, "AWS::Lambda::Permission") == {}


def build(**props) -> tuple[Stack, InternalHandoff]:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    return stack, InternalHandoff(stack, "Loyalty", **props)


def test_props_reach_the_template():
    stack, _ = build(
        retry_attempts=0, max_event_age=Duration.minutes(5), idempotency_window=Duration.minutes(10)
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 300}
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "worker.handler", "Environment": {"Variables": {"IDEMPOTENCY_TTL_SECONDS": "600"}}},
    )


def test_an_existing_failure_queue_is_used_not_a_new_one():
    from aws_cdk import aws_sqs as sqs

    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    mine = sqs.Queue(stack, "Mine", enforce_ssl=True)
    handoff = InternalHandoff(stack, "Loyalty", failure_queue=mine)
    assert handoff.failure_queue is mine
    assert len(Template.from_stack(stack).find_resources("AWS::SQS::Queue")) == 1


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"retry_attempts": 3}, "retry_attempts must be from 0 to 2"),
        ({"max_event_age": Duration.hours(12)}, "max_event_age must be from 1 minute to 6 hours"),
        (
            {"max_event_age": Duration.hours(2), "idempotency_window": Duration.hours(1)},
            "idempotency_window must be at least max_event_age",
        ),
    ],
)
def test_contradictory_props_fail_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)
