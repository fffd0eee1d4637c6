"""What makes the notifier: a CMK-encrypted topic, its schema published, filtered subscriptions each
with its own dead-letter queue, a publisher that may publish to this topic only."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from patterns import notifier as pattern
from patterns.notifier import Notifier, NotifierSubscriber
from shared import json_schema
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "NotifierStack"
SCHEMA_PATH = "functions/notifier/message.schema.json"


def only(found: dict) -> str:
    [key] = found
    return key


def test_the_topic_is_encrypted_with_its_own_rotating_key_and_tls_only(templates):
    raw = templates[STACK]
    topic = only(resources_of(raw, "AWS::SNS::Topic"))
    key = only(resources_of(raw, "AWS::KMS::Key"))
    assert raw["Resources"][topic]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert raw["Resources"][key]["Properties"]["EnableKeyRotation"] is True
    [policy] = properties_of(raw, "AWS::SNS::TopicPolicy").values()
    [deny] = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_message_schema_is_a_stack_output_equal_to_the_file_the_handlers_ship(templates):
    with open(SCHEMA_PATH) as file:
        shipped = json.load(file)
    assert json.loads(templates[STACK]["Outputs"]["MessageSchema"]["Value"]) == shipped


def test_each_subscriber_filters_on_attributes_or_on_the_body_with_raw_delivery(templates):
    subscriptions = properties_of(templates[STACK], "AWS::SNS::Subscription").values()
    by_scope = {s.get("FilterPolicyScope", "MessageAttributes"): s for s in subscriptions}
    assert len(subscriptions) == 3 and all(s["RawMessageDelivery"] for s in subscriptions)
    assert by_scope["MessageAttributes"]["FilterPolicy"] == {
        "event_type": ["order_placed", "order_cancelled"]
    }
    body = [s["FilterPolicy"] for s in subscriptions if s.get("FilterPolicyScope") == "MessageBody"]
    assert {"event_type": ["order_placed"], "order": {"total_cents": [{"numeric": [">=", 100000]}]}} in body
    assert {"event_type": ["order_placed"], "order": {"country": ["DE", "ES", "FR", "IT", "NL"]}} in body


def test_each_subscription_redrives_to_its_own_dead_letter_queue_that_admits_the_topic(templates):
    raw = templates[STACK]
    topic = only(resources_of(raw, "AWS::SNS::Topic"))
    targets = [
        s["RedrivePolicy"]["deadLetterTargetArn"]
        for s in properties_of(raw, "AWS::SNS::Subscription").values()
    ]
    queues = [t["Fn::GetAtt"][0] for t in targets]
    assert len(set(queues)) == 3, "one per subscription"
    policies = properties_of(raw, "AWS::SQS::QueuePolicy").values()
    for queue in queues:
        assert raw["Resources"][queue]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        [statement] = [
            s
            for p in policies
            if {"Ref": queue} in p["Queues"]
            for s in p["PolicyDocument"]["Statement"]
            if s["Effect"] == "Allow"
        ]
        assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": topic}}}


def test_the_publisher_may_publish_to_this_topic_and_use_its_key_only(templates):
    raw = templates[STACK]
    [publisher] = [
        k
        for k, v in properties_of(raw, "AWS::Lambda::Function").items()
        if v["Handler"] == "publisher.handler"
    ]
    role = raw["Resources"][publisher]["Properties"]["Role"]["Fn::GetAtt"][0]
    topic = only(resources_of(raw, "AWS::SNS::Topic"))
    key = only(resources_of(raw, "AWS::KMS::Key"))
    granted = {(a, json.dumps(s["Resource"])) for s in statements_of(raw, role) for a in s["Action"]}
    assert ("sns:Publish", json.dumps({"Ref": topic})) in granted
    assert {a for a, r in granted if r == json.dumps({"Fn::GetAtt": [key, "Arn"]})} == {
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert not any(a.endswith("*") for a, _ in granted if a.startswith(("sns:", "kms:")))


def test_the_construct_checks_the_keywords_the_client_enforces():
    assert pattern.SCHEMA_KEYWORDS == json_schema.KEYWORDS
    assert pattern.SCHEMA_ANNOTATIONS == json_schema.ANNOTATIONS


def build(**props) -> Stack:
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    Notifier(stack, "Orders", **props)
    return stack


def test_a_subscriber_in_its_own_stack_owns_its_subscription():
    app = App(builtin_cloud_formation_validation=False)
    orders = Notifier(Stack(app, "Orders"), "Orders", subscribers={})
    billing = Stack(app, "Billing")
    NotifierSubscriber(
        billing,
        "Billing",
        topic=orders.topic,
        filter_policy={"event_type": sns.SubscriptionFilter.string_filter(allowlist=["order_placed"])},
    )
    assert Template.from_stack(orders.node.scope).find_resources("AWS::SNS::Subscription") == {}
    Template.from_stack(billing).has_resource_properties(
        "AWS::SNS::Subscription",
        {"FilterPolicy": {"event_type": ["order_placed"]}, "RawMessageDelivery": True},
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"message_schema": {"type": "object", "required": ["event_type"], "oneOf": []}}, "uses oneOf"),
        (
            {
                "message_schema": {
                    "type": "object",
                    "properties": {"a": {"format": "email"}},
                    "required": ["event_type"],
                }
            },
            r"message_schema\.a: .*uses format",
        ),
        ({"message_schema": {"type": "object"}}, "must require 'event_type'"),
        (
            {"message_schema": {"type": "object", "required": ["event_type"], "description": "x" * 5000}},
            "over CloudFormation's 4096",
        ),
    ],
)
def test_a_schema_the_client_would_not_fully_check_fails_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        build(subscribers={}, **props)


def test_a_subscriber_filtering_on_attributes_and_body_at_once_fails_at_synth():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    orders = Notifier(stack, "Orders", subscribers={})
    string = sns.SubscriptionFilter.string_filter
    with pytest.raises(ValueError, match="attributes or on the body, not both"):
        NotifierSubscriber(
            stack,
            "Both",
            topic=orders.topic,
            filter_policy={"event_type": string(allowlist=["order_placed"])},
            body_filter_policy={"event_type": sns.FilterOrPolicy.filter(string(allowlist=["order_placed"]))},
        )
