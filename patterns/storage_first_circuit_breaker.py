"""Storage-First + Circuit Breaker: requests stored in SQS first, held there while the downstream is down.

API Gateway stores each request in SQS before any code runs (the storage-first queue construct,
``patterns/storage_first.py``). The processor delivers each one to a downstream service through a
circuit breaker kept in DynamoDB (``shared/circuit_breaker.py``). When the downstream fails,
the circuit opens, and the stored requests must wait without being lost or dead-lettered:

The mapping is **disabled** while the circuit is open. A recovery check, run on a schedule, reads
the circuit: open, it disables the processor's event source mapping (``UpdateEventSourceMapping
Enabled=false``), so SQS stops delivering and keeps every request with no receive counted, however
long the outage lasts; then it sends one health check through the breaker when the circuit lets a
probe through. A healthy answer closes the circuit and enables the mapping, and everything stored
is processed, each request once (a conditional write in the processed table). The other way,
returning batch failures with a longer visibility timeout, receives every held request again at
each try, and each receive counts towards ``maxReceiveCount``: the dead-letter queue would fill
with good requests once an outage outlasted ``maxReceiveCount`` tries.

What a held request costs is the one receive that found the circuit open: the queue's visibility
timeout, by default twice the check's interval, keeps it out of sight until the check has
disabled the mapping. The queue's retention (14 days, SQS's most) bounds the outage the pattern
rides out.

By default the construct builds a sample downstream too: an order fulfilment service with its own
table, down while that table holds the item ``{"request_id": "OUTAGE"}``. Pass ``fulfilment`` to
call your own function instead (the contract of ``functions/storage_first_circuit_breaker/fulfilment.py``).

Example::

    intake = StorageFirstCircuitBreaker(self, "Orders", recovery_interval=Duration.minutes(2))
    intake.queue.grant_send_messages(batch_importer_fn)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .circuit_breaker import SYNC_INVOKED, add_breaker, new_circuit_table
from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    grant_invoke_latest,
    grant_table,
    merge_props,
    pattern_function_props,
    secure_table,
)
from .storage_first import StorageFirstQueue

CIRCUIT = "fulfilment-service"
DEFAULT_FULFILMENT_TIMEOUT = Duration.seconds(3)
DEFAULT_PROCESSOR_TIMEOUT = Duration.seconds(10)
#: The recovery check's answer must be in before the next run; a probe waits out the downstream.
RECOVERY_TIMEOUT = Duration.seconds(15)
MIN_RECOVERY_INTERVAL = Duration.minutes(1)
#: SQS keeps a message at most 14 days: the longest outage the stored requests ride out.
MAX_RETENTION = Duration.days(14)


class StorageFirstCircuitBreaker(Construct):
    """``POST /requests`` stored in SQS; the processor calls the downstream through a breaker; a
    scheduled recovery check holds the queue (the event source mapping disabled) while the circuit
    is open and releases it when a probe finds the downstream healthy.

    :param failure_threshold: downstream failures within ``window`` that open the circuit (5).
    :param window: how long failures are counted together (60 s).
    :param open_timeout: how long the circuit stays open before one probe (30 s).
    :param max_open_timeout: the cap of the open timeout, which each failed probe doubles (10 min).
    :param recovery_interval: how often the recovery check runs (1 min, the least a schedule takes).
    :param max_receive_count: receives before a request goes to the dead-letter queue (3): a
        request the processor refuses reaches it; one held through an outage is received once.
    :param batch_size: requests per processor invocation (10).
    :param max_concurrency: most concurrent processor invocations (2).
    :param fulfilment: your downstream function, following the contract of
        ``functions/storage_first_circuit_breaker/fulfilment.py``; a sample one is built if omitted.
    :param fulfilment_timeout: how long one downstream call may take (3 s).
    :param circuit_table: an existing table with string partition key ``circuit``; one is made if omitted.
    :param circuit_table_props: ``dynamodb.Table`` props of the circuit table made here.
    :param queue_props: ``SecureQueue`` props of the requests queue; its retention is 14 days and its
        visibility timeout twice ``recovery_interval`` (at least six processor timeouts) by default.
    :param functions_props: ``PatternFunction`` props of every function made here; ``processor_props``,
        ``recovery_props`` and ``fulfilment_props`` of each.
    :param fulfilment_table_props: ``dynamodb.Table`` props of the sample downstream's table.
    :param intake_props: other :class:`~patterns.storage_first.StorageFirstQueue` props (``api_props``,
        ``processed_table``, ``throttling_rate_limit``...).
    :param code_dir: the folder of the handlers; ``functions/storage_first_circuit_breaker`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        failure_threshold: int = 5,
        window: Duration | None = None,
        open_timeout: Duration | None = None,
        max_open_timeout: Duration | None = None,
        recovery_interval: Duration | None = None,
        max_receive_count: int | None = None,
        batch_size: int = 10,
        max_concurrency: int = 2,
        fulfilment: lambda_.IFunction | None = None,
        fulfilment_timeout: Duration | None = None,
        circuit_table: dynamodb.ITable | None = None,
        circuit_table_props: Props | None = None,
        queue_props: Props | None = None,
        functions_props: Props | None = None,
        processor_props: Props | None = None,
        recovery_props: Props | None = None,
        fulfilment_props: Props | None = None,
        fulfilment_table_props: Props | None = None,
        intake_props: Props | None = None,
        code_dir: CodeLocation = "storage_first_circuit_breaker",
    ) -> None:
        super().__init__(scope, construct_id)
        for name, props in (
            ("fulfilment_props", fulfilment_props),
            ("fulfilment_table_props", fulfilment_table_props),
        ):
            merge_props(self, name, {}, props, existing=("fulfilment", fulfilment))
        window = window or Duration.seconds(60)
        open_timeout = open_timeout or Duration.seconds(30)
        max_open_timeout = max_open_timeout or Duration.minutes(10)
        recovery_interval = recovery_interval or MIN_RECOVERY_INTERVAL
        fulfilment_timeout = fulfilment_timeout or DEFAULT_FULFILMENT_TIMEOUT
        if (
            recovery_interval.to_seconds() < MIN_RECOVERY_INTERVAL.to_seconds()
            or recovery_interval.to_seconds() % 60
        ):
            raise ValueError(
                f"{construct_id}: recovery_interval must be whole minutes, 1 or more (a schedule's rate)"
            )
        if failure_threshold < 1:
            raise ValueError(f"{construct_id}: failure_threshold must be 1 or more; got {failure_threshold}")
        if max_open_timeout.to_seconds() < open_timeout.to_seconds():
            raise ValueError(f"{construct_id}: max_open_timeout must be at least open_timeout")
        if not 1 <= fulfilment_timeout.to_seconds() <= RECOVERY_TIMEOUT.to_seconds() - 5:
            raise ValueError(f"{construct_id}: fulfilment_timeout must be from 1 to 10 s")
        self.recovery_interval = recovery_interval
        breaker = {
            "failure_threshold": failure_threshold,
            "window": window,
            "open_timeout": open_timeout,
            "max_open_timeout": max_open_timeout,
        }

        self.circuit_table = new_circuit_table(self, circuit_table, circuit_table_props)

        self.fulfilment_table: dynamodb.Table | None = None
        """The sample downstream's table (``None`` when you pass ``fulfilment``)."""
        if fulfilment is None:
            self.fulfilment_table = secure_table(
                self,
                "FulfilmentTable",
                **merge_props(
                    self,
                    "fulfilment_table_props",
                    {
                        "partition_key": dynamodb.Attribute(
                            name="request_id", type=dynamodb.AttributeType.STRING
                        )
                    },
                    fulfilment_table_props,
                    fixed=("partition_key",),
                ),
            )
            sample = PatternFunction(
                self,
                "Fulfilment",
                **pattern_function_props(
                    self,
                    "fulfilment_props",
                    {
                        "code_dir": code_dir,
                        "handler": "fulfilment.handler",
                        "service": "fulfilment",
                        "description": "Sample downstream: order fulfilment; fails while its table holds OUTAGE",
                        "environment": {"FULFILMENT_TABLE_NAME": self.fulfilment_table.table_name},
                        "timeout": fulfilment_timeout,
                    },
                    fulfilment_props,
                    functions_props=functions_props,
                ),
            )
            grant_table(self.fulfilment_table, sample, "dynamodb:GetItem", "dynamodb:UpdateItem")
            acknowledge(sample, "Serverless-LambdaDLQ", SYNC_INVOKED)
            fulfilment = sample
        self.fulfilment: lambda_.IFunction = fulfilment
        calls = {
            "FULFILMENT_FUNCTION_NAME": fulfilment.function_name,
            "FULFILMENT_TIMEOUT_SECONDS": f"{fulfilment_timeout.to_seconds():g}",
        }

        processor = pattern_function_props(
            self,
            "processor_props",
            {
                "service": "storage_first_circuit_breaker",
                "description": "Delivers each stored request to the fulfilment service through a circuit breaker",
                "timeout": DEFAULT_PROCESSOR_TIMEOUT,
            },
            processor_props,
            functions_props=functions_props,
        )
        processor_timeout: Duration = processor["timeout"]
        visibility = max(processor_timeout.to_seconds() * 6, recovery_interval.to_seconds() * 2)
        self.intake = StorageFirstQueue(
            self,
            "Intake",
            **merge_props(
                self,
                "intake_props",
                {
                    "code_dir": code_dir,
                    "function_props": processor,
                    "batch_size": batch_size,
                    "max_concurrency": max_concurrency,
                    "max_receive_count": max_receive_count,
                    "queue_props": merge_props(
                        self,
                        "queue_props",
                        {
                            "visibility_timeout": Duration.seconds(visibility),
                            "retention_period": MAX_RETENTION,
                        },
                        queue_props,
                    ),
                },
                intake_props,
                fixed=("code_dir", "function_props", "queue_props"),
            ),
        )
        self.api = self.intake.api
        self.queue = self.intake.queue
        self.dead_letter_queue = self.intake.dead_letter_queue
        self.processed_table = self.intake.processed_table
        self.processor: lambda_.Function = self.intake.function
        self.event_source: lambda_.EventSourceMapping = self.intake.event_source
        for name, value in calls.items():
            self.processor.add_environment(name, value)
        grant_table(self.processed_table, self.processor, "dynamodb:GetItem")
        grant_invoke_latest(fulfilment, self.processor)
        add_breaker(self.processor, self.circuit_table, CIRCUIT, **breaker)

        self.recovery = PatternFunction(
            self,
            "Recovery",
            **pattern_function_props(
                self,
                "recovery_props",
                {
                    "code_dir": code_dir,
                    "handler": "recovery.handler",
                    "service": "recovery",
                    "description": "Holds the queue while the circuit is open; probes the downstream and releases it",
                    "environment": {"MAPPING_UUID": self.event_source.event_source_mapping_id, **calls},
                    "timeout": RECOVERY_TIMEOUT,
                },
                recovery_props,
                functions_props=functions_props,
            ),
        )
        self.recovery.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
                resources=[self.event_source.event_source_mapping_arn],
            )
        )
        grant_invoke_latest(fulfilment, self.recovery)
        add_breaker(self.recovery, self.circuit_table, CIRCUIT, **breaker)
        self.recovery_rule = events.Rule(
            self,
            "RecoveryCheck",
            schedule=events.Schedule.rate(recovery_interval),
            description="Runs the recovery check: holds or releases the queue as the circuit stands",
            targets=[targets.LambdaFunction(self.recovery, retry_attempts=0)],
        )
        acknowledge(
            self.recovery_rule,
            "Serverless-EventBusDLQ",
            "A schedule's event carries no data to keep: a check that could not be delivered is made "
            "again by the next one, an interval later.",
        )
        acknowledge(
            self.recovery,
            "Serverless-LambdaDLQ",
            "Invoked by a schedule that carries no data: a missed check is made again by the next one.",
        )

    def outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            **self.intake.outputs(),
            "CircuitTableName": self.circuit_table.table_name,
            "RecoveryFunctionName": self.recovery.function_name,
            "EventSourceMappingId": self.event_source.event_source_mapping_id,
        }
        if self.fulfilment_table is not None:
            outputs["FulfilmentTableName"] = self.fulfilment_table.table_name
        return outputs
