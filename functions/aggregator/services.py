"""Three internal services the aggregator calls, each owning one table: catalog, pricing, inventory.

They follow the Internal API pattern: invoked RequestResponse through the SDK, never behind API
Gateway, with one contract. The request is ``{"product_id": "..."}``; the answer is
``{"statusCode": 200, "body": {...}}``, ``{"statusCode": 404, "message": ...}`` for a product the
service does not know, or ``{"statusCode": 400, "message": ...}`` for a malformed request. A fault
(its table unreachable, a corrupt record) is left unhandled: Lambda returns it to the caller as a
function error, which the aggregator marks as that part's failure.

Each function runs one handler of this module with its own ``TABLE_NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from shared.dynamodb import Table
from shared.observability import instrument, logger
from shared.validation import Field, InvalidInput, Schema

table = Table(os.environ["TABLE_NAME"])
LOW_STOCK_THRESHOLD = int(os.environ.get("LOW_STOCK_THRESHOLD", "5"))
REQUEST = Schema(product_id=Field(str, min_length=1, max_length=64))

Answer = dict[str, Any]


@instrument
def catalog(event: Any, context: Any) -> Answer:
    """What the product is."""
    return _answer(
        event,
        lambda item: {
            "name": str(item["name"]),
            "description": str(item.get("description", "")),
            "category": str(item.get("category", "uncategorized")),
        },
    )


@instrument
def pricing(event: Any, context: Any) -> Answer:
    """What it costs now: the list price and, during a sale, the discounted price."""

    def price(item: dict[str, Any]) -> dict[str, Any]:
        list_price = int(item["price_cents"])
        discount = int(item.get("discount_percent", 0))
        if list_price < 0 or not 0 <= discount <= 100:
            raise ValueError(f"corrupt price record: price_cents={list_price}, discount_percent={discount}")
        return {
            "currency": str(item.get("currency", "USD")),
            "list_price_cents": list_price,
            "discount_percent": discount,
            # Whole cents, rounded half up: the price a customer pays.
            "price_cents": (list_price * (100 - discount) + 50) // 100,
        }

    return _answer(event, price)


@instrument
def inventory(event: Any, context: Any) -> Answer:
    """Whether it can ship: the units available and a low-stock flag."""

    def stock(item: dict[str, Any]) -> dict[str, Any]:
        available = int(item["available"])
        return {
            "available": available,
            "in_stock": available > 0,
            "low_stock": 0 < available <= LOW_STOCK_THRESHOLD,
        }

    return _answer(event, stock)


def _answer(event: Any, shape: Callable[[dict[str, Any]], dict[str, Any]]) -> Answer:
    try:
        product_id = REQUEST.validate(event)["product_id"]
    except InvalidInput as error:
        return {"statusCode": 400, "message": str(error)}
    item = table.get_item({"product_id": product_id})
    if item is None:
        logger.info("unknown product", extra={"product_id": product_id})
        return {"statusCode": 404, "message": f"product {product_id} not found"}
    return {"statusCode": 200, "body": shape(item)}
