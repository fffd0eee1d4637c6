"""Data streaming: Kinesis Data Streams -> Lambda -> DynamoDB, several batches per shard at once,
a bad record bisected out to an on-failure queue while the rest of the shard goes on.

Producers put meter readings with the meter as partition key; the processor keeps each meter's
running total in a table, counting each record once. The event source mapping reads each shard
with ``parallelization_factor`` concurrent batches: Lambda hashes partition keys to that many
virtual shards, so one meter's readings stay in order while other meters of the same shard are
processed beside them. A batch that fails is split in halves (``BisectBatchOnFunctionError``)
until the bad record is alone, retried ``retry_attempts`` times, and then its batch info (shard,
sequence numbers, arrival times; not the record) goes to the failure queue. Only its own virtual
shard waits meanwhile. Records older than ``max_record_age`` are given up on the same way, so a
stuck shard cannot fall behind for the stream's whole retention.

Example::

    readings = StreamProcessing(self, "Readings", parallelization_factor=8, retry_attempts=5)
    readings.stream.grant_write(producer)
    readings.failure_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureDefault,
    StreamFailureQueue,
    acknowledge,
    failure_queue,
    grant_table,
    merge_props,
    pattern_function_props,
    table_or_new,
)

#: What Lambda's Kinesis poller calls with the function's role on a shared-throughput stream
#: (AWS Lambda developer guide, Kinesis execution role permissions, less ``SubscribeToShard``,
#: which only enhanced fan-out uses). CDK's ``grant_read`` adds consumer actions nobody calls here.
KINESIS_POLLER_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:ListStreams",
)
#: Lambda's limits for a stream event source mapping.
PARALLELIZATION_RANGE = (1, 10)
BATCH_SIZE_RANGE = (1, 10_000)
MAX_BATCHING_WINDOW = Duration.minutes(5)
MAX_RETRY_ATTEMPTS = 10_000
RECORD_AGE_RANGE = (Duration.minutes(1), Duration.days(7))
DEFAULT_BATCHING_WINDOW = Duration.seconds(5)
DEFAULT_MAX_RECORD_AGE = Duration.hours(1)

STREAM_DEFAULTS: Props = {
    "shard_count": 2,
    "encryption": kinesis.StreamEncryption.MANAGED,
    "retention_period": Duration.hours(24),
}
STREAM_SECURE = (
    SecureDefault(
        "encryption",
        lambda v: v == kinesis.StreamEncryption.UNENCRYPTED,
        "encrypts records at rest with KMS",
    ),
)


def grant_stream_poll(stream: kinesis.IStream, function: lambda_.IFunction) -> iam.Grant:
    """Let Lambda's poller read ``stream`` with ``function``'s role: :data:`KINESIS_POLLER_ACTIONS`,
    and ``kms:Decrypt`` on a customer-managed key."""
    grant = iam.Grant.add_to_principal(
        grantee=function, actions=list(KINESIS_POLLER_ACTIONS), resource_arns=[stream.stream_arn]
    )
    if stream.encryption_key is not None:
        stream.encryption_key.grant(function, "kms:Decrypt")
    return grant


class StreamProcessing(Construct):
    """A Kinesis stream whose records a function applies to a table, N batches per shard at once.

    :param parallelization_factor: concurrent batches per shard, 1 to 10 (4); order is kept per
        partition key.
    :param batch_size: records per invocation, 1 to 10,000 (100).
    :param max_batching_window: how long Lambda waits to fill a batch, up to 5 minutes (5 s).
    :param retry_attempts: retries of a failing batch (after bisecting it) before its batch info goes
        to the failure queue, 0 to 10,000 (2); there is no "forever".
    :param max_record_age: oldest record still processed, 1 minute to 7 days (1 hour).
    :param starting_position: where a new mapping starts reading (``TRIM_HORIZON``).
    :param stream: an existing stream; one is made if omitted.
    :param stream_props: ``kinesis.Stream`` props of the stream made here (2 shards, KMS-managed
        encryption, 24 hours).
    :param table: an existing table with string partition key ``meter_id``; one is made if omitted.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param failure_queue: an existing standard queue for failed batches' info; one is made if omitted.
    :param failure_queue_props: ``sqs.Queue`` props of the failure queue made here.
    :param functions_props: ``PatternFunction`` props (``runtime``, ``architecture``...);
        ``processor_props`` of the processor alone.
    :param code_dir: the folder of ``processor.py``; ``functions/stream_processing`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        parallelization_factor: int = 4,
        batch_size: int = 100,
        max_batching_window: Duration = DEFAULT_BATCHING_WINDOW,
        retry_attempts: int = 2,
        max_record_age: Duration = DEFAULT_MAX_RECORD_AGE,
        starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        stream: kinesis.IStream | None = None,
        stream_props: Props | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        failure_queue: sqs.IQueue | None = None,
        failure_queue_props: Props | None = None,
        functions_props: Props | None = None,
        processor_props: Props | None = None,
        code_dir: CodeLocation = "stream_processing",
    ) -> None:
        super().__init__(scope, construct_id)
        _check_range(construct_id, "parallelization_factor", parallelization_factor, *PARALLELIZATION_RANGE)
        _check_range(construct_id, "batch_size", batch_size, *BATCH_SIZE_RANGE)
        _check_range(construct_id, "retry_attempts", retry_attempts, 0, MAX_RETRY_ATTEMPTS)
        if max_batching_window.to_seconds() > MAX_BATCHING_WINDOW.to_seconds():
            raise ValueError(f"{construct_id}: max_batching_window must be at most 5 minutes")
        check_record_age(construct_id, max_record_age)

        self.stream = stream_or_new(self, stream, stream_props)
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="meter_id", type=dynamodb.AttributeType.STRING),
        )
        self.failure_queue = stream_failure_queue(
            self, failure_queue, failure_queue_props, what="stream batches that failed every retry"
        )

        processor = pattern_function_props(
            self,
            "processor_props",
            {
                "code_dir": code_dir,
                "service": "stream_processing",
                "handler": "processor.handler",
                "description": "Keeps each meter's running total from the stream, each record once",
                "timeout": Duration.seconds(30),
                "environment": {"TABLE_NAME": self.table.table_name},
            },
            processor_props,
            functions_props=functions_props,
        )
        self.processor = PatternFunction(self, "Processor", **processor)
        grant_table(self.table, self.processor, "dynamodb:UpdateItem")
        self.event_source = consume_stream(
            self.processor,
            self.stream,
            self.failure_queue,
            failures="failed batches' info goes",
            starting_position=starting_position,
            batch_size=batch_size,
            parallelization_factor=parallelization_factor,
            max_batching_window=max_batching_window,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "StreamName": self.stream.stream_name,
            "TableName": self.table.table_name,
            "FailureQueueUrl": self.failure_queue.queue_url,
        }


def stream_or_new(
    owner: Construct, stream: kinesis.IStream | None, props: Props | None, defaults: Props = STREAM_DEFAULTS
) -> kinesis.IStream:
    """``stream``, or a ``Stream`` made in ``owner`` with ``defaults`` under ``props``."""
    merged = merge_props(
        owner, "stream_props", defaults, props, existing=("stream", stream), secure=STREAM_SECURE
    )
    return stream or kinesis.Stream(owner, "Stream", **merged)


def stream_failure_queue(
    owner: Construct, queue: sqs.IQueue | None, props: Props | None, *, what: str
) -> sqs.IQueue:
    """``queue``, or a standard ``FailureQueue`` made in ``owner`` for ``what``: Lambda's on-failure
    destinations take no FIFO queue, so ``props`` asking for one are refused."""
    merged = merge_props(owner, "failure_queue_props", {}, props, existing=("failure_queue", queue))
    if queue is not None:
        return queue
    if merged.get("fifo"):
        raise ValueError(
            f"{owner.node.path}: failure_queue_props['fifo']: Lambda's on-failure destinations take no FIFO queue"
        )
    return failure_queue(owner, "FailureQueue", what=what, **merged)


def check_record_age(construct_id: str, max_record_age: Duration) -> None:
    low, high = RECORD_AGE_RANGE
    if not low.to_seconds() <= max_record_age.to_seconds() <= high.to_seconds():
        raise ValueError(f"{construct_id}: max_record_age must be from 1 minute to 7 days")


def consume_stream(
    function: lambda_.Function,
    stream: kinesis.IStream,
    failure_queue: sqs.IQueue,
    *,
    failures: str,
    **mapping: Any,
) -> lambda_.EventSourceMapping:
    """Map ``stream`` to ``function`` the house way: poll grant, a failing batch bisected and retried,
    then its info to ``failure_queue`` (``failures`` says what goes there, for the DLQ finding).
    ``mapping`` takes the rest of ``add_event_source_mapping``'s props."""
    grant_stream_poll(stream, function)
    source = function.add_event_source_mapping(
        "KinesisEventSource",
        event_source_arn=stream.stream_arn,
        bisect_batch_on_error=True,
        on_failure=StreamFailureQueue(failure_queue),
        **mapping,
    )
    acknowledge(
        function,
        "Serverless-LambdaDLQ",
        f"Invoked by a Kinesis event source mapping, never asynchronously: {failures} to the mapping's "
        "on-failure queue.",
    )
    return source


def _check_range(construct_id: str, name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{construct_id}: {name} must be from {low:,} to {high:,}; got {value}")
