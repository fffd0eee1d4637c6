"""Scalable Webhook: API -> receiver Lambda -> SQS (+DLQ) -> worker Lambda at capped concurrency -> DynamoDB.

A webhook sender expects a fast answer and may send bursts no downstream store could absorb. The
receiver only validates and enqueues (202); the queue absorbs the burst; the worker drains it with
at most ``max_concurrency`` concurrent invocations (the SQS event source's own cap, so excess
messages wait in the queue instead of being throttled and retried). Failed records are retried
alone (partial batch responses) and reach the dead-letter queue after ``max_receive_count``
receives; duplicates are written once.

Example::

    hook = ScalableWebhook(self, "Payments", max_concurrency=5)
    hook.dead_letter_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from patterns.defaults import (
    PatternFunction,
    SecureQueue,
    SecureRestApi,
    acknowledge,
    add_sqs_event_source,
    grant_send,
    json_model,
    secure_table,
)

WEBHOOK_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "WebhookEvent",
    "type": "object",
    "required": ["id", "type", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 128},
        "type": {"type": "string", "minLength": 1, "maxLength": 128},
        "data": {"type": "object"},
    },
}


class ScalableWebhook(Construct):
    """Webhook endpoint that accepts bursts and processes them at a pace you choose.

    :param max_concurrency: most worker invocations at once (2 to 1000); the throttle on the store.
    :param batch_size: messages per worker invocation.
    :param max_batching_window: how long SQS may wait to fill a batch (cost versus latency).
    :param max_receive_count: receives before a message moves to the dead-letter queue.
    :param table: an existing table with string partition key ``id``; one is created if omitted.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_concurrency: int = 2,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_receive_count: int = 3,
        worker_timeout: Duration | None = None,
        table: dynamodb.ITable | None = None,
        throttling_rate_limit: float = 500,
        throttling_burst_limit: int = 250,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 2 <= max_concurrency <= 1000:
            raise ValueError(
                f"{construct_id}: max_concurrency must be from 2 to 1000 (SQS event source limit)"
            )
        if not 1 <= batch_size <= 10_000:
            raise ValueError(f"{construct_id}: batch_size must be from 1 to 10000")
        if batch_size > 10 and max_batching_window is None:
            raise ValueError(f"{construct_id}: a batch_size over 10 needs a max_batching_window")
        worker_timeout = worker_timeout or Duration.seconds(30)

        self.table = table or secure_table(
            self, "Table", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
        )
        inbox = SecureQueue(
            self,
            "Inbox",
            max_receive_count=max_receive_count,
            # AWS's guidance: at least six times the function timeout, so a throttled batch is not
            # redelivered while it is still being worked on.
            visibility_timeout=Duration.seconds(worker_timeout.to_seconds() * 6),
        )
        self.queue = inbox.queue
        self.dead_letter_queue = inbox.dead_letter_queue

        self.receiver = PatternFunction(
            self,
            "Receiver",
            code_dir="scalable_webhook",
            handler="receiver.handler",
            service="scalable_webhook",
            description="Validates a webhook and enqueues it; answers 202",
            environment={"QUEUE_URL": self.queue.queue_url},
        )
        grant_send(self.queue, self.receiver)

        self.worker = PatternFunction(
            self,
            "Worker",
            code_dir="scalable_webhook",
            handler="worker.handler",
            service="scalable_webhook",
            description="Stores queued webhooks once each, reporting failed records alone",
            environment={"TABLE_NAME": self.table.table_name},
            timeout=worker_timeout,
        )
        self.table.grant(self.worker, "dynamodb:PutItem")
        self.event_source = add_sqs_event_source(
            self.worker,
            self.queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
        )

        self.api = SecureRestApi(
            self,
            "Api",
            description="Scalable webhook: POST /webhooks",
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
        )
        webhooks = self.api.root.add_resource("webhooks")
        method = webhooks.add_method(
            "POST",
            apigw.LambdaIntegration(self.receiver),
            request_validator=self.api.body_validator,
            request_models={"application/json": json_model(self.api, "WebhookModel", WEBHOOK_SCHEMA)},
        )
        acknowledge(
            method,
            "AwsSolutions-APIG4",
            "Webhook senders authenticate with a shared secret or signature, not AWS auth; add an authorizer "
            "(see the gatekeeper pattern) or verify signatures in the receiver.",
        )
        acknowledge(
            method,
            "AwsSolutions-COG4",
            "Webhook senders are machines without Cognito identities; see the note on APIG4.",
        )
        acknowledge(
            self.receiver,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: a failure returns to the sender, who retries.",
        )
        acknowledge(
            self.worker,
            "Serverless-LambdaDLQ",
            "Fed by an SQS event source: failed messages reach the queue's dead-letter queue via its redrive policy.",
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "WebhookUrl": self.api.url_for_path("/webhooks"),
            "QueueUrl": self.queue.queue_url,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "TableName": self.table.table_name,
        }
