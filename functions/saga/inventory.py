"""Inventory service: reserves an order's stock, releases it (the compensation).

Each SKU is one item, ``{"sku", "available", "reservations": {<order_id>: <quantity>}}``: a
reservation takes the quantity from ``available`` and records it under the order in one
conditional update, so stock is never oversold and never reserved twice for one order; a release
gives back exactly what the order holds, once. Too little stock, or an unknown SKU, is
``OutOfStock`` and changes nothing.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from saga_order import dispatch
from shared.dynamodb import Table, from_attributes
from shared.observability import instrument, logger, metrics

table = Table(os.environ["TABLE_NAME"])


class OutOfStock(Exception):
    """Not enough of the SKU is available: nothing was reserved."""


def reserve(order: dict[str, Any]) -> dict[str, Any]:
    try:
        table.update_item(
            {"sku": order["sku"]},
            UpdateExpression="SET available = available - :quantity, reservations.#order = :quantity",
            ConditionExpression="available >= :quantity AND attribute_exists(reservations) "
            "AND attribute_not_exists(reservations.#order)",
            ExpressionAttributeNames={"#order": order["order_id"]},
            values={":quantity": order["quantity"]},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except table.ConditionalCheckFailed as refused:
        held = from_attributes(refused.response.get("Item", {}))
        if order["order_id"] in held.get("reservations", {}):
            return {"sku": order["sku"], "reserved": int(held["reservations"][order["order_id"]])}
        raise OutOfStock(f"fewer than {order['quantity']} of {order['sku']} available") from None
    metrics.add_metric(name="StockReserved", unit=MetricUnit.Count, value=order["quantity"])
    return {"sku": order["sku"], "reserved": order["quantity"]}


def release(order: dict[str, Any]) -> dict[str, Any]:
    """The compensation: give back what the order holds, if it holds anything; else nothing."""
    try:
        table.update_item(
            {"sku": order["sku"]},
            UpdateExpression="SET available = available + reservations.#order REMOVE reservations.#order",
            ConditionExpression="attribute_exists(reservations.#order)",
            ExpressionAttributeNames={"#order": order["order_id"]},
        )
    except table.ConditionalCheckFailed:
        logger.info("nothing to release", extra={"order_id": order["order_id"], "sku": order["sku"]})
        return {"sku": order["sku"], "released": 0}
    metrics.add_metric(name="StockReleased", unit=MetricUnit.Count, value=order["quantity"])
    return {"sku": order["sku"], "released": order["quantity"]}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dispatch(event, {"reserve": reserve, "release": release})
