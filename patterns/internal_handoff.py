"""Internal Handoff: a function hands work to another with ``InvocationType=Event`` and moves on.

Lambda acknowledges the event at once (202) and then owns it: it retries a failed invocation
(``retry_attempts``, after 1 and then 2 minutes) while the event is younger than
``max_event_age``, then sends Lambda's invocation record (the original event and the error) to an
on-failure destination queue. Asynchronous events may arrive more than once, so the worker is
idempotent (Powertools idempotency, records in a DynamoDB table with a TTL): an order earns its
points once however often its award arrives.

Example::

    handoff = InternalHandoff(self, "Loyalty", retry_attempts=1, max_event_age=Duration.hours(1))
    handoff.failure_queue.metric_approximate_number_of_messages_visible().create_alarm(...)
    handoff.add_requester(checkout_fn)  # may hand off to the worker; WORKER_FUNCTION_NAME in its env
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .defaults import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    CodeLocation,
    PatternFunction,
    Props,
    acknowledge,
    async_failure_destination,
    grant_invoke_latest,
    grant_table,
    pattern_function_props,
    table_or_new,
)

DEFAULT_MAX_EVENT_AGE = Duration.hours(1)
DEFAULT_IDEMPOTENCY_WINDOW = Duration.hours(24)
#: The attribute the worker writes each idempotency record's expiry to (epoch seconds): the table's TTL.
#: The worker gets it in ``IDEMPOTENCY_TTL_ATTRIBUTE``.
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
#: What Powertools' DynamoDB persistence layer calls on its table: PutItem (conditional) to claim an
#: event, UpdateItem to record its result, DeleteItem to release the claim when the function fails.
#: No GetItem: a repeat's record comes back with the failed put (ReturnValuesOnConditionCheckFailure).
IDEMPOTENCY_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class InternalHandoff(Construct):
    """A requester that hands points awards off asynchronously to an idempotent worker.

    :param retry_attempts: Lambda's retries of a failed event (0 to 2) before the failure queue.
    :param max_event_age: the oldest event Lambda still tries (1 minute to 6 hours).
    :param idempotency_window: how long an order id is remembered; at least ``max_event_age``, so
        every retry and duplicate of an event is recognised.
    :param worker_timeout: the worker's timeout (the house default, 10 seconds).
    :param memory_size: both functions' memory in MB (the house default, 256).
    :param failure_queue: an existing queue for events that failed every retry; one is made if omitted.
    :param balances_table: an existing table with string partition key ``customer_id``.
    :param idempotency_table: an existing table with string partition key ``id`` and TTL on
        ``expiration`` (Powertools' layout).
    :param failure_queue_props: ``sqs.Queue`` props of the failure queue made here;
        ``balances_table_props`` and ``idempotency_table_props`` ``dynamodb.Table`` props of the tables.
    :param functions_props: ``PatternFunction`` props of both functions (``runtime``, ``architecture``,
        ``shared_dir``...); ``worker_props`` and ``requester_props`` of each.
    :param code_dir: the folder of ``worker.py`` and ``requester.py``; ``functions/internal_handoff`` by default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retry_attempts: int = MAX_ASYNC_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        idempotency_window: Duration = DEFAULT_IDEMPOTENCY_WINDOW,
        failure_queue: sqs.IQueue | None = None,
        balances_table: dynamodb.ITable | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        worker_timeout: Duration | None = None,
        memory_size: int | None = None,
        failure_queue_props: Props | None = None,
        balances_table_props: Props | None = None,
        idempotency_table_props: Props | None = None,
        functions_props: Props | None = None,
        worker_props: Props | None = None,
        requester_props: Props | None = None,
        code_dir: CodeLocation = "internal_handoff",
    ) -> None:
        super().__init__(scope, construct_id)
        if idempotency_window.to_seconds() < max_event_age.to_seconds():
            raise ValueError(
                f"{construct_id}: idempotency_window must be at least max_event_age, or a late retry "
                "of an event that already succeeded would be applied again"
            )
        memory = {"memory_size": ("memory_size", memory_size)}
        function_defaults = {"code_dir": code_dir, "service": "internal_handoff"}

        self.balances_table = table_or_new(
            self,
            "BalancesTable",
            name="balances_table",
            existing=balances_table,
            props=balances_table_props,
            partition_key=dynamodb.Attribute(name="customer_id", type=dynamodb.AttributeType.STRING),
        )
        self.idempotency_table = table_or_new(
            self,
            "IdempotencyTable",
            name="idempotency_table",
            existing=idempotency_table,
            props=idempotency_table_props,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
        )

        self.worker = PatternFunction(
            self,
            "Worker",
            **pattern_function_props(
                self,
                "worker_props",
                {
                    **function_defaults,
                    "handler": "worker.handler",
                    "description": "Awards an order's points once, however often the event arrives (invoked asynchronously)",
                    "environment": {
                        "BALANCES_TABLE_NAME": self.balances_table.table_name,
                        "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                        "IDEMPOTENCY_TTL_SECONDS": f"{idempotency_window.to_seconds():g}",
                        "IDEMPOTENCY_TTL_ATTRIBUTE": IDEMPOTENCY_TTL_ATTRIBUTE,
                    },
                    "timeout": Duration.seconds(10),
                },
                worker_props,
                functions_props=functions_props,
                keywords={**memory, "timeout": ("worker_timeout", worker_timeout)},
            ),
        )
        grant_table(self.balances_table, self.worker, "dynamodb:UpdateItem")
        grant_table(self.idempotency_table, self.worker, *IDEMPOTENCY_ACTIONS)
        self.failure_queue = async_failure_destination(
            self.worker,
            what="points awards that failed every retry",
            queue=failure_queue,
            queue_props=failure_queue_props,
            queue_props_name="failure_queue_props",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        self.event_invoke_config: lambda_.EventInvokeConfig = self.worker.node.find_child("EventInvokeConfig")

        self.requesters: list[lambda_.Function] = []
        self.requester = PatternFunction(
            self,
            "Requester",
            **pattern_function_props(
                self,
                "requester_props",
                {
                    **function_defaults,
                    "handler": "requester.handler",
                    "description": "Validates a points award and hands it off to the worker (InvocationType Event)",
                },
                requester_props,
                functions_props=functions_props,
                keywords=memory,
            ),
        )
        acknowledge(
            self.requester,
            "Serverless-LambdaDLQ",
            "Invoked synchronously: it answers 202 once Lambda has queued the handoff, or an error to retry.",
        )
        self.add_requester(self.requester)

    def add_requester(self, requester: lambda_.Function) -> None:
        """Let ``requester`` hand events off to the worker (a grant on its ARN) and name it in its env."""
        grant_invoke_latest(self.worker, requester)
        requester.add_environment("WORKER_FUNCTION_NAME", self.worker.function_name)
        self.requesters.append(requester)

    def outputs(self) -> dict[str, Any]:
        return {
            "RequesterFunctionName": self.requester.function_name,
            "WorkerFunctionName": self.worker.function_name,
            "FailureQueueUrl": self.failure_queue.queue_url,
            "BalancesTableName": self.balances_table.table_name,
            "IdempotencyTableName": self.idempotency_table.table_name,
        }
