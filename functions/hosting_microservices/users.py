"""The users service: register a user and read them back, from its own table only.

Like the orders service it routes on the API's resource, so it is unaware of the domain and base
path in front of it. A body breaking the schema is a 400 naming each problem; an unknown
id is a 404.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from shared.dynamodb import Table
from shared.http import BadRequest, NotFound, Router, key_parameter, validated_body
from shared.observability import instrument
from shared.validation import Field, Schema

table = Table(os.environ["TABLE_NAME"])
app = Router()

#: The API's model has the same pattern: the gateway refuses first, this keeps other callers honest.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USER = Schema(
    name=Field(str, min_length=1, max_length=100),
    email=Field(str, min_length=3, max_length=254),
)


@app.post("/")
def create_user() -> tuple[dict[str, Any], int]:
    data = validated_body(app, USER)
    if not EMAIL.fullmatch(data["email"]):
        raise BadRequest("email: expected an address like name@example.com")
    user = {"id": str(uuid.uuid4()), **data}
    table.put_item(user, ConditionExpression="attribute_not_exists(id)")
    return user, 201


@app.get("/<user_id>")
def get_user(user_id: str) -> dict[str, Any]:
    user = table.get_item({"id": key_parameter(app, "id", user_id)})
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


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
