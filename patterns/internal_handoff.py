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

from patterns.defaults import (
    MAX_ASYNC_RETRY_ATTEMPTS,
    PatternFunction,
    acknowledge,
    async_failure_destination,
    grant_invoke_latest,
    secure_table,
)

DEFAULT_MAX_EVENT_AGE = Duration.hours(1)
DEFAULT_IDEMPOTENCY_WINDOW = Duration.hours(24)
#: The attribute Powertools writes each idempotency record's expiry to (epoch seconds): the table's TTL.
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
    :param failure_queue: an existing queue for events that failed every retry; one is made if omitted.
    :param balances_table: an existing table with string partition key ``customer_id``.
    :param idempotency_table: an existing table with string partition key ``id`` and TTL on
        ``expiration`` (Powertools' layout).
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
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        if idempotency_window.to_seconds() < max_event_age.to_seconds():
            raise ValueError(
                f"{construct_id}: idempotency_window must be at least max_event_age, or a late retry "
                "of an event that already succeeded would be applied again"
            )

        self.balances_table = balances_table or secure_table(
            self,
            "BalancesTable",
            partition_key=dynamodb.Attribute(name="customer_id", type=dynamodb.AttributeType.STRING),
        )
        self.idempotency_table = idempotency_table or secure_table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
        )

        self.worker = PatternFunction(
            self,
            "Worker",
            code_dir="internal_handoff",
            handler="worker.handler",
            service="internal_handoff",
            description="Awards an order's points once, however often the event arrives (invoked asynchronously)",
            environment={
                "BALANCES_TABLE_NAME": self.balances_table.table_name,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                "IDEMPOTENCY_TTL_SECONDS": f"{idempotency_window.to_seconds():g}",
            },
            memory_size=memory_size,
            timeout=worker_timeout or Duration.seconds(10),
        )
        self.balances_table.grant(self.worker, "dynamodb:UpdateItem")
        self.idempotency_table.grant(self.worker, *IDEMPOTENCY_ACTIONS)
        self.failure_queue = async_failure_destination(
            self.worker,
            what="points awards that failed every retry",
            queue=failure_queue,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        self.event_invoke_config: lambda_.EventInvokeConfig = self.worker.node.find_child("EventInvokeConfig")

        self.requesters: list[lambda_.Function] = []
        self.requester = PatternFunction(
            self,
            "Requester",
            code_dir="internal_handoff",
            handler="requester.handler",
            service="internal_handoff",
            description="Validates a points award and hands it off to the worker (InvocationType Event)",
            memory_size=memory_size,
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
