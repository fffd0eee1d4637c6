"""The orders service: create an order and read it back, from its own table only.

It knows nothing of the domain it is mounted on: it routes on the API's resource, not on the
event's path (which carries the domain's base path, ``/orders/1``), so the same code answers on the
API's own URL and under the domain.
A body breaking the schema is a 400 naming each problem; an unknown id is a 404.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from shared.dynamodb import Table
from shared.http import NotFound, Router, key_parameter, validated_body
from shared.observability import instrument
from shared.validation import Field, Schema

table = Table(os.environ["TABLE_NAME"])
app = Router()

ORDER = Schema(
    sku=Field(str, min_length=1, max_length=64),
    quantity=Field(int, minimum=1, maximum=1000),
)


@app.post("/")
def create_order() -> tuple[dict[str, Any], int]:
    order = {"id": str(uuid.uuid4()), **validated_body(app, ORDER), "status": "placed"}
    table.put_item(order, ConditionExpression="attribute_not_exists(id)")
    return order, 201


@app.get("/<order_id>")
def get_order(order_id: str) -> dict[str, Any]:
    order = table.get_item({"id": key_parameter(app, "id", order_id)})
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return {**order, "quantity": int(order["quantity"])}


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(_unmounted(event), context)


def _unmounted(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its path as the API's resource names it: through the domain API Gateway's
    ``path`` still carries the base path (``/orders/1``), the resource and its parameters do not."""
    parameters = event.get("pathParameters") or {}
    path = re.sub(
        r"\{(\w+)\}", lambda found: parameters.get(found.group(1), ""), event.get("resource") or "/"
    )
    return {**event, "path": path}
