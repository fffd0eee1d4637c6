"""Notifier: a standalone encrypted topic with a published message schema; subscribers own their
subscriptions.

The topic belongs to no consumer: producers publish order events through a client that validates
each against the topic's JSON Schema (``shared.notifier.NotifierClient``), and the schema is a stack
output, so a team that subscribes later reads the contract without reading the producer's code.
Each subscriber (:class:`NotifierSubscriber`) brings its own queue, subscription and filter policy,
on the message attributes or on the body (``FilterPolicyScope: MessageBody``): SNS delivers it only
what it selects. A delivery its queue refuses (its policy, its key's policy) goes to the
subscription's own dead-letter queue (a redrive policy), never silently away.

Example::

    notifier = Notifier(self, "Orders", subscribers={})
    NotifierSubscriber(
        billing_stack, "Billing", topic=notifier.topic,
        filter_policy={"event_type": sns.SubscriptionFilter.string_filter(allowlist=["order_placed"])},
    )
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    acknowledge,
    add_sqs_event_source,
    event_source_queue_props,
    failure_queue,
    grant_table,
    merge_props,
    pattern_function_props,
    read_contract,
    secure_topic,
    table_or_new,
)

SCHEMA_FILE = "message.schema.json"
#: Keywords the publisher client enforces (``shared.json_schema.KEYWORDS``): a schema using another
#: would be published but not checked, so the construct refuses it at synth.
SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
    }
)
SCHEMA_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "examples", "$comment"})
#: CloudFormation's limit on an output's value: the schema must fit to be published as one.
MAX_OUTPUT_CHARS = 4096
#: What SNS does with the topic's key for a publisher: a data key to encrypt the message, and Decrypt.
PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
#: Top-level fields the publisher also sends as message attributes (for attribute filter policies).
ATTRIBUTE_FIELDS = ("event_type",)

string = sns.SubscriptionFilter.string_filter
numeric = sns.SubscriptionFilter.numeric_filter


@dataclass(frozen=True)
class Subscriber:
    """What one subscriber selects: ``filter_policy`` on message attributes, or ``body_filter_policy``
    on the JSON body (``FilterPolicyScope: MessageBody``), or neither (everything)."""

    filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None
    body_filter_policy: Mapping[str, sns.FilterOrPolicy] | None = None
    description: str = ""
    props: Props = field(default_factory=dict)
    """Keyword arguments of :class:`NotifierSubscriber` (``queue_props``, ``function_props``...)."""


#: The deployed stack's subscribers, one per way of filtering.
DEFAULT_SUBSCRIBERS: Mapping[str, Subscriber] = {
    "Invoicing": Subscriber(
        filter_policy={"event_type": string(allowlist=["order_placed", "order_cancelled"])},
        description="invoices placed orders and credits cancelled ones (attribute policy)",
    ),
    "FraudReview": Subscriber(
        body_filter_policy={
            "event_type": sns.FilterOrPolicy.filter(string(allowlist=["order_placed"])),
            "order": sns.FilterOrPolicy.policy(
                {"total_cents": sns.FilterOrPolicy.filter(numeric(greater_than_or_equal_to=100_000))}
            ),
        },
        description="reviews placed orders of 1000.00 or more (body policy, numeric)",
    ),
    "EuShipping": Subscriber(
        body_filter_policy={
            "event_type": sns.FilterOrPolicy.filter(string(allowlist=["order_placed"])),
            "order": sns.FilterOrPolicy.policy(
                {"country": sns.FilterOrPolicy.filter(string(allowlist=["DE", "ES", "FR", "IT", "NL"]))}
            ),
        },
        description="ships placed orders within the EU (body policy, nested)",
    ),
}


def check_schema(schema: Mapping[str, Any], where: str) -> None:
    """Refuse a schema the publisher client would not fully enforce, naming the keyword."""
    unknown = sorted(set(schema) - SCHEMA_KEYWORDS - SCHEMA_ANNOTATIONS)
    if unknown:
        raise ValueError(
            f"{where}: message_schema uses {unknown[0]}, which the publisher client does not check; "
            f"use {', '.join(sorted(SCHEMA_KEYWORDS))}"
        )
    for name, child in schema.get("properties", {}).items():
        check_schema(child, f"{where}.{name}")
    if "items" in schema:
        check_schema(schema["items"], f"{where}[]")


class NotifierSubscriber(Construct):
    """One subscriber of a notifier topic: its queue (with a DLQ for processing failures), its
    subscription (filter policy, raw delivery, a dead-letter queue for refused deliveries), its
    consumer function and its inbox table. Create it in the subscriber's own stack to own it there.

    :param topic: the notifier's topic.
    :param filter_policy: a policy on message attributes; ``body_filter_policy`` one on the body.
    :param code_dir: the folder of ``subscriber.py`` and the schema; ``functions/notifier`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        body_filter_policy: Mapping[str, sns.FilterOrPolicy] | None = None,
        max_receive_count: int | None = None,
        description: str = "",
        inbox_table: dynamodb.ITable | None = None,
        inbox_table_props: Props | None = None,
        queue_props: Props | None = None,
        subscription_dead_letter_queue_props: Props | None = None,
        function_props: Props | None = None,
        code_dir: CodeLocation = "notifier",
    ) -> None:
        super().__init__(scope, construct_id)
        if filter_policy and body_filter_policy:
            raise ValueError(
                f"{self.node.path}: a subscription filters on attributes or on the body, not both; "
                "give filter_policy or body_filter_policy"
            )
        self.inbox_table = table_or_new(
            self,
            "Inbox",
            name="inbox_table",
            existing=inbox_table,
            props=inbox_table_props,
            partition_key=dynamodb.Attribute(name="event_id", type=dynamodb.AttributeType.STRING),
        )
        function = pattern_function_props(
            self,
            "function_props",
            {
                "code_dir": code_dir,
                "service": "notifier",
                "handler": "subscriber.handler",
                "description": f"{construct_id}: stores the order events its subscription selects"
                + (f"; {description}" if description else ""),
                "timeout": Duration.seconds(10),
                "environment": {
                    "SUBSCRIBER_NAME": construct_id,
                    "INBOX_TABLE_NAME": self.inbox_table.table_name,
                },
            },
            function_props,
        )
        queue = SecureQueue(
            self,
            "Queue",
            **event_source_queue_props(
                self,
                "consumer",
                function["timeout"],
                {"max_receive_count": 3},
                queue_props,
                max_receive_count=max_receive_count,
            ),
        )
        self.queue = queue.queue
        self.dead_letter_queue = queue.dead_letter_queue
        self.subscription_dead_letter_queue = failure_queue(
            self,
            "SubscriptionDeadLetterQueue",
            what="messages the topic could not deliver to this subscriber's queue",
            **merge_props(
                self, "subscription_dead_letter_queue_props", {}, subscription_dead_letter_queue_props
            ),
        )
        topic.add_subscription(
            subscriptions.SqsSubscription(
                self.queue,
                raw_message_delivery=True,
                filter_policy=dict(filter_policy) if filter_policy else None,
                filter_policy_with_message_body=dict(body_filter_policy) if body_filter_policy else None,
                dead_letter_queue=self.subscription_dead_letter_queue,
            )
        )
        self.subscription: sns.Subscription = next(
            c for c in self.queue.node.children if isinstance(c, sns.Subscription)
        )
        self.function = PatternFunction(self, "Consumer", **function)
        grant_table(self.inbox_table, self.function, "dynamodb:PutItem")
        self.event_source = add_sqs_event_source(self.function, self.queue, max_concurrency=2)
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Fed by an SQS event source: failed messages reach the queue's dead-letter queue via its redrive policy.",
        )

    def outputs(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}InboxTableName": self.inbox_table.table_name,
            f"{prefix}QueueUrl": self.queue.queue_url,
            f"{prefix}SubscriptionDlqUrl": self.subscription_dead_letter_queue.queue_url,
        }


class Notifier(Construct):
    """An encrypted topic with a message schema, its validating publisher, and its subscribers.

    :param message_schema: the topic's JSON Schema; ``message.schema.json`` of ``code_dir`` by default.
        Published as the ``MessageSchema`` output and enforced by the publisher.
    :param subscribers: the subscribers made here, by name (:data:`DEFAULT_SUBSCRIBERS`); ``{}`` for
        none, when every subscriber is a :class:`NotifierSubscriber` of its own stack.
    :param master_key: the topic's customer-managed key; one with rotation is made if omitted.
    :param topic_props: ``sns.Topic`` props; ``functions_props`` and ``publisher_props``
        ``PatternFunction`` props of every function and of the publisher.
    :param code_dir: the folder of the handlers and the schema; ``functions/notifier`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        message_schema: Mapping[str, Any] | None = None,
        subscribers: Mapping[str, Subscriber] = DEFAULT_SUBSCRIBERS,
        master_key: kms.IKey | None = None,
        topic_props: Props | None = None,
        functions_props: Props | None = None,
        publisher_props: Props | None = None,
        code_dir: CodeLocation = "notifier",
    ) -> None:
        super().__init__(scope, construct_id)
        self.message_schema = dict(message_schema or read_contract(code_dir, SCHEMA_FILE, pattern="notifier"))
        check_schema(self.message_schema, f"{self.node.path}.message_schema")
        for name in ATTRIBUTE_FIELDS:
            if name not in self.message_schema.get("required", ()):
                raise ValueError(
                    f"{self.node.path}: message_schema must require {name!r}, sent as an attribute"
                )
        self.schema_json = json.dumps(self.message_schema, separators=(",", ":"), sort_keys=True)
        if len(self.schema_json) > MAX_OUTPUT_CHARS:
            raise ValueError(
                f"{self.node.path}: message_schema is {len(self.schema_json)} characters as JSON, over "
                f"CloudFormation's {MAX_OUTPUT_CHARS} for an output; shorten its descriptions"
            )
        self.topic = secure_topic(
            self,
            "Topic",
            master_key=master_key,
            key_description=f"Encrypts the {construct_id} notifier topic's messages at rest",
            **dict(topic_props or {}),
        )
        self.key = self.topic.master_key

        self.publisher = PatternFunction(
            self,
            "Publisher",
            **pattern_function_props(
                self,
                "publisher_props",
                {
                    "code_dir": code_dir,
                    "service": "notifier",
                    "handler": "publisher.handler",
                    "description": "Validates an order event against the topic's schema, then publishes it",
                    "environment": {"TOPIC_ARN": self.topic.topic_arn},
                },
                publisher_props,
                functions_props=functions_props,
            ),
        )
        acknowledge(
            self.publisher,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by producers: a refused or failed publish is answered to the caller.",
        )
        # sns:Publish on the topic and the key actions SNS makes for the publisher (CDK's
        # grant_publish grants kms:GenerateDataKey*, a wildcard over actions never called).
        self.publisher.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        self.key.grant(self.publisher, *PUBLISH_KEY_ACTIONS)

        self.subscribers: dict[str, NotifierSubscriber] = {
            name: NotifierSubscriber(
                self,
                name,
                topic=self.topic,
                filter_policy=spec.filter_policy,
                body_filter_policy=spec.body_filter_policy,
                description=spec.description,
                code_dir=code_dir,
                **{"function_props": functions_props, **spec.props},
            )
            for name, spec in subscribers.items()
        }

    def outputs(self) -> dict[str, Any]:
        found = {
            "TopicArn": self.topic.topic_arn,
            "PublisherFunctionName": self.publisher.function_name,
            "MessageSchema": self.schema_json,
        }
        for name, subscriber in self.subscribers.items():
            found.update(subscriber.outputs(name))
        return found

    def output_descriptions(self) -> dict[str, str]:
        return {"MessageSchema": "The topic's message contract (JSON Schema): validate before publishing"}
