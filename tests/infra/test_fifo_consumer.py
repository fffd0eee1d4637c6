"""What makes the FIFOer: a FIFO queue with a FIFO DLQ, deduplication, batches of 10 with partial
responses, and grants of exactly what the consumer and its poller call."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from patterns.fifo_consumer import FifoConsumer
from tests.infra.conftest import resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "FifoConsumerStack"


def queue_ids(raw):
    queues = resources_of(raw, "AWS::SQS::Queue")
    [inbox] = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    [dlq] = [k for k in queues if k != inbox]
    return inbox, dlq


def test_a_fifo_queue_with_content_deduplication_redrives_to_a_fifo_dlq(templates):
    raw = templates[STACK]
    inbox, dlq = queue_ids(raw)
    props = raw["Resources"][inbox]["Properties"]
    assert props["FifoQueue"] is True
    assert props["ContentBasedDeduplication"] is True, "the default: an entry's body carries its event id"
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert props["VisibilityTimeout"] == 180, "six times the consumer's 30 s timeout"
    dead = raw["Resources"][dlq]["Properties"]
    assert dead["FifoQueue"] is True, "SQS refuses a standard DLQ for a FIFO queue"
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600
    for queue in (props, dead):
        assert queue["SqsManagedSseEnabled"] is True


def test_batches_of_ten_with_partial_batch_responses_and_no_batching_window(templates):
    raw = templates[STACK]
    inbox, _ = queue_ids(raw)
    [mapping] = resources_of(raw, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [inbox, "Arn"]}
    assert props["BatchSize"] == 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumBatchingWindowInSeconds" not in props


def test_grants_are_exactly_what_is_called_on_one_resource_each(templates):
    raw = templates[STACK]
    inbox, _ = queue_ids(raw)
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    statements = statements_of(raw)
    assert [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])] == [
        {
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "Arn"]},
        }
    ]
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    assert [(sorted(s["Action"]), s["Resource"]) for s in sqs] == [
        (
            ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            {"Fn::GetAtt": [inbox, "Arn"]},
        )
    ], "the poller's actions on the queue only; nothing on the DLQ"


def test_explicit_deduplication_and_refused_props():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    FifoConsumer(stack, "Explicit", deduplication="explicit", consumer_timeout=Duration.seconds(10))
    [inbox] = [
        q["Properties"]
        for q in resources_of(Template.from_stack(stack).to_json(), "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    ]
    assert inbox["ContentBasedDeduplication"] is False and inbox["VisibilityTimeout"] == 60
    for props, message in [
        ({"deduplication": "none"}, "deduplication"),
        ({"batch_size": 11}, "batch_size"),
        ({"max_concurrency": 1}, "max_concurrency"),
        ({"queue_props": {"fifo": False}}, "fifo"),
        ({"queue_props": {"visibility_timeout": Duration.seconds(5)}}, "visibility_timeout"),
    ]:
        with pytest.raises(ValueError, match=message):
            FifoConsumer(stack, f"Bad{len(stack.node.children)}", **props)
