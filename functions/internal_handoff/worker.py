"""Award an order's points to its customer, once per order, however often the event arrives.

Invoked asynchronously by the requester. The award is validated, then applied by an idempotent
function (Powertools idempotency, records in DynamoDB keyed by ``order_id``): a repeat of an order
returns the first result without touching the balance, and a repeat with a different customer or
points fails as a conflict. Any failure raises, so Lambda retries the event and then sends it,
with the error, to the pattern's failure queue: an unknown customer (not enrolled yet: a retry a
minute later may succeed), a malformed award, a conflicting repeat.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from award import AWARD
from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics

balances = Table(os.environ["BALANCES_TABLE_NAME"])
# Sharing the table's client saves the ~30 ms a second boto3 session and client would cost at cold start.
# The record's expiry goes in the attribute the construct made the table's TTL (its one source).
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ["IDEMPOTENCY_TABLE_NAME"],
    expiry_attr=os.environ["IDEMPOTENCY_TTL_ATTRIBUTE"],
    boto3_client=balances.client,
)
idempotency = IdempotencyConfig(
    event_key_jmespath="order_id",
    payload_validation_jmespath="[customer_id, points]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
)


class CustomerNotEnrolled(Exception):
    """The customer has no balance yet; enrolment may still be on its way, so a retry may succeed."""


@idempotent_function(data_keyword_argument="award", persistence_store=persistence, config=idempotency)
def apply_award(award: dict[str, Any]) -> dict[str, Any]:
    try:
        updated = balances.update_item(
            {"customer_id": award["customer_id"]},
            UpdateExpression="ADD points :points",
            ConditionExpression="attribute_exists(customer_id)",
            values={":points": award["points"]},
            ReturnValues="UPDATED_NEW",
        )
    except balances.ConditionalCheckFailed:
        raise CustomerNotEnrolled(f"customer {award['customer_id']!r} is not enrolled") from None
    balance = int(updated["points"])
    metrics.add_metric(name="PointsAwarded", unit=MetricUnit.Count, value=award["points"])
    logger.info("points awarded", extra={**award, "balance": balance})
    return {"order_id": award["order_id"], "customer_id": award["customer_id"], "balance": balance}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return apply_award(award=AWARD.validate(event))
