"""The driver's report on a delivery, which resumes the order's waiting workflow.

Invoked synchronously by the driver app: ``{"order_id", "delivered": true}`` or
``{"order_id", "delivered": false, "reason": "..."}``. The order's stored task token goes back
to Step Functions with ``SendTaskSuccess`` (the workflow issues the receipt) or
``SendTaskFailure`` with ``DeliveryFailed`` (the workflow cancels the order and releases the
driver). Answers ``{"statusCode": 202}``; 400 for a bad report, 404 for an order not out for
delivery, 409 when the workflow no longer waits (it timed out and cancelled the order).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema
from workflow import orders_table

REPORT = Schema(
    order_id=Field(str, min_length=1, max_length=128),
    delivered=Field(bool),
    reason=Field(str, required=False, min_length=1, max_length=256),
)

states = boto3.client("stepfunctions")


def answer(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    return (
        {"statusCode": status}
        if code is None
        else {"statusCode": status, "error": {"code": code, "message": message}}
    )


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        report = REPORT.validate(event)
    except InvalidInput as error:
        return answer(400, "InvalidReport", str(error))
    order = orders_table.get_item({"order_id": report["order_id"]}, ConsistentRead=True)
    if not order or order.get("status") != "en_route" or "task_token" not in order:
        return answer(404, "NotOutForDelivery", f"order {report['order_id']} is not out for delivery")
    try:
        if report["delivered"]:
            delivered_at = datetime.now(UTC).isoformat(timespec="seconds")
            states.send_task_success(
                taskToken=order["task_token"], output=json.dumps({"delivered_at": delivered_at})
            )
        else:
            states.send_task_failure(
                taskToken=order["task_token"],
                error="DeliveryFailed",
                cause=report.get("reason", "not delivered"),
            )
    except (
        states.exceptions.TaskTimedOut,
        states.exceptions.InvalidToken,
        states.exceptions.TaskDoesNotExist,
    ):
        return answer(409, "NoLongerAwaited", f"order {report['order_id']} is no longer awaiting delivery")
    logger.info("delivery reported", extra={"order_id": report["order_id"], "delivered": report["delivered"]})
    metrics.add_metric(
        name="DeliveriesConfirmed" if report["delivered"] else "DeliveriesFailed",
        unit=MetricUnit.Count,
        value=1,
    )
    return answer(202)
