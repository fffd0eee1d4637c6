"""What makes the distributed trigger: a subscription filter on the producer's log group that only
Logs of that group may use to invoke the trigger, retries and an on-failure queue on the trigger, a
publisher scoped to one encrypted topic, and one buffer per subscriber with its dead-letter queue."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from patterns.distributed_trigger import DEFAULT_FILTER_PATTERN, DistributedTrigger, TriggerSubscriber
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "DistributedTriggerStack"


def only(found: dict) -> str:
    [key] = found
    return key


def function_id(raw: dict, handler: str) -> str:
    [found] = [k for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler]
    return found


def log_group_of(raw: dict, function: str) -> str:
    return raw["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]


def test_the_filter_watches_the_producers_log_group_and_feeds_the_trigger(templates):
    raw = templates[STACK]
    [subscription] = properties_of(raw, "AWS::Logs::SubscriptionFilter").values()
    producer, trigger = function_id(raw, "producer.handler"), function_id(raw, "trigger.handler")
    assert subscription["LogGroupName"] == {"Ref": log_group_of(raw, producer)}
    assert subscription["DestinationArn"] == {"Fn::GetAtt": [trigger, "Arn"]}
    assert subscription["FilterPattern"] == DEFAULT_FILTER_PATTERN


def test_only_logs_for_that_log_group_may_invoke_the_trigger(templates):
    raw = templates[STACK]
    producer, trigger = function_id(raw, "producer.handler"), function_id(raw, "trigger.handler")
    [permission] = [
        p
        for p in properties_of(raw, "AWS::Lambda::Permission").values()
        if p["FunctionName"] == {"Fn::GetAtt": [trigger, "Arn"]}
    ]
    assert permission["Principal"] == "logs.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": [log_group_of(raw, producer), "Arn"]}


def test_the_trigger_retries_twice_then_sends_failures_to_its_queue(templates):
    raw = templates[STACK]
    trigger = function_id(raw, "trigger.handler")
    [config] = properties_of(raw, "AWS::Lambda::EventInvokeConfig").values()
    assert config["FunctionName"] == {"Ref": trigger} and config["MaximumRetryAttempts"] == 2
    queue = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert raw["Resources"][queue]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    environment = raw["Resources"][trigger]["Properties"]["Environment"]["Variables"]
    assert environment["FAILURE_QUEUE_URL"] == {"Ref": queue}, "malformed lines are reported there too"


def test_the_trigger_may_publish_to_its_topic_and_report_failures_only(templates):
    raw = templates[STACK]
    trigger = function_id(raw, "trigger.handler")
    role = raw["Resources"][trigger]["Properties"]["Role"]["Fn::GetAtt"][0]
    topic, key = only(resources_of(raw, "AWS::SNS::Topic")), only(resources_of(raw, "AWS::KMS::Key"))
    granted = {(a, json.dumps(s["Resource"])) for s in statements_of(raw, role) for a in s["Action"]}
    assert {a for a, r in granted if a.startswith(("sns:", "kms:", "sqs:"))} == {
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "sqs:SendMessage",
    }
    assert ("sns:Publish", json.dumps({"Ref": topic})) in granted
    assert {a for a, r in granted if r == json.dumps({"Fn::GetAtt": [key, "Arn"]})} == {
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert raw["Resources"][key]["Properties"]["EnableKeyRotation"] is True
    assert raw["Resources"][topic]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}


def test_each_subscriber_owns_a_buffer_whose_dead_letter_queue_also_keeps_refused_deliveries(templates):
    raw = templates[STACK]
    topic = only(resources_of(raw, "AWS::SNS::Topic"))
    subscriptions = list(properties_of(raw, "AWS::SNS::Subscription").values())
    assert len(subscriptions) == 2 and all(
        s["RawMessageDelivery"] and s["Protocol"] == "sqs" for s in subscriptions
    )
    for subscription in subscriptions:
        queue = subscription["Endpoint"]["Fn::GetAtt"][0]
        dead = subscription["RedrivePolicy"]["deadLetterTargetArn"]
        redrive = raw["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive == {"deadLetterTargetArn": dead, "maxReceiveCount": 3}
        allowed = [
            s
            for p in properties_of(raw, "AWS::SQS::QueuePolicy").values()
            if {"Ref": dead["Fn::GetAtt"][0]} in p["Queues"]
            for s in p["PolicyDocument"]["Statement"]
            if s["Effect"] == "Allow"
        ]
        assert [s["Condition"] for s in allowed] == [{"ArnEquals": {"aws:SourceArn": {"Ref": topic}}}]


def test_a_producer_elsewhere_is_watched_with_any_filter_syntax_and_subscribers_filter():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    group = logs.LogGroup(stack, "Access")
    DistributedTrigger(
        stack,
        "Errors",
        log_group=group,
        filter_pattern=logs.FilterPattern.literal("[ip, user, ..., status = 5*, bytes]"),
        subscribers={
            "Oncall": TriggerSubscriber(
                filter_policy={
                    "event_type": sns.SubscriptionFilter.string_filter(allowlist=["payment_declined"])
                },
                max_receive_count=5,
            )
        },
    )
    raw = Template.from_stack(stack).to_json()
    assert [v["Properties"]["Handler"] for v in resources_of(raw, "AWS::Lambda::Function").values()] == [
        "trigger.handler"
    ], "no demo producer"
    [subscription] = properties_of(raw, "AWS::Logs::SubscriptionFilter").values()
    assert subscription["LogGroupName"] == {"Ref": stack.get_logical_id(group.node.default_child)}
    assert subscription["FilterPattern"] == "[ip, user, ..., status = 5*, bytes]"
    [sns_subscription] = properties_of(raw, "AWS::SNS::Subscription").values()
    assert sns_subscription["FilterPolicy"] == {"event_type": ["payment_declined"]}
    queue = sns_subscription["Endpoint"]["Fn::GetAtt"][0]
    assert raw["Resources"][queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5


def test_contradictory_props_are_refused_before_synth():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Refused")
    with pytest.raises(ValueError, match="producer_props describe the demo producer"):
        DistributedTrigger(
            stack, "T", log_group=logs.LogGroup(stack, "G"), producer_props={"memory_size": 512}
        )
