"""Real-time analytics: Kinesis Data Streams -> Lambda with tumbling windows -> a DynamoDB metrics
table, and an SNS alert when a window breaks an anomaly rule.

Producers put metric values (``{"metric": "checkout.latency_ms", "value": 182}``) with the metric as
partition key. The event source mapping groups each shard's records in tumbling windows of their
arrival time (``window``, aligned on the epoch) and hands the function the window's ``state`` from
one invocation to the next: the aggregator keeps each metric's count, sum, minimum and maximum in
it. At the window's end Lambda invokes it once more (``isFinalInvokeForWindow``): it writes one item
per metric, keyed by the metric and the window's start and shard, with a conditional put, so a
replayed final invocation counts nothing twice; a metric that breaks one of ``anomaly_rules``
(a threshold on a window statistic) publishes one alert to the encrypted topic. A bad record is
counted and sent to the failure queue with its reason instead of failing the window.

Example::

    analytics = RealtimeAnalytics(
        self, "Latency", window=Duration.minutes(5),
        anomaly_rules=[AnomalyRule("*.latency_ms", "avg", above=800), AnomalyRule("*.orders", "count", below=1)],
    )
    analytics.stream.grant_write(producer)
    analytics.topic.add_subscription(subscriptions.EmailSubscription("oncall@example.com"))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    grant_table,
    pattern_function_props,
    secure_topic,
    table_or_new,
)
from .stream_processing import (
    _check_range,
    check_record_age,
    consume_stream,
    stream_failure_queue,
    stream_or_new,
)

#: What SNS does with the alert topic's key for a publisher: a data key to encrypt the message, and
#: Decrypt (CDK's ``grant_publish`` grants ``kms:GenerateDataKey*``, a wildcard over actions never called).
PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
#: The window statistics a rule may test.
STATISTICS = ("count", "sum", "min", "max", "avg")
#: Lambda's limits for a tumbling window (0 turns windows off, which this pattern needs on).
WINDOW_RANGE = (Duration.seconds(1), Duration.minutes(15))
BATCH_SIZE_RANGE = (1, 10_000)
MAX_RETRY_ATTEMPTS = 10_000
DEFAULT_WINDOW = Duration.minutes(1)
DEFAULT_MAX_RECORD_AGE = Duration.hours(1)
DEFAULT_RETENTION = Duration.days(90)


@dataclass(frozen=True)
class AnomalyRule:
    """A threshold on one window statistic of the metrics ``metric`` matches (``*`` and ``?``
    wildcards): the window is an anomaly when the statistic is above ``above`` or below ``below``."""

    metric: str
    statistic: str
    above: float | None = None
    below: float | None = None

    def check(self, owner: str) -> None:
        if not self.metric:
            raise ValueError(f"{owner}: anomaly rule metric must not be empty")
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"{owner}: anomaly rule statistic {self.statistic!r} must be one of {', '.join(STATISTICS)}"
            )
        if self.above is None and self.below is None:
            raise ValueError(f"{owner}: anomaly rule for {self.metric!r} needs above or below")


#: What the stack deploys with: a window whose average latency is over a second is an anomaly.
DEFAULT_RULES = (AnomalyRule("*.latency_ms", "avg", above=1000),)


class RealtimeAnalytics(Construct):
    """A stream aggregated per tumbling window into a metrics table, with threshold alerts on a topic.

    :param window: the tumbling window, 1 second to 15 minutes (1 minute).
    :param anomaly_rules: thresholds on window statistics (:data:`DEFAULT_RULES`); empty for none.
    :param batch_size: records per invocation, 1 to 10,000 (100).
    :param retry_attempts: retries of a failing batch or final invocation before its batch info goes
        to the failure queue, 0 to 10,000 (2).
    :param max_record_age: oldest record (or window end) still processed, 1 minute to 7 days (1 hour).
    :param starting_position: where a new mapping starts reading the stream (``TRIM_HORIZON``: every
        record the stream still holds; ``LATEST`` skips them).
    :param retention: how long window items are kept (DynamoDB TTL), at least a day (90 days).
    :param stream: an existing stream; one is made if omitted (``stream_props``: 2 shards, KMS).
    :param table: an existing table with string partition key ``metric`` and sort key ``window`` and
        TTL on ``expires_at``; one is made if omitted (``table_props``).
    :param master_key: the alert topic's customer-managed key; one with rotation is made if omitted.
    :param topic_props: ``sns.Topic`` props of the alert topic.
    :param failure_queue: an existing standard queue for bad records and failed batches' info; one
        is made if omitted (``failure_queue_props``).
    :param functions_props: ``PatternFunction`` props; ``aggregator_props`` of the aggregator alone.
    :param code_dir: the folder of ``aggregator.py``; ``functions/realtime_analytics`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        window: Duration = DEFAULT_WINDOW,
        anomaly_rules: Sequence[AnomalyRule] = DEFAULT_RULES,
        batch_size: int = 100,
        retry_attempts: int = 2,
        max_record_age: Duration = DEFAULT_MAX_RECORD_AGE,
        retention: Duration = DEFAULT_RETENTION,
        starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        stream: kinesis.IStream | None = None,
        stream_props: Props | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        master_key: kms.IKey | None = None,
        topic_props: Props | None = None,
        failure_queue: sqs.IQueue | None = None,
        failure_queue_props: Props | None = None,
        functions_props: Props | None = None,
        aggregator_props: Props | None = None,
        code_dir: CodeLocation = "realtime_analytics",
    ) -> None:
        super().__init__(scope, construct_id)
        low, high = WINDOW_RANGE
        millis = window.to_milliseconds()
        if not low.to_milliseconds() <= millis <= high.to_milliseconds() or millis % 1000:
            raise ValueError(f"{construct_id}: window must be whole seconds from 1 second to 15 minutes")
        _check_range(construct_id, "batch_size", batch_size, *BATCH_SIZE_RANGE)
        _check_range(construct_id, "retry_attempts", retry_attempts, 0, MAX_RETRY_ATTEMPTS)
        check_record_age(construct_id, max_record_age)
        if retention.to_seconds() < 24 * 3600:
            raise ValueError(f"{construct_id}: retention must be at least a day")
        for rule in anomaly_rules:
            rule.check(construct_id)
        self.anomaly_rules = tuple(anomaly_rules)

        self.stream = stream_or_new(self, stream, stream_props)
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="metric", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="window", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
        )
        self.topic = secure_topic(
            self,
            "AlertTopic",
            master_key=master_key,
            key_description=f"Encrypts the {construct_id} analytics' anomaly alerts at rest",
            **dict(topic_props or {}),
        )
        self.key: kms.IKey = self.topic.master_key  # type: ignore[assignment]
        self.failure_queue = stream_failure_queue(
            self,
            failure_queue,
            failure_queue_props,
            what="bad records and stream batches that failed every retry",
        )

        aggregator = pattern_function_props(
            self,
            "aggregator_props",
            {
                "code_dir": code_dir,
                "service": "realtime_analytics",
                "handler": "aggregator.handler",
                "description": "Aggregates metrics per tumbling window, writes each window once, alerts on anomalies",
                "timeout": Duration.seconds(30),
                "environment": {
                    "TABLE_NAME": self.table.table_name,
                    "TOPIC_ARN": self.topic.topic_arn,
                    "FAILURE_QUEUE_URL": self.failure_queue.queue_url,
                    "ANOMALY_RULES": json.dumps([asdict(r) for r in self.anomaly_rules]),
                    "RETENTION_SECONDS": str(int(retention.to_seconds())),
                },
            },
            aggregator_props,
            functions_props=functions_props,
        )
        self.aggregator = PatternFunction(self, "Aggregator", **aggregator)
        grant_table(self.table, self.aggregator, "dynamodb:PutItem", "dynamodb:UpdateItem")
        self.aggregator.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        self.key.grant(self.aggregator, *PUBLISH_KEY_ACTIONS)
        self.event_source = consume_stream(
            self.aggregator,
            self.stream,
            self.failure_queue,
            failures="bad records and failed batches' info go",
            starting_position=starting_position,
            batch_size=batch_size,
            tumbling_window=window,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "StreamName": self.stream.stream_name,
            "TableName": self.table.table_name,
            "AlertTopicArn": self.topic.topic_arn,
            "FailureQueueUrl": self.failure_queue.queue_url,
        }
