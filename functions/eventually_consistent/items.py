"""The write side: items behind API Gateway, each change stamped with ``last_updated`` here, server-side.

``PUT /items/{id}`` creates or replaces an item, ``GET`` reads it, ``DELETE`` turns it into a
tombstone (``deleted``, a new stamp, and ``expires_at`` for DynamoDB's TTL to purge it once no
change older than it can still reach the replica). ``last_updated`` is microseconds since the
epoch, and strictly increases per item: a write conditional on the stored stamp being older, and
on a conflict (two writers in one microsecond, or a host whose clock lags) stamped again one
microsecond after the stored one. That order is what the replica's guard keeps. Bad input is a 400
naming the field; an unknown or deleted item a 404; a write that other writers overtook on every
try a 409 to retry.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table, from_attributes
from shared.http import BadRequest, HttpError, NotFound, Response, Router, key_parameter, validated_body
from shared.observability import instrument, metrics
from shared.validation import Field, Schema

table = Table(os.environ["TABLE_NAME"])
app = Router()

#: Tombstones live this long in the table: past the stream's 24-hour retention, so every change
#: older than the tombstone has reached the replica (or its failure queue) before it goes.
TOMBSTONE_SECONDS = 2 * 24 * 3600
#: Tries at a stamp newer than the stored one; each conflict moves past what it saw.
STAMP_TRIES = 3
KEY_MAX_BYTES = 256
ITEM = Schema(
    name=Field(str, min_length=1, max_length=100),
    quantity=Field(int, minimum=0, maximum=1_000_000),
    price_cents=Field(int, minimum=0, maximum=10**9),
)
#: The stored stamp is older (or there is none: a new item, or one another writer stored unstamped).
NEWER = "(attribute_not_exists(last_updated) OR last_updated < :stamp)"


def now_micros() -> int:
    return time.time_ns() // 1000


def stamped_write(item_id: str, write: Any, *, live_only: bool = False) -> int:
    """Run ``write(stamp)`` with a stamp newer than the item's stored one; the stamp it took.

    A conflict on an item that is missing (or deleted, with ``live_only``) is raised as is; losing
    every try to other writers is a 409 for the caller to retry."""
    stamp = now_micros()
    for _ in range(STAMP_TRIES):
        try:
            write(stamp)
            return stamp
        except table.ConditionalCheckFailed as conflict:
            stored = from_attributes(conflict.response.get("Item") or {})
            if "last_updated" not in stored or (live_only and stored.get("deleted")):
                raise
            stamp = max(now_micros(), int(stored["last_updated"]) + 1)
    raise HttpError(
        409, f"item {item_id}: other writers changed it during each of {STAMP_TRIES} tries; retry"
    )


def replicable(name: str, value: str) -> str:
    """``value``, unless the replica could not store it: PostgreSQL's text holds no NUL character."""
    if "\x00" in value:
        raise BadRequest(f"{name}: must not contain U+0000 (the PostgreSQL replica cannot store it)")
    return value


def item_key(item_id: str) -> str:
    """The id, at most 256 bytes (a NUL never gets here: the route's characters exclude it)."""
    return key_parameter(app, "item_id", item_id, max_bytes=KEY_MAX_BYTES)


@app.put("/items/<item_id>")
def put_item(item_id: str) -> dict[str, Any]:
    item_key(item_id)
    data = validated_body(app, ITEM)
    replicable("name", data["name"])

    def write(stamp: int) -> None:
        table.put_item(
            {"item_id": item_id, **data, "deleted": False, "last_updated": stamp},
            ConditionExpression=NEWER,
            ExpressionAttributeValues={":stamp": {"N": str(stamp)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    stamp = stamped_write(item_id, write)
    metrics.add_metric(name="ItemsWritten", unit=MetricUnit.Count, value=1)
    return {"item_id": item_id, **data, "last_updated": stamp}


@app.get("/items/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    item_key(item_id)
    item = table.get_item({"item_id": item_id}, ConsistentRead=True)
    if item is None or item.get("deleted"):
        raise NotFound(f"item {item_id} not found")
    return _plain(item)


@app.delete("/items/<item_id>")
def delete_item(item_id: str) -> Response:
    item_key(item_id)

    def write(stamp: int) -> None:
        table.update_item(
            {"item_id": item_id},
            UpdateExpression="SET deleted = :yes, last_updated = :stamp, expires_at = :expires",
            ConditionExpression=f"attribute_exists(item_id) AND NOT deleted = :yes AND {NEWER}",
            values={
                ":yes": True,
                ":stamp": stamp,
                ":expires": stamp // 1_000_000 + TOMBSTONE_SECONDS,
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    try:
        stamped_write(item_id, write, live_only=True)
    except table.ConditionalCheckFailed:
        raise NotFound(f"item {item_id} not found") from None
    metrics.add_metric(name="ItemsDeleted", unit=MetricUnit.Count, value=1)
    return Response(204)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    shown = {k: int(v) if isinstance(v, Decimal) else v for k, v in item.items()}
    shown.pop("deleted", None)
    return shown
