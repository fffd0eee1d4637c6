"""Distributed trigger: a service's log lines, selected by a subscription filter, become events that
every subscribing service receives in its own queue.

The producing service is not changed: it logs structured lines as it always did. A CloudWatch Logs
subscription filter on its log group selects the lines that matter (a JSON pattern by default;
space-delimited patterns work too, their fields reaching the trigger as ``extractedFields``), and
Logs invokes the trigger function asynchronously. The trigger turns each line into an event of a
published schema and publishes them to an encrypted SNS topic with PublishBatch. Each subscribing
service owns an SQS buffer (with its dead-letter queue, which also keeps what SNS could not deliver)
and reads it at its own pace. A line that makes no valid event is reported to the trigger's failure
queue; a failed publish is retried by Lambda and then lands there too, with the error.

Example::

    trigger = DistributedTrigger(
        self, "Declines", log_group=payments.function.log_group,
        filter_pattern=logs.FilterPattern.literal('{ $.event = "payment_declined" }'),
        subscribers={"Fraud": TriggerSubscriber()},
    )
    trigger.subscribers["Fraud"].queue.grant_consume_messages(fraud_fn)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .defaults import (
    DEFAULT_MAX_EVENT_AGE,
    MAX_ASYNC_RETRY_ATTEMPTS,
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    acknowledge,
    async_failure_destination,
    merge_props,
    pattern_function_props,
    read_contract,
    secure_topic,
)

SCHEMA_FILE = "payment_event.schema.json"
#: Declined payments of 100.00 or more: what the deployed stack's subscribers care about.
DEFAULT_FILTER_PATTERN = '{ $.event = "payment_declined" && $.amount_cents >= 10000 }'
#: What SNS does with the topic's key for a publisher: a data key to encrypt the message, and Decrypt.
PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
#: CloudFormation's limit on an output's value.
MAX_OUTPUT_CHARS = 4096


@dataclass(frozen=True)
class TriggerSubscriber:
    """One subscribing service: its queue receives the events its ``filter_policy`` (on the
    ``event_type`` attribute and any other) selects; all of them without one."""

    filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None
    max_receive_count: int = 3
    queue_props: Props = field(default_factory=dict)
    """``sqs.Queue`` props of its buffer, merged over the house defaults."""


DEFAULT_SUBSCRIBERS: Mapping[str, TriggerSubscriber] = {
    "FraudReview": TriggerSubscriber(),
    "CustomerCare": TriggerSubscriber(),
}


class SubscriberBuffer(Construct):
    """A subscribing service's SQS buffer on the trigger's topic: raw delivery, and a dead-letter
    queue for messages its consumer fails ``max_receive_count`` times and for deliveries SNS could
    not make (the subscription's redrive policy). Create it in the subscriber's own stack to own it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        max_receive_count: int = 3,
        queue_props: Props | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        buffer = SecureQueue(
            self,
            "Buffer",
            max_receive_count=max_receive_count,
            **merge_props(self, "queue_props", {"retention_period": Duration.days(4)}, queue_props),
        )
        self.queue = buffer.queue
        self.dead_letter_queue = buffer.dead_letter_queue
        topic.add_subscription(
            subscriptions.SqsSubscription(
                self.queue,
                raw_message_delivery=True,
                filter_policy=dict(filter_policy) if filter_policy else None,
                dead_letter_queue=self.dead_letter_queue,
            )
        )
        self.subscription: sns.Subscription = next(
            c for c in self.queue.node.children if isinstance(c, sns.Subscription)
        )


class DistributedTrigger(Construct):
    """Log group -> subscription filter -> trigger function (async, on-failure queue) -> SNS topic
    -> one SQS buffer per subscribing service.

    :param log_group: the producing service's log group to watch; without one, the construct makes
        the demo payment service (``self.producer``) and watches its log group.
    :param filter_pattern: which lines are events; :data:`DEFAULT_FILTER_PATTERN` by default.
    :param subscribers: the subscribing services' buffers made here, by name; ``{}`` for none, when
        every subscriber makes its :class:`SubscriberBuffer` in its own stack.
    :param master_key: the topic's customer-managed key; one with rotation is made if omitted.
    :param retry_attempts: Lambda's retries of a failed invocation (0 to 2) before the failure queue.
    :param max_event_age: the oldest invocation Lambda still tries (1 minute to 6 hours; 6 hours).
    :param topic_props: ``sns.Topic`` props; ``trigger_props`` and ``producer_props``
        ``PatternFunction`` props; ``failure_queue_props`` those of the trigger's failure queue.
    :param code_dir: the folder of the handlers and the schema; ``functions/distributed_trigger``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_group: logs.ILogGroup | None = None,
        filter_pattern: logs.IFilterPattern | None = None,
        subscribers: Mapping[str, TriggerSubscriber] = DEFAULT_SUBSCRIBERS,
        master_key: kms.IKey | None = None,
        retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        topic_props: Props | None = None,
        trigger_props: Props | None = None,
        producer_props: Props | None = None,
        failure_queue_props: Props | None = None,
        code_dir: CodeLocation = "distributed_trigger",
    ) -> None:
        super().__init__(scope, construct_id)
        if log_group is not None and producer_props:
            raise ValueError(
                f"{self.node.path}: producer_props describe the demo producer, made only without a "
                "log_group; give one of them"
            )
        self.event_schema = read_contract(code_dir, SCHEMA_FILE, pattern="distributed trigger")
        self.schema_json = json.dumps(self.event_schema, separators=(",", ":"), sort_keys=True)
        if len(self.schema_json) > MAX_OUTPUT_CHARS:
            raise ValueError(
                f"{self.node.path}: the event schema is over {MAX_OUTPUT_CHARS} characters as JSON"
            )
        self.filter_pattern = filter_pattern or logs.FilterPattern.literal(DEFAULT_FILTER_PATTERN)

        self.producer: PatternFunction | None = None
        if log_group is None:
            self.producer = PatternFunction(
                self,
                "Producer",
                **pattern_function_props(
                    self,
                    "producer_props",
                    {
                        "code_dir": code_dir,
                        "service": "payments",
                        "handler": "producer.handler",
                        "description": "The payment service: decides payments and logs each outcome as JSON",
                    },
                    producer_props,
                ),
            )
            acknowledge(
                self.producer,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by its callers, who get the answer or the error.",
            )
            log_group = self.producer.log_group
        self.log_group = log_group

        self.topic = secure_topic(
            self,
            "Topic",
            master_key=master_key,
            key_description=f"Encrypts the {construct_id} distributed trigger's events at rest",
            **dict(topic_props or {}),
        )
        self.key = self.topic.master_key

        self.trigger = PatternFunction(
            self,
            "Trigger",
            **pattern_function_props(
                self,
                "trigger_props",
                {
                    "code_dir": code_dir,
                    "service": "distributed_trigger",
                    "handler": "trigger.handler",
                    "description": "Turns selected log lines into payment events and publishes them in batches",
                    "timeout": Duration.seconds(30),
                    "environment": {"TOPIC_ARN": self.topic.topic_arn},
                },
                trigger_props,
            ),
        )
        self.failure_queue = async_failure_destination(
            self.trigger,
            what="log events that made no valid event, and invocations that failed after Lambda's retries",
            queue_props=failure_queue_props,
            queue_props_name="failure_queue_props",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        self.event_invoke_config: lambda_.EventInvokeConfig = self.trigger.node.find_child(
            "EventInvokeConfig"
        )
        self.trigger.add_environment("FAILURE_QUEUE_URL", self.failure_queue.queue_url)
        # PublishBatch is authorized as sns:Publish; CDK's grant_publish adds kms:GenerateDataKey*.
        self.trigger.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        self.key.grant(self.trigger, *PUBLISH_KEY_ACTIONS)

        self.subscription_filter = logs.SubscriptionFilter(
            self,
            "SubscriptionFilter",
            log_group=log_group,
            destination=log_destinations.LambdaDestination(self.trigger),
            filter_pattern=self.filter_pattern,
        )
        self.subscribers: dict[str, SubscriberBuffer] = {
            name: SubscriberBuffer(
                self,
                name,
                topic=self.topic,
                filter_policy=spec.filter_policy,
                max_receive_count=spec.max_receive_count,
                queue_props=spec.queue_props,
            )
            for name, spec in subscribers.items()
        }

    def outputs(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "LogGroupName": self.log_group.log_group_name,
            "TopicArn": self.topic.topic_arn,
            "TriggerFunctionName": self.trigger.function_name,
            "FailureQueueUrl": self.failure_queue.queue_url,
            "EventSchema": self.schema_json,
        }
        if self.producer is not None:
            found["ProducerFunctionName"] = self.producer.function_name
        for name, subscriber in self.subscribers.items():
            found[f"{name}QueueUrl"] = subscriber.queue.queue_url
            found[f"{name}DeadLetterQueueUrl"] = subscriber.dead_letter_queue.queue_url
        return found

    def output_descriptions(self) -> dict[str, str]:
        return {"EventSchema": "The published events' contract (JSON Schema)"}
