"""Hand the delivery to the driver and park the workflow until the driver reports back.

Invoked by the workflow with ``.waitForTaskToken``: input ``{"order_id", "driver_id",
"task_token"}``. The token is stored on the order (status ``en_route``); the workflow then waits,
without running or paying for anything, until :mod:`confirm_delivery` sends it back with the
outcome, or until the task's timeout, which cancels the order.
"""

from __future__ import annotations

from typing import Any

from shared.observability import instrument, logger
from shared.validation import Field, Schema
from workflow import orders_table, transient_errors_raised

HANDOVER = Schema(
    order_id=Field(str, min_length=1, max_length=128),
    driver_id=Field(str, min_length=1, max_length=128),
    task_token=Field(str, min_length=1, max_length=1024),
)


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    handover = HANDOVER.validate(event)
    with transient_errors_raised():
        orders_table.update_item(
            {"order_id": handover["order_id"]},
            UpdateExpression="SET #status = :en_route, task_token = :token",
            ConditionExpression="driver_id = :driver",
            ExpressionAttributeNames={"#status": "status"},
            values={
                ":en_route": "en_route",
                ":token": handover["task_token"],
                ":driver": handover["driver_id"],
            },
        )
    logger.info(
        "delivery under way", extra={"order_id": handover["order_id"], "driver_id": handover["driver_id"]}
    )
    return {"order_id": handover["order_id"], "status": "en_route"}
