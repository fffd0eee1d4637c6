"""The shipper, invoked asynchronously: book the parcel, then mark the order ``shipped``.

Lambda retries a failed event twice and then sends it, with the error, to the failure queue. An
event is ``{"order_id": "..."}``. The order must be ``shipping``; a repeated event for an order
already shipped changes nothing (Lambda delivers asynchronous events at least once). An event for
an order that is missing or in any other state is an error: it is retried and then kept on the
failure queue for a person to look at, never dropped.
"""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from orders import SHIPPED, SHIPPING, now, orders
from shared.observability import instrument, logger, metrics
from shared.validation import Field, Schema

EVENT = Schema(order_id=Field(str, min_length=1, max_length=64))


class CannotShip(Exception):
    """The order is not one this event can ship; Lambda retries, then the failure queue keeps it."""


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    order_id = EVENT.validate(event)["order_id"]
    tracking_number = f"TRK{uuid.uuid4().hex[:12].upper()}"
    try:
        orders.update_item(
            {"order_id": order_id},
            UpdateExpression="SET #status = :shipped, tracking_number = :tracking, shipped_at = :now",
            ConditionExpression="#status = :shipping",
            ExpressionAttributeNames={"#status": "status"},
            values={":shipped": SHIPPED, ":shipping": SHIPPING, ":tracking": tracking_number, ":now": now()},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except orders.ConditionalCheckFailed as error:
        current = error.response.get("Item", {}).get("status", {}).get("S")
        if current == SHIPPED:
            logger.info("repeated shipping event ignored", extra={"order_id": order_id})
            return {"order_id": order_id, "status": SHIPPED, "repeated": True}
        raise CannotShip(
            f"order {order_id} is {current or 'missing'}; only a shipping order can ship"
        ) from None
    metrics.add_metric(name="OrdersShipped", unit=MetricUnit.Count, value=1)
    logger.info("order shipped", extra={"order_id": order_id, "tracking_number": tracking_number})
    return {"order_id": order_id, "status": SHIPPED, "tracking_number": tracking_number}
