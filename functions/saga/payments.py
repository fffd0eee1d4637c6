"""Payments service: charges the customer's card on file for an order, refunds it (the compensation).

The table holds each customer's card, ``{"pk": "card#<customer_id>", "limit_cents"}``, and each
order's payment, ``{"pk": "payment#<order_id>", "status": "CHARGED" | "REFUNDED", "amount_cents"}``.
A charge with no card on file or over the card's limit is declined (``PaymentDeclined``) and
writes nothing. A charge is recorded once (a second charge of the same order is the first's
answer); a refund moves a CHARGED payment to REFUNDED once, and does nothing for a payment that was
never made or is refunded already.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from saga_order import dispatch
from shared.dynamodb import Table, from_attributes
from shared.observability import instrument, logger, metrics

table = Table(os.environ["TABLE_NAME"])
CHARGED, REFUNDED = "CHARGED", "REFUNDED"


class PaymentDeclined(Exception):
    """The card was not charged: no card on file, or the amount is over its limit."""


class PaymentConflict(Exception):
    """The order's payment exists already and is not the charge this step would make."""


def charge(order: dict[str, Any]) -> dict[str, Any]:
    key = {"pk": f"payment#{order['order_id']}"}
    card = table.get_item({"pk": f"card#{order['customer_id']}"}, ConsistentRead=True)
    if card is None:
        raise PaymentDeclined("no card on file")
    if order["amount_cents"] > card["limit_cents"]:
        raise PaymentDeclined(f"{order['amount_cents']} cents is over the card's limit")
    payment = {**key, "order_id": order["order_id"], "customer_id": order["customer_id"]}
    try:
        table.put_item(
            {**payment, "amount_cents": order["amount_cents"], "status": CHARGED},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except table.ConditionalCheckFailed as refused:
        held = from_attributes(refused.response.get("Item", {}))
        if held.get("status") != CHARGED or held.get("amount_cents") != order["amount_cents"]:
            raise PaymentConflict(f"payment of order {order['order_id']} is {held.get('status')}") from None
        return {"payment_id": key["pk"], "status": CHARGED, "charged": False}
    metrics.add_metric(name="PaymentsCharged", unit=MetricUnit.Count, value=1)
    return {"payment_id": key["pk"], "status": CHARGED, "charged": True}


def refund(order: dict[str, Any]) -> dict[str, Any]:
    """The compensation: refund the order's payment if it is charged; else nothing."""
    key = {"pk": f"payment#{order['order_id']}"}
    try:
        table.update_item(
            key,
            UpdateExpression="SET #status = :refunded",
            ConditionExpression="#status = :charged",
            ExpressionAttributeNames={"#status": "status"},
            values={":charged": CHARGED, ":refunded": REFUNDED},
        )
    except table.ConditionalCheckFailed:
        logger.info("nothing to refund", extra={"order_id": order["order_id"]})
        return {"payment_id": key["pk"], "refunded": False}
    metrics.add_metric(name="PaymentsRefunded", unit=MetricUnit.Count, value=1)
    return {"payment_id": key["pk"], "refunded": True}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    return dispatch(event, {"charge": charge, "refund": refund})
