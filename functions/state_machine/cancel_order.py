"""Cancel an order the workflow could not complete, undoing what it had done: the compensation.

Input: the order, with ``failure`` (``{"Error", "Cause"}``, from a Catch or from running out of
driver searches) and ``assignment`` if a driver was assigned. The driver is released if this
order still holds them, and the order is marked ``cancelled`` with the reason; a retried
invocation does nothing more. An order too malformed to record is only reported. Output, kept as
``$.cancellation``: ``{"order_id", "status": "cancelled", "reason", "driver_released"}``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics
from workflow import InvalidOrder, order_of, orders_table, release_driver, transient_errors_raised


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    failure = event.get("failure") or {}
    reason = failure.get("Error", "Unknown")
    try:
        order = order_of(event)
    except InvalidOrder as error:
        logger.warning("invalid order cancelled unrecorded", extra={"reason": reason, "problems": str(error)})
        return {
            "order_id": event.get("order_id"),
            "status": "cancelled",
            "reason": reason,
            "driver_released": False,
        }
    driver_id = (event.get("assignment") or {}).get("driver_id")
    with transient_errors_raised():
        released = bool(driver_id) and release_driver(driver_id, order["order_id"])
        orders_table.update_item(
            {"order_id": order["order_id"]},
            UpdateExpression="SET #status = :cancelled, reason = :reason, customer_id = :customer REMOVE task_token",
            ExpressionAttributeNames={"#status": "status"},
            values={":cancelled": "cancelled", ":reason": reason, ":customer": order["customer_id"]},
        )
    logger.info(
        "order cancelled",
        extra={"order_id": order["order_id"], "reason": reason, "driver_released": released},
    )
    metrics.add_metric(name="OrdersCancelled", unit=MetricUnit.Count, value=1)
    return {
        "order_id": order["order_id"],
        "status": "cancelled",
        "reason": reason,
        "driver_released": released,
    }
