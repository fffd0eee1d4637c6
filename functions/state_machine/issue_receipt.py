"""Issue the receipt of a delivered order and free its driver: the workflow's last step.

Input: the order with ``assignment`` and ``delivery``. The order becomes ``delivered`` with its
receipt, and the driver ``available`` again (only if they still hold this order, so a retried
invocation changes nothing more). Output: the receipt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics
from workflow import order_of, orders_table, release_driver, transient_errors_raised


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    order = order_of(event)
    driver_id = event["assignment"]["driver_id"]
    receipt = {
        "order_id": order["order_id"],
        "customer_id": order["customer_id"],
        "driver_id": driver_id,
        "delivered_at": event["delivery"]["delivered_at"],
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with transient_errors_raised():
        orders_table.update_item(
            {"order_id": order["order_id"]},
            UpdateExpression="SET #status = :delivered, receipt = :receipt REMOVE task_token",
            ExpressionAttributeNames={"#status": "status"},
            values={":delivered": "delivered", ":receipt": receipt},
        )
        release_driver(driver_id, order["order_id"])
    logger.info("receipt issued", extra=receipt)
    metrics.add_metric(name="OrdersDelivered", unit=MetricUnit.Count, value=1)
    return receipt
