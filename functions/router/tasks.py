"""The three tasks behind the router, one entry point each; each stores its messages in its own table.

Each task is invoked asynchronously by the router with a routed message (``id``, ``type``,
``body``, ``routed_at``), validates the body against its own schema and stores it once under the
message ``id`` (a conditional put: a redelivered message is acknowledged without a second write).
A bad body raises, so Lambda retries it and then sends it to the task's own failure destination.
The table is ``TABLE_NAME``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from messages import ENVELOPE
from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from shared.validation import Field, Schema

table = Table(os.environ["TABLE_NAME"])

ROUTED = Schema(routed_at=Field(str, min_length=1), **ENVELOPE.fields)
ORDER = Schema(customer_id=Field(str, min_length=1, max_length=128), total_cents=Field(int, minimum=0))
REFUND = Schema(
    order_id=Field(str, min_length=1, max_length=128),
    amount_cents=Field(int, minimum=1),
    reason=Field(str, max_length=500, required=False),
)
TICKET = Schema(
    customer_id=Field(str, min_length=1, max_length=128),
    subject=Field(str, min_length=1, max_length=200),
)


def store(event: Any, body_schema: Schema) -> dict[str, Any]:
    """Validate a routed message and store it once; the answer says whether this delivery wrote it."""
    message = ROUTED.validate(event)
    body = body_schema.validate(message["body"])
    item = {
        "id": message["id"],
        "type": message["type"],
        # DynamoDB takes no floats: carry JSON numbers as Decimal.
        **json.loads(json.dumps(body), parse_float=Decimal),
        "routed_at": message["routed_at"],
        "stored_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    try:
        table.put_item(item, ConditionExpression="attribute_not_exists(id)")
    except table.ConditionalCheckFailed:
        logger.info("message already stored", extra={"message_id": message["id"]})
        return {"id": message["id"], "stored": False}
    metrics.add_metric(name="MessagesStored", unit=MetricUnit.Count, value=1)
    return {"id": message["id"], "stored": True}


@instrument
def orders_handler(event: Any, context: Any) -> dict[str, Any]:
    return store(event, ORDER)


@instrument
def refunds_handler(event: Any, context: Any) -> dict[str, Any]:
    return store(event, REFUND)


@instrument
def tickets_handler(event: Any, context: Any) -> dict[str, Any]:
    return store(event, TICKET)
