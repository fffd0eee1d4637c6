"""The protected backend: each principal's own documents, scoped by what the authorizer says.

The function never sees a token. API Gateway calls it only after the authorizer's policy allowed
the route, and passes the principal in ``requestContext.authorizer``; every read and write is
keyed by that principal, so one caller can neither list nor fetch another's documents (a document
of someone else is a 404, not a 403, so ids do not leak). An id the table cannot hold (over its
sort key's 1,024 bytes) is a 400, as is a body that breaks the document's rules.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table, from_attributes, to_attributes
from shared.http import HttpError, NotFound, Router, key_parameter, validated_body
from shared.observability import instrument, metrics
from shared.validation import SORT_KEY_MAX_BYTES, Field, Schema

documents = Table(os.environ["DOCUMENTS_TABLE_NAME"])
app = Router()  # not Powertools' resolver: its import alone costs about 0.1x of the 1.4x cold-start budget

PAGE_SIZE = 50
DOCUMENT = Schema(
    title=Field(str, min_length=1, max_length=200),
    text=Field(str, max_length=10_000, required=False),
)


@app.get("/documents")
def list_documents() -> dict[str, Any]:
    owner = _principal()
    page = documents.client.query(
        TableName=documents.name,
        KeyConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues=to_attributes({":owner": owner}),
        Limit=PAGE_SIZE,
    )
    return {
        "owner": owner,
        "documents": [from_attributes(item) for item in page.get("Items", [])],
        "truncated": "LastEvaluatedKey" in page,
    }


@app.post("/documents")
def create_document() -> tuple[dict[str, Any], int]:
    data = validated_body(app, DOCUMENT)
    item = {
        "owner": _principal(),
        "id": str(uuid.uuid4()),
        **data,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    documents.put_item(item)
    metrics.add_metric(name="DocumentsCreated", unit=MetricUnit.Count, value=1)
    return item, 201


@app.get("/documents/<document_id>")
def read_document(document_id: str) -> dict[str, Any]:
    document_id = key_parameter(app, "id", document_id, max_bytes=SORT_KEY_MAX_BYTES)
    found = documents.get_item({"owner": _principal(), "id": document_id})
    if found is None:
        raise NotFound(f"document {document_id} not found")
    return found


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


def _principal() -> str:
    """Who the authorizer let in; a request without one did not come through the gatekeeper."""
    principal = ((app.current_event.raw.get("requestContext") or {}).get("authorizer") or {}).get("principal")
    if not principal:
        raise HttpError(401, "no authorized principal in the request")
    return principal
