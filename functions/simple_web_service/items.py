"""CRUD on items behind API Gateway: create, read, list with pagination, replace and delete.

Bad input is a 400 naming every problem (a body over 256 KiB a 413), including what the table
would refuse: an empty id or one over DynamoDB's 2,048-byte key limit, a string with a lone
surrogate, a ``next_token`` this API did not make. An unknown id is a 404; nothing else reaches the
caller as a stack trace. The table name comes from ``TABLE_NAME``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table
from shared.http import BadRequest, NotFound, Response, Router, key_parameter, validated_body
from shared.observability import instrument, metrics
from shared.validation import Field, InvalidInput, Schema, key_value, parse_json_body

table = Table(os.environ["TABLE_NAME"])
app = Router()

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
ITEM = Schema(
    name=Field(str, min_length=1, max_length=100),
    description=Field(str, max_length=1000, required=False),
    price_cents=Field(int, minimum=0, maximum=10**9),
)


@app.post("/items")
def create_item() -> tuple[dict[str, Any], int]:
    data = validated_body(app, ITEM)
    now = _now()
    item = {"id": str(uuid.uuid4()), **data, "created_at": now, "updated_at": now}
    table.put_item(item, ConditionExpression="attribute_not_exists(id)")
    metrics.add_metric(name="ItemsCreated", unit=MetricUnit.Count, value=1)
    return _plain(item), 201


@app.get("/items")
def list_items() -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    token = params.get("next_token")
    items, last_key = table.scan(
        limit=_page_size(params.get("limit")), start_key=_decode_token(token) if token else None
    )
    body: dict[str, Any] = {"items": [_plain(i) for i in items]}
    if last_key is not None:
        body["next_token"] = _encode_token(last_key)
    return body


@app.get("/items/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    item = table.get_item({"id": key_parameter(app, "id", item_id)})
    if item is None:
        raise NotFound(f"item {item_id} not found")
    return _plain(item)


@app.put("/items/<item_id>")
def replace_item(item_id: str) -> dict[str, Any]:
    key_parameter(app, "id", item_id)
    data = validated_body(app, ITEM)
    existing = table.get_item({"id": item_id}, ProjectionExpression="created_at")
    if existing is None:
        raise NotFound(f"item {item_id} not found")
    item = {"id": item_id, **data, "created_at": existing["created_at"], "updated_at": _now()}
    try:
        table.put_item(item, ConditionExpression="attribute_exists(id)")
    except table.ConditionalCheckFailed:
        raise NotFound(f"item {item_id} not found") from None
    return _plain(item)


@app.delete("/items/<item_id>")
def delete_item(item_id: str) -> Response:
    key_parameter(app, "id", item_id)
    try:
        table.delete_item({"id": item_id}, ConditionExpression="attribute_exists(id)")
    except table.ConditionalCheckFailed:
        raise NotFound(f"item {item_id} not found") from None
    return Response(204)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # int() refuses text of more than 4,300 digits with a ValueError (a 502): leading zeros go first.
    digits = raw.lstrip("0")
    if (
        not (raw.isascii() and raw.isdigit())
        or len(digits) > 3
        or not 1 <= int(digits or "0") <= MAX_PAGE_SIZE
    ):
        raise BadRequest(f"limit: expected an integer from 1 to {MAX_PAGE_SIZE}")
    return int(digits)


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_token(token: str) -> dict[str, Any]:
    """The start key in a token; anything else (however it decodes) is a 400, never a scan from it."""
    try:
        key = parse_json_body(base64.urlsafe_b64decode(token.encode()).decode())
        if not isinstance(key, dict) or set(key) != {"id"}:
            raise InvalidInput("not a start key")
        key_value("id", key["id"])
    except (binascii.Error, ValueError):  # InvalidInput and UnicodeError are ValueErrors
        raise BadRequest("next_token: not a token this API returned") from None
    return key


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; prices are whole cents."""
    return {k: int(v) if k == "price_cents" else v for k, v in item.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
