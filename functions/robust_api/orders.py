"""What every function of the orders API shares: the one orders table and the shape of an order.

An order moves ``accepted`` (POST /orders) -> ``shipping`` (POST /orders/{id}/shipment) ->
``shipped`` (the shipper, asynchronously). Each move is a conditional write on the status, so two
functions working on one order at once cannot both win.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.dynamodb import Table

ACCEPTED, SHIPPING, SHIPPED = "accepted", "shipping", "shipped"
#: Order ids are UUIDs this API makes (36 bytes); a longer one names no order.
MAX_ORDER_ID_BYTES = 64

orders = Table(os.environ["TABLE_NAME"])


def public(order: dict[str, Any]) -> dict[str, Any]:
    """An order as the API shows it: DynamoDB's Decimals back to whole numbers."""
    return {key: _plain(value) for key, value in order.items()}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
