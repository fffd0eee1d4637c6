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

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    SecureRestApi,
    acknowledge,
    add_sqs_event_source,
    grant_send,
    json_model,
    merge_props,
    pattern_function_props,
    rest_api_props,
    table_or_new,
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
    :param max_receive_count: receives before a message moves to the dead-letter queue (3).
    :param worker_timeout: the worker's timeout (30 s); the queue's visibility timeout is six times it.
    :param table: an existing table with string partition key ``id``; one is created if omitted.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param queue_props: ``SecureQueue`` props of the inbox (``encryption_master_key``,
        ``dead_letter_queue_props``...); its visibility timeout must cover the worker's timeout.
    :param functions_props: ``PatternFunction`` props of both functions (``runtime``, ``architecture``,
        ``shared_dir``...); ``receiver_props`` and ``worker_props`` of each.
    :param api_props: ``SecureRestApi`` props.
    :param code_dir: the folder of ``receiver.py`` and ``worker.py``; ``functions/scalable_webhook`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_concurrency: int = 2,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_receive_count: int | None = None,
        worker_timeout: Duration | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        queue_props: Props | None = None,
        functions_props: Props | None = None,
        receiver_props: Props | None = None,
        worker_props: Props | None = None,
        api_props: Props | None = None,
        code_dir: CodeLocation = "scalable_webhook",
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
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
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        function_defaults = {"code_dir": code_dir, "service": "scalable_webhook"}
        worker = pattern_function_props(
            self,
            "worker_props",
            {
                **function_defaults,
                "handler": "worker.handler",
                "description": "Stores queued webhooks once each, reporting failed records alone",
                "timeout": Duration.seconds(30),
                "environment": {"TABLE_NAME": self.table.table_name},
            },
            worker_props,
            functions_props=functions_props,
            keywords={"timeout": ("worker_timeout", worker_timeout)},
        )
        worker_timeout = worker["timeout"]

        inbox_props = merge_props(
            self,
            "queue_props",
            {
                "max_receive_count": 3,
                # AWS's guidance: at least six times the function timeout, so a throttled batch is not
                # redelivered while it is still being worked on.
                "visibility_timeout": Duration.seconds(worker_timeout.to_seconds() * 6),
            },
            queue_props,
            keywords={"max_receive_count": ("max_receive_count", max_receive_count)},
        )
        if inbox_props["visibility_timeout"].to_seconds() < worker_timeout.to_seconds():
            raise ValueError(
                f"{self.node.path}: queue_props['visibility_timeout'] is shorter than the worker's timeout "
                f"({worker_timeout.to_seconds()} s), which SQS event sources refuse; lengthen it or give "
                "the worker a shorter timeout"
            )
        inbox = SecureQueue(self, "Inbox", **inbox_props)
        self.queue = inbox.queue
        self.dead_letter_queue = inbox.dead_letter_queue

        self.receiver = PatternFunction(
            self,
            "Receiver",
            **pattern_function_props(
                self,
                "receiver_props",
                {
                    **function_defaults,
                    "handler": "receiver.handler",
                    "description": "Validates a webhook and enqueues it; answers 202",
                    "environment": {"QUEUE_URL": self.queue.queue_url},
                },
                receiver_props,
                functions_props=functions_props,
            ),
        )
        grant_send(self.queue, self.receiver)

        self.worker = PatternFunction(self, "Worker", **worker)
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
            **rest_api_props(
                self,
                api_props,
                description="Scalable webhook: POST /webhooks",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                default_rate_limit=500,
                default_burst_limit=250,
            ),
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
