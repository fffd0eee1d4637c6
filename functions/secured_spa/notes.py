"""The signed-in user's own notes, behind API Gateway's Cognito user pool authorizer.

Whose notes they are is the token's ``sub``, which the authorizer verified and put in the event
(``requestContext.authorizer.claims``); nothing the client sends can name another user. The table is
keyed by (owner, id), so a user's list is one Query of their partition and another user's note id
is simply not found (404, the same as an id that never existed: no oracle of other users' ids).
An event without claims (the function called without the authorizer) is a 401, never a shared
anonymous partition. Bad input is a 400 naming the field.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table, from_attributes, to_attributes
from shared.http import HttpError, NotFound, Response, Router, key_parameter, validated_body
from shared.observability import instrument, metrics
from shared.validation import SORT_KEY_MAX_BYTES, Field, Schema

table = Table(os.environ["TABLE_NAME"])
app = Router()

#: A user's notes come back in one page: a notes app, not a data export. A note past it is refused
#: (409), so none is created and then left out of the list.
MAX_NOTES = 100
NOTE = Schema(text=Field(str, min_length=1, max_length=500))


def owner() -> str:
    """The verified user: the ``sub`` claim the Cognito authorizer put in the event."""
    claims = ((app.current_event.raw.get("requestContext") or {}).get("authorizer") or {}).get("claims")
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not sub:
        raise HttpError(401, "Unauthorized")
    return sub


@app.get("/api/notes")
def list_notes() -> dict[str, Any]:
    answer = table.client.query(
        TableName=table.name,
        KeyConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues=to_attributes({":owner": owner()}),
        Limit=MAX_NOTES,
    )
    notes = sorted((from_attributes(i) for i in answer.get("Items", [])), key=lambda n: n["created_at"])
    return {"notes": [_public(n) for n in notes]}


@app.post("/api/notes")
def create_note() -> tuple[dict[str, Any], int]:
    user = owner()
    data = validated_body(app, NOTE)
    full = HttpError(409, f"at most {MAX_NOTES} notes: delete one to add another")
    if _count(user) >= MAX_NOTES:
        raise full
    note = {"owner": user, "id": str(uuid.uuid4()), "text": data["text"], "created_at": _now()}
    table.put_item(note, ConditionExpression="attribute_not_exists(id)")
    if _count(user) > MAX_NOTES:
        # Another create took the last place between the count and the put: take this note back,
        # so the list (one page of MAX_NOTES) never leaves a stored note out.
        table.delete_item({"owner": user, "id": note["id"]})
        raise full
    metrics.add_metric(name="NotesCreated", unit=MetricUnit.Count, value=1)
    return _public(note), 201


@app.get("/api/notes/<note_id>")
def get_note(note_id: str) -> dict[str, Any]:
    user = owner()
    note = table.get_item(
        {"owner": user, "id": key_parameter(app, "id", note_id, max_bytes=SORT_KEY_MAX_BYTES)}
    )
    if note is None:
        raise NotFound(f"note {note_id} not found")
    return _public(note)


@app.delete("/api/notes/<note_id>")
def delete_note(note_id: str) -> Response:
    user = owner()
    try:
        table.delete_item(
            {"owner": user, "id": key_parameter(app, "id", note_id, max_bytes=SORT_KEY_MAX_BYTES)},
            ConditionExpression="attribute_exists(id)",
        )
    except table.ConditionalCheckFailed:
        raise NotFound(f"note {note_id} not found") from None
    return Response(204)


def _count(user: str) -> int:
    """How many notes ``user`` has, up to one past :data:`MAX_NOTES` (a count reads no more than
    that), read consistently so a note just written is counted."""
    answer = table.client.query(
        TableName=table.name,
        KeyConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues=to_attributes({":owner": user}),
        Select="COUNT",
        Limit=MAX_NOTES + 1,
        ConsistentRead=True,
    )
    return int(answer["Count"])


def _public(note: dict[str, Any]) -> dict[str, Any]:
    """A note as its owner sees it: the owner's sub stays in the table."""
    return {"id": note["id"], "text": note["text"], "created_at": note["created_at"]}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
