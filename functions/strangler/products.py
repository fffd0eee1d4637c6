"""The new products service behind the strangler facade: product reads, out of the legacy API.

It owns its data (one DynamoDB table) and answers the routes the facade migrated to it, with the
same paths the legacy API had, so clients notice nothing: ``GET /products/{id}`` and, once migrated,
``GET /products``. Anything else that reaches it is a 404 naming nothing internal, never a stack
trace; an id DynamoDB would refuse is a 400 naming it.

The two routes are matched here rather than with Powertools' ``APIGatewayRestResolver``: importing
the event handler package (every resolver, asyncio for AppSync, every event class) costs about 30 ms
of cold start, which took this function over 1.4x a bare boto3 handler. Errors keep the resolver's
shape, ``{"statusCode": 404, "message": "..."}``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from shared.dynamodb import Table
from shared.observability import instrument
from shared.proxy_response import error_response, json_response

products = Table(os.environ["PRODUCTS_TABLE_NAME"])

PAGE_SIZE = 50
#: DynamoDB refuses a partition key longer than this (ValidationException): answer 400, not 500.
MAX_KEY_BYTES = 2048
_PRODUCT = re.compile(r"^/products/(?P<product_id>[^/]+)/?$")
_PRODUCTS = re.compile(r"^/products/?$")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def get_product(product_id: str) -> dict[str, Any]:
    if len(product_id.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise HttpError(400, f"product_id: longer than {MAX_KEY_BYTES} bytes")
    found = products.get_item({"id": product_id})
    if found is None:
        raise HttpError(404, f"product {product_id} not found")
    return _plain(found)


def list_products() -> dict[str, Any]:
    items, last_key = products.scan(limit=PAGE_SIZE)
    return {
        "products": sorted((_plain(i) for i in items), key=lambda p: p["id"]),
        "truncated": last_key is not None,
    }


def route(method: str, path: str) -> dict[str, Any]:
    """The answer for ``method path``; :class:`HttpError` for what this service does not serve."""
    if method == "GET" and (found := _PRODUCT.match(path)):
        return get_product(found["product_id"])
    if method == "GET" and _PRODUCTS.match(path):
        return list_products()
    raise HttpError(404, "Not found")


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return json_response(200, route(event.get("httpMethod", ""), event.get("path") or ""))
    except HttpError as error:
        return error_response(error.status, str(error))


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; prices are whole cents."""
    return {k: int(v) if k == "price_cents" else v for k, v in item.items()}
