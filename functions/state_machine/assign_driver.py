"""Assign one available driver in the order's zone to the order, exactly once.

Each candidate is claimed with a conditional write (``status = available``); a driver another
order claimed first is skipped. If every candidate is gone, :class:`workflow.NoDriverAvailable`
sends the workflow back to waiting for drivers. The order then records its driver. A retried
invocation finds the order already assigned and answers the same driver. The construct caps this
function's concurrency, so assignments do not race; a throttled invocation
(``Lambda.TooManyRequestsException``) is retried by the workflow with back-off.

Output, kept as ``$.assignment``: ``{"driver_id": ...}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics
from workflow import (
    AVAILABLE,
    BUSY,
    NoDriverAvailable,
    available_driver_ids,
    drivers_table,
    order_of,
    orders_table,
    transient_errors_raised,
)


def claim(driver_id: str, order_id: str) -> bool:
    """Make the driver busy with this order, if they are still available."""
    try:
        drivers_table.update_item(
            {"driver_id": driver_id},
            UpdateExpression="SET #status = :busy, order_id = :order",
            ConditionExpression="#status = :available",
            ExpressionAttributeNames={"#status": "status"},
            values={":busy": BUSY, ":available": AVAILABLE, ":order": order_id},
        )
    except drivers_table.ConditionalCheckFailed:
        return False
    return True


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    order = order_of(event)
    order_id = order["order_id"]
    with transient_errors_raised():
        existing = orders_table.get_item({"order_id": order_id}, ConsistentRead=True)
        if existing and existing.get("status") == "assigned":
            return {"driver_id": existing["driver_id"]}
        driver_id = next(
            (d for d in available_driver_ids(order["zone"]) if claim(d, order_id)),
            None,
        )
        if driver_id is None:
            raise NoDriverAvailable(f"every available driver in zone {order['zone']} was taken")
        orders_table.put_item(
            {
                "order_id": order_id,
                "customer_id": order["customer_id"],
                "zone": order["zone"],
                "status": "assigned",
                "driver_id": driver_id,
                "assigned_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    logger.info("driver assigned", extra={"order_id": order_id, "driver_id": driver_id})
    metrics.add_metric(name="DriversAssigned", unit=MetricUnit.Count, value=1)
    return {"driver_id": driver_id}
