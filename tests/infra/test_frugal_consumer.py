"""What makes the Frugal Consumer: a standalone queue with a DLQ and room for retries, a consumer
held to maximum concurrency 2 with a batching window and partial batch responses, a store function
with its rate, and grants of exactly what each function and the poller call, on one resource each."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from patterns.frugal_consumer import FrugalConsumer
from tests.infra.conftest import resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "FrugalConsumerStack"


def queue_ids(raw):
    queues = resources_of(raw, "AWS::SQS::Queue")
    [inbox] = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    [dlq] = [k for k in queues if k != inbox]
    return inbox, dlq


def function_ids(raw):
    functions = resources_of(raw, "AWS::Lambda::Function")
    [consumer] = [k for k, v in functions.items() if v["Properties"]["Handler"] == "consumer.handler"]
    [store] = [k for k, v in functions.items() if v["Properties"]["Handler"] == "store.handler"]
    return consumer, store


def test_a_standalone_queue_with_a_dlq_after_five_receives(templates):
    raw = templates[STACK]
    inbox, dlq = queue_ids(raw)
    props = raw["Resources"][inbox]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert props["VisibilityTimeout"] == 180, "six times the consumer's 30 s timeout"
    assert props["SqsManagedSseEnabled"] is True
    assert raw["Resources"][dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert {"QueueUrl", "QueueArn", "DeadLetterQueueUrl"} <= set(raw["Outputs"]), "what a producer needs"


def test_the_consumer_runs_two_batches_at_most_with_a_window_and_partial_responses(templates):
    raw = templates[STACK]
    inbox, _ = queue_ids(raw)
    consumer, store = function_ids(raw)
    [mapping] = resources_of(raw, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [inbox, "Arn"]}
    assert props["FunctionName"] == {"Ref": consumer}
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert props["MaximumBatchingWindowInSeconds"] == 5 and props["BatchSize"] == 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    functions = resources_of(raw, "AWS::Lambda::Function")
    assert functions[store]["Properties"]["Environment"]["Variables"]["WRITES_PER_SECOND"] == "20"
    assert functions[consumer]["Properties"]["Environment"]["Variables"]["STORE_FUNCTION"] == {
        "Fn::GetAtt": [store, "Arn"]
    }


def test_grants_are_exactly_what_is_called_on_one_resource_each(templates):
    raw = templates[STACK]
    inbox, _ = queue_ids(raw)
    _, store = function_ids(raw)
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    statements = statements_of(raw)
    assert [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])] == [
        {
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "Arn"]},
        }
    ], "the store alone reaches the table"
    assert [s["Resource"] for s in statements if "lambda:InvokeFunction" in s["Action"]] == [
        {"Fn::GetAtt": [store, "Arn"]}
    ], "the consumer invokes the store's $LATEST and nothing else"
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    assert [(sorted(s["Action"]), s["Resource"]) for s in sqs] == [
        (
            ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            {"Fn::GetAtt": [inbox, "Arn"]},
        )
    ], "the poller's actions on the queue only; nothing on the DLQ"


def test_a_producer_is_granted_send_only_and_your_store_replaces_the_stand_in():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    mine = lambda_.Function.from_function_arn(
        stack, "Legacy", "arn:aws:lambda:us-east-1:123456789012:function:legacy-writer"
    )
    orders = FrugalConsumer(
        stack, "Orders", store=mine, max_concurrency=3, consumer_timeout=Duration.seconds(10)
    )
    producer = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())
    orders.grant_send_messages(producer)
    raw = Template.from_stack(stack).to_json()
    assert resources_of(raw, "AWS::DynamoDB::Table") == {}, "no stand-in store"
    assert len(resources_of(raw, "AWS::Lambda::Function")) == 1
    [mapping] = resources_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 3}
    producer_id = stack.get_logical_id(producer.node.default_child)
    [sent] = statements_of(raw, producer_id)
    assert sent["Action"] == ["sqs:SendMessage"]
    assert orders.outputs()["StoreFunctionName"] == mine.function_name
    for props, message in [
        ({"max_concurrency": 1}, "max_concurrency"),
        ({"writes_per_second": 0}, "writes_per_second"),
        ({"store": mine, "writes_per_second": 5}, "store is yours"),
        ({"max_batching_window": Duration.minutes(6)}, "max_batching_window"),
        ({"queue_props": {"visibility_timeout": Duration.seconds(5)}}, "visibility_timeout"),
    ]:
        with pytest.raises(ValueError, match=message):
            FrugalConsumer(stack, f"Bad{len(stack.node.children)}", **props)
