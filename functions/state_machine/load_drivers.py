"""Load the drivers available in the order's zone: the first step of the assignment workflow.

Input: the order (and ``search`` from an earlier look, if any). Output, which the workflow keeps
as ``$.search``: ``{"available": <count>, "attempt": <how many looks so far>}``. The workflow's
Choice assigns a driver when one is available, waits and looks again otherwise, and cancels the
order after its last look. An invalid order raises :class:`workflow.InvalidOrder` (not retried).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics
from workflow import available_driver_ids, order_of, transient_errors_raised


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    order = order_of(event)
    attempt = int((event.get("search") or {}).get("attempt", 0)) + 1
    with transient_errors_raised():
        available = available_driver_ids(order["zone"])
    logger.info(
        "drivers loaded",
        extra={"order_id": order["order_id"], "available": len(available), "attempt": attempt},
    )
    if not available:
        metrics.add_metric(name="NoDriverYet", unit=MetricUnit.Count, value=1)
    return {"available": len(available), "attempt": attempt}
