"""Orders service: creates an order (PENDING), confirms it, cancels it (the compensation).

It delivers only to the countries in ``DELIVERY_COUNTRIES``: an order for another country is refused
with ``OrderRejected`` before anything is written. Every write is conditional, so a step Step
Functions runs twice does its work once: creating an order that exists (with the same content) or
cancelling one already cancelled, or never created, changes nothing.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from saga_order import dispatch
from shared.dynamodb import Table, from_attributes
from shared.observability import instrument, logger, metrics

table = Table(os.environ["TABLE_NAME"])
DELIVERY_COUNTRIES = frozenset(os.environ["DELIVERY_COUNTRIES"].split(","))
PENDING, CONFIRMED, CANCELLED = "PENDING", "CONFIRMED", "CANCELLED"
FIELDS = ("customer_id", "sku", "quantity", "amount_cents", "country")


class OrderRejected(Exception):
    """The orders service will not take this order: nothing was written."""


class OrderConflict(Exception):
    """Another order holds this id, or the order is not in a state the step can move on from."""


def create(order: dict[str, Any]) -> dict[str, Any]:
    if order["country"] not in DELIVERY_COUNTRIES:
        raise OrderRejected(f"no delivery to {order['country']}")
    record = {"order_id": order["order_id"], **{f: order[f] for f in FIELDS}, "status": PENDING}
    try:
        table.put_item(
            record,
            ConditionExpression="attribute_not_exists(order_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except table.ConditionalCheckFailed as refused:
        held = from_attributes(refused.response.get("Item", {}))
        if any(held.get(f) != order[f] for f in FIELDS):
            raise OrderConflict(f"order {order['order_id']} exists with other content") from None
        return {"order_id": order["order_id"], "status": held["status"], "created": False}
    metrics.add_metric(name="OrdersCreated", unit=MetricUnit.Count, value=1)
    return {"order_id": order["order_id"], "status": PENDING, "created": True}


def confirm(order: dict[str, Any]) -> dict[str, Any]:
    try:
        table.update_item(
            {"order_id": order["order_id"]},
            UpdateExpression="SET #status = :confirmed",
            ConditionExpression="#status IN (:pending, :confirmed)",
            ExpressionAttributeNames={"#status": "status"},
            values={":pending": PENDING, ":confirmed": CONFIRMED},
        )
    except table.ConditionalCheckFailed:
        raise OrderConflict(f"order {order['order_id']} cannot be confirmed: not pending") from None
    metrics.add_metric(name="OrdersConfirmed", unit=MetricUnit.Count, value=1)
    return {"order_id": order["order_id"], "status": CONFIRMED}


def cancel(order: dict[str, Any]) -> dict[str, Any]:
    """The compensation: cancel the order if it exists and is not cancelled yet; else nothing."""
    try:
        table.update_item(
            {"order_id": order["order_id"]},
            UpdateExpression="SET #status = :cancelled",
            ConditionExpression="#status IN (:pending, :confirmed)",
            ExpressionAttributeNames={"#status": "status"},
            values={":pending": PENDING, ":confirmed": CONFIRMED, ":cancelled": CANCELLED},
        )
    except table.ConditionalCheckFailed:
        logger.info("nothing to cancel", extra={"order_id": order["order_id"]})
        return {"order_id": order["order_id"], "cancelled": False}
    metrics.add_metric(name="OrdersCancelled", unit=MetricUnit.Count, value=1)
    return {"order_id": order["order_id"], "cancelled": True}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dispatch(event, {"create": create, "confirm": confirm, "cancel": cancel})
