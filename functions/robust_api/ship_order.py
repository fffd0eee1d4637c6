"""POST /orders/{order_id}/shipment: hand the order to the shipper asynchronously, answer 202.

The order moves from ``accepted`` to ``shipping`` with a conditional write, so it is handed off
once: a second request is a 409, an unknown order a 404, an id no order can have a 400. The
shipper is invoked with ``InvocationType=Event``: Lambda queues the event and answers at once; its
retries and its failure queue are the shipper's own, so this route never waits for the shipping
work.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from orders import ACCEPTED, MAX_ORDER_ID_BYTES, SHIPPING, now, orders
from shared.http import HttpError, NotFound, Router, key_parameter
from shared.observability import instrument, logger, metrics

SHIPPER_FUNCTION = os.environ["SHIPPER_FUNCTION_NAME"]
lambda_client = boto3.client("lambda")
app = Router()


@app.post("/orders/<order_id>/shipment")
def ship_order(order_id: str) -> tuple[dict[str, Any], int]:
    key_parameter(app, "order_id", order_id, max_bytes=MAX_ORDER_ID_BYTES)
    try:
        _set_status(order_id, SHIPPING, expected=ACCEPTED)
    except orders.ConditionalCheckFailed as error:
        current = error.response.get("Item", {}).get("status", {}).get("S")
        if current is None:
            raise NotFound(f"order {order_id} not found") from None
        raise HttpError(
            409, f"order {order_id} is {current}; only an accepted order can be shipped"
        ) from None
    try:
        lambda_client.invoke(
            FunctionName=SHIPPER_FUNCTION,
            InvocationType="Event",
            Payload=json.dumps({"order_id": order_id}).encode(),
        )
    except (ClientError, BotoCoreError) as error:
        logger.error("shipper did not take the order", extra={"order_id": order_id, "why": str(error)})
        _set_status(order_id, ACCEPTED, expected=SHIPPING)
        raise HttpError(
            503, "the shipper could not take the order; it is still accepted, try again"
        ) from None
    metrics.add_metric(name="ShipmentsRequested", unit=MetricUnit.Count, value=1)
    logger.info("shipment handed off", extra={"order_id": order_id})
    return {"order_id": order_id, "status": SHIPPING}, 202


def _set_status(order_id: str, status: str, *, expected: str) -> None:
    """Move the order to ``status`` if it is ``expected``; raises ConditionalCheckFailed otherwise."""
    orders.update_item(
        {"order_id": order_id},
        UpdateExpression="SET #status = :status, status_changed_at = :now",
        ConditionExpression="attribute_exists(order_id) AND #status = :expected",
        ExpressionAttributeNames={"#status": "status"},
        values={":status": status, ":expected": expected, ":now": now()},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
