"""FIFOer: SQS FIFO queue -> Lambda -> DynamoDB, in order per message group, each message once.

Producers send ledger entries grouped by account (``shared.ledger.LedgerPublisher``); the consumer
applies them to the account's balance in the order they were sent. SQS hands a group's messages
over in order and holds the group while any of them is in flight, so one account is never worked
on twice at once, while other accounts go on in parallel. A message that keeps failing (a debit
that would overdraw) blocks its own group only: the consumer reports it and every later message
of its group in the batch as failed (Powertools' ``SqsFifoPartialProcessor``), and after
``max_receive_count`` receives they move to the FIFO dead-letter queue in order. Duplicates sent
within five minutes are dropped by SQS; a redelivered message is written once by the consumer.

``deduplication="content"`` (the default) has SQS take the SHA-256 of the body as the
deduplication id unless the producer gives one: an entry's body carries its ``event_id``, so
equal bodies are the same entry, and producers need no extra field. ``"explicit"`` makes SQS
refuse any message without ``MessageDeduplicationId``: choose it when a producer's retry may
re-serialize the same entry differently (a timestamp, key order).

Example::

    ledger = FifoConsumer(self, "Ledger", deduplication="explicit")
    ledger.dead_letter_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from typing import Any, Literal

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureQueue,
    acknowledge,
    add_sqs_event_source,
    event_source_queue_props,
    grant_table,
    pattern_function_props,
    table_or_new,
)

Deduplication = Literal["content", "explicit"]
#: Lambda's largest batch from a FIFO queue (no batching window is allowed for FIFO).
MAX_FIFO_BATCH = 10


class FifoConsumer(Construct):
    """A FIFO queue whose messages a function applies to a table in order per group, once each.

    :param deduplication: ``"content"`` (SQS hashes the body unless the producer gives an id) or
        ``"explicit"`` (every message must carry ``MessageDeduplicationId``).
    :param batch_size: messages per invocation, 1 to 10 (10).
    :param max_concurrency: most batches at once (2 to 1000; 2): at most one per message group anyway.
    :param max_receive_count: receives before a message moves to the FIFO dead-letter queue (3).
    :param consumer_timeout: the consumer's timeout (30 s); the queue's visibility timeout is six times it.
    :param table: an existing table with string partition key ``account_id``; one is made if omitted.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param queue_props: ``SecureQueue`` props of the queue (``encryption_master_key``,
        ``dead_letter_queue_props``...); ``fifo`` and ``content_based_deduplication`` are the construct's.
    :param functions_props: ``PatternFunction`` props (``runtime``, ``architecture``, ``shared_dir``...);
        ``consumer_props`` of the consumer alone.
    :param code_dir: the folder of ``consumer.py``; ``functions/fifo_consumer`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deduplication: Deduplication = "content",
        batch_size: int = MAX_FIFO_BATCH,
        max_concurrency: int = 2,
        max_receive_count: int | None = None,
        consumer_timeout: Duration | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        queue_props: Props | None = None,
        functions_props: Props | None = None,
        consumer_props: Props | None = None,
        code_dir: CodeLocation = "fifo_consumer",
    ) -> None:
        super().__init__(scope, construct_id)
        if deduplication not in ("content", "explicit"):
            raise ValueError(
                f"{construct_id}: deduplication must be 'content' or 'explicit'; got {deduplication!r}"
            )
        if not 1 <= batch_size <= MAX_FIFO_BATCH:
            raise ValueError(f"{construct_id}: batch_size must be from 1 to 10 for a FIFO queue")
        if not 2 <= max_concurrency <= 1000:
            raise ValueError(
                f"{construct_id}: max_concurrency must be from 2 to 1000 (SQS event source limit)"
            )
        self.deduplication = deduplication
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="account_id", type=dynamodb.AttributeType.STRING),
        )
        consumer = pattern_function_props(
            self,
            "consumer_props",
            {
                "code_dir": code_dir,
                "service": "fifo_consumer",
                "handler": "consumer.handler",
                "description": "Applies ledger entries in order per account, each once; a failure holds its account only",
                "timeout": Duration.seconds(30),
                "environment": {"TABLE_NAME": self.table.table_name},
            },
            consumer_props,
            functions_props=functions_props,
            keywords={"timeout": ("consumer_timeout", consumer_timeout)},
        )
        timeout = consumer["timeout"]
        inbox_props = event_source_queue_props(
            self,
            "consumer",
            timeout,
            {"max_receive_count": 3},
            queue_props,
            max_receive_count=max_receive_count,
            fixed=("fifo", "content_based_deduplication"),
        )
        inbox = SecureQueue(
            self,
            "Inbox",
            fifo=True,
            content_based_deduplication=deduplication == "content",
            **inbox_props,
        )
        self.queue = inbox.queue
        self.dead_letter_queue = inbox.dead_letter_queue

        self.consumer = PatternFunction(self, "Consumer", **consumer)
        grant_table(self.table, self.consumer, "dynamodb:GetItem", "dynamodb:UpdateItem")
        self.event_source = add_sqs_event_source(
            self.consumer, self.queue, batch_size=batch_size, max_concurrency=max_concurrency
        )
        acknowledge(
            self.consumer,
            "Serverless-LambdaDLQ",
            "Fed by an SQS FIFO event source: failed messages reach the queue's FIFO dead-letter queue "
            "through its redrive policy.",
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "QueueUrl": self.queue.queue_url,
            "DeadLetterQueueUrl": self.dead_letter_queue.queue_url,
            "TableName": self.table.table_name,
        }
