"""GET /orders/{order_id}: the order as stored in the shared table, shipping status included.

An id no order can have (empty, over 64 bytes, not valid Unicode) is a 400; an unknown one a 404.
"""

from __future__ import annotations

from typing import Any

from orders import MAX_ORDER_ID_BYTES, orders, public
from shared.http import NotFound, Router, key_parameter
from shared.observability import instrument

app = Router()


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> dict[str, Any]:
    order = orders.get_item(
        {"order_id": key_parameter(app, "order_id", order_id, max_bytes=MAX_ORDER_ID_BYTES)}
    )
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return public(order)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
