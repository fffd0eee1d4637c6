"""Frugal Consumer: a standalone SQS queue -> a Lambda consumer at a small, fixed pace -> a less
scalable store, with a dead-letter queue.

Producers anywhere send to the queue through the SDK (``grant_send_messages`` lets a role send, and
nothing else); the queue absorbs any burst. The consumer reads it with the event source's maximum
concurrency (2 by default) and a batching window, so the store gets at most that many calls at a
time, each with a full batch. The store is the system that cannot scale: by default a stand-in
function that takes ``writes_per_second`` writes in any one second and answers "throttled" beyond
(give ``store`` to use yours; it must answer the same contract). The consumer reports what the store
throttled as failed items of its batch, so only those return to the queue and are tried again after
the visibility timeout; a message that is not a valid order reaches the dead-letter queue after
``max_receive_count`` receives.

Two things hold the rate, on purpose: the consumer's pace (maximum concurrency x batch size per
store call's duration) keeps the store's throttle rare, and the store's own limit is what no
burst, no other client and no mis-sized consumer can exceed.

Example::

    orders = FrugalConsumer(self, "Orders", writes_per_second=50, max_concurrency=2)
    orders.grant_send_messages(checkout_function)
    orders.dead_letter_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    acknowledge,
    add_sqs_event_source,
    event_source_queue_props,
    grant_invoke_latest,
    grant_send,
    grant_table,
    pattern_function_props,
    table_or_new,
)

#: Lambda's range for an SQS event source's maximum concurrency.
MAX_CONCURRENCY_RANGE = (2, 1000)


class FrugalConsumer(Construct):
    """A queue any producer may write to, drained at a pace a less scalable store can take.

    :param writes_per_second: writes the stand-in store takes in any one second (20), "throttled"
        beyond; not with ``store``.
    :param max_concurrency: most consumer invocations at once, so most store calls at once (2 to 1000; 2).
    :param batch_size: messages per invocation, so per store call (10; over 10 needs a window).
    :param max_batching_window: how long to wait for a fuller batch (5 s): fewer, fuller store calls.
    :param max_receive_count: receives before a message moves to the dead-letter queue (5, AWS's
        advice for Lambda consumers): a throttled order is received again, so leave room for it.
    :param consumer_timeout: the consumer's timeout (30 s); the queue's visibility timeout is six times it.
    :param store: your store, a function answering the stand-in's contract (``functions/frugal_consumer/store.py``).
    :param table: an existing table with string partition key ``id`` for the stand-in store.
    :param table_props: ``dynamodb.Table`` props of the stand-in store's table made here.
    :param queue_props: ``SecureQueue`` props of the queue (``encryption_master_key``,
        ``dead_letter_queue_props``...).
    :param functions_props: ``PatternFunction`` props of both functions; ``consumer_props`` and
        ``store_props`` of each.
    :param code_dir: the folder of ``consumer.py`` and ``store.py``; ``functions/frugal_consumer`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        writes_per_second: int | None = None,
        max_concurrency: int = 2,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_receive_count: int | None = None,
        consumer_timeout: Duration | None = None,
        store: lambda_.IFunction | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        queue_props: Props | None = None,
        functions_props: Props | None = None,
        consumer_props: Props | None = None,
        store_props: Props | None = None,
        code_dir: CodeLocation = "frugal_consumer",
    ) -> None:
        super().__init__(scope, construct_id)
        low, high = MAX_CONCURRENCY_RANGE
        if not low <= max_concurrency <= high:
            raise ValueError(
                f"{construct_id}: max_concurrency must be from {low} to {high} (SQS event source limit)"
            )
        if store is not None and (
            writes_per_second is not None or table is not None or table_props or store_props
        ):
            raise ValueError(
                f"{construct_id}: store is yours, so writes_per_second, table, table_props and "
                "store_props (which describe the stand-in store) cannot be given with it"
            )
        if writes_per_second is not None and not 1 <= writes_per_second <= 10_000:
            raise ValueError(f"{construct_id}: writes_per_second must be from 1 to 10000")
        window = max_batching_window or Duration.seconds(5)
        if not 0 <= window.to_seconds() <= 300:
            raise ValueError(f"{construct_id}: max_batching_window must be from 0 to 300 seconds")

        function_defaults = {"code_dir": code_dir, "service": "frugal_consumer"}
        self.table: dynamodb.ITable | None = None
        if store is None:
            self.table = table_or_new(
                self,
                "Table",
                name="table",
                existing=table,
                props=table_props,
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            )
            self.writes_per_second = writes_per_second or 20
            store = PatternFunction(
                self,
                "Store",
                **pattern_function_props(
                    self,
                    "store_props",
                    {
                        **function_defaults,
                        "handler": "store.handler",
                        "description": f"Stand-in for a less scalable store: {self.writes_per_second} "
                        "writes in any one second, throttled beyond",
                        "environment": {
                            "TABLE_NAME": self.table.table_name,
                            "WRITES_PER_SECOND": str(self.writes_per_second),
                        },
                    },
                    store_props,
                    functions_props=functions_props,
                ),
            )
            grant_table(self.table, store, "dynamodb:GetItem", "dynamodb:PutItem")
            acknowledge(
                store,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by the consumer only: a failure returns to the consumer, whose "
                "messages return to the queue.",
            )
        self.store = store

        consumer = pattern_function_props(
            self,
            "consumer_props",
            {
                **function_defaults,
                "handler": "consumer.handler",
                "description": "Hands queued orders to the less scalable store a batch at a time; "
                "throttled ones return to the queue",
                "timeout": Duration.seconds(30),
                "environment": {"STORE_FUNCTION": store.function_arn},
            },
            consumer_props,
            functions_props=functions_props,
            keywords={"timeout": ("consumer_timeout", consumer_timeout)},
        )
        inbox = SecureQueue(
            self,
            "Inbox",
            **event_source_queue_props(
                self,
                "consumer",
                consumer["timeout"],
                {"max_receive_count": 5},
                queue_props,
                max_receive_count=max_receive_count,
            ),
        )
        self.queue = inbox.queue
        self.dead_letter_queue = inbox.dead_letter_queue

        self.consumer = PatternFunction(self, "Consumer", **consumer)
        grant_invoke_latest(store, self.consumer)
        self.event_source = add_sqs_event_source(
            self.consumer,
            self.queue,
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            max_batching_window=window,
        )
        acknowledge(
            self.consumer,
            "Serverless-LambdaDLQ",
            "Fed by an SQS event source: failed messages reach the queue's dead-letter queue through "
            "its redrive policy.",
        )

    def grant_send_messages(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let a producer send to the queue (``sqs:SendMessage``, and the key's use if it has one), nothing else."""
        return grant_send(self.queue, grantee)

    def output_descriptions(self) -> dict[str, str]:
        return {
            "QueueUrl": "Producers send orders here with the SDK: "
            '{"id": "...", "customer": "...", "total_cents": 0}',
        }

    def outputs(self) -> dict[str, Any]:
        outputs = {
            "QueueUrl": self.queue.queue_url,
            "QueueArn": self.queue.queue_arn,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "StoreFunctionName": self.store.function_name,
        }
        if self.table is not None:
            outputs["TableName"] = self.table.table_name
        return outputs
