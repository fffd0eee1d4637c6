"""The new products service behind the strangler facade: product reads, out of the legacy API.

It owns its data (one DynamoDB table) and answers the routes the facade migrated to it, with the
same paths the legacy API had, so clients notice nothing. The facade sends it only migrated
routes; anything else that reaches it is Powertools' 404, never a stack trace.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

from shared.dynamodb import Table
from shared.observability import instrument

products = Table(os.environ["PRODUCTS_TABLE_NAME"])
app = APIGatewayRestResolver()

PAGE_SIZE = 50
#: DynamoDB refuses a partition key longer than this (ValidationException): answer 400, not 500.
MAX_KEY_BYTES = 2048


@app.get("/products/<product_id>")
def get_product(product_id: str) -> dict[str, Any]:
    if len(product_id.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise BadRequestError(f"product_id: longer than {MAX_KEY_BYTES} bytes")
    found = products.get_item({"id": product_id})
    if found is None:
        raise NotFoundError(f"product {product_id} not found")
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
    """DynamoDB numbers come back as Decimal; prices are whole cents."""
    return {k: int(v) if k == "price_cents" else v for k, v in item.items()}
