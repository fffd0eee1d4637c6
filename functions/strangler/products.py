"""The new products service behind the strangler facade: product reads, out of the legacy API.

It owns its data (one DynamoDB table) and answers the routes the facade migrated to it, with the
same paths the legacy API had, so clients notice nothing: ``GET /products/{id}`` and, once migrated,
``GET /products``. Anything else that reaches it is a 404 naming nothing internal, never a stack
trace; an id DynamoDB would refuse is a 400 naming it.

It routes with ``shared.http.Router`` rather than Powertools' ``APIGatewayRestResolver``: importing
the event handler package (every resolver, asyncio for AppSync, every event class) costs about 30 ms
of cold start, which took this function over 1.4x a bare boto3 handler. Answers keep the resolver's
shapes, ``{"statusCode": 404, "message": "..."}`` for errors.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from shared.dynamodb import Table
from shared.http import NotFound, Router, key_parameter
from shared.observability import instrument

products = Table(os.environ["PRODUCTS_TABLE_NAME"])
app = Router()

PAGE_SIZE = 50


@app.get("/products/<product_id>")
def get_product(product_id: str) -> dict[str, Any]:
    found = products.get_item({"id": key_parameter(app, "product_id", product_id)})
    if found is None:
        raise NotFound(f"product {product_id} not found")
    return _plain(found)


@app.get("/products")
def list_products() -> dict[str, Any]:
    items, last_key = products.scan(limit=PAGE_SIZE)
    return {
        "products": sorted((_plain(i) for i in items), key=lambda p: p["id"]),
        "truncated": last_key is not None,
    }


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal: the legacy API answered JSON numbers, so this does too."""
    return {k: _number(v) if isinstance(v, Decimal) else v for k, v in item.items()}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
