"""The authorization service's admin API: add a principal, read it, revoke it.

The routes sit behind the same authorizer as the rest of the API, so only a principal granted
``/admin/...`` (``"* /admin/*"``) reaches them. The first such principal cannot come through the
API; an operator creates it by invoking this function directly, which needs IAM permission to
invoke it (``aws lambda invoke --payload '{"principal_id": "ops", "permissions": ["* /admin/*"]}'``).

A new principal's token is in the 201 answer and nowhere else: the table keeps only its hash.
Revoking keeps the principal (who granted what, and when it ended) and takes effect when API
Gateway's cached policy for its token expires, at most ``CACHE_TTL_SECONDS`` later.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from principals import PRINCIPAL_ID, new_token, permission_problems
from shared.dynamodb import Table
from shared.http import BadRequest, HttpError, NotFound, Router, validated_body
from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema

principals = Table(os.environ["PRINCIPALS_TABLE_NAME"])
CACHE_TTL_SECONDS = int(os.environ["CACHE_TTL_SECONDS"])
app = Router()  # not Powertools' resolver: its import alone took this function over 1.4x cold start

NEW_PRINCIPAL = Schema(
    principal_id=Field(str, min_length=1, max_length=64),
    permissions=Field(list, min_length=1),
)
PRINCIPAL_ID_RULE = "principal_id: lowercase letters, digits, '-' and '_', starting with a letter or digit"
#: What the answers show of a stored principal: never the hash of its secret.
SHOWN = ("principal_id", "permissions", "created_at", "created_by", "revoked_at", "revoked_by")
OPERATOR = "operator"
"""``created_by`` of a principal made by invoking the function directly rather than through the API."""


class Conflict(Exception):
    """The principal id is taken (revoked principals keep theirs)."""


@app.post("/admin/principals")
def add_principal() -> tuple[dict[str, Any], int]:
    data = validated_body(app, NEW_PRINCIPAL)
    try:
        return create(data, created_by=_caller()), 201
    except InvalidInput as error:
        raise BadRequest(str(error)) from None
    except Conflict as error:
        raise HttpError(409, str(error)) from None


@app.get("/admin/principals/<principal_id>")
def read_principal(principal_id: str) -> dict[str, Any]:
    found = principals.get_item({"principal_id": _principal_id(principal_id)})
    if found is None:
        raise NotFound(f"principal {principal_id} not found")
    return _shown(found)


@app.delete("/admin/principals/<principal_id>")
def revoke_principal(principal_id: str) -> dict[str, Any]:
    """Mark the principal revoked; a second revoke keeps the first time and answers the same."""
    try:
        revoked = principals.update_item(
            {"principal_id": _principal_id(principal_id)},
            UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now), "
            "revoked_by = if_not_exists(revoked_by, :by)",
            ConditionExpression="attribute_exists(principal_id)",
            values={":now": _now(), ":by": _caller()},
            ReturnValues="ALL_NEW",
        )
    except principals.ConditionalCheckFailed:
        raise NotFound(f"principal {principal_id} not found") from None
    ends = datetime.fromisoformat(revoked["revoked_at"]) + timedelta(seconds=CACHE_TTL_SECONDS)
    metrics.add_metric(name="PrincipalsRevoked", unit=MetricUnit.Count, value=1)
    logger.info("revoked principal", extra={"principal_id": principal_id, "by": revoked["revoked_by"]})
    return {**_shown(revoked), "access_ends_by": _iso(ends)}


def create(data: dict[str, Any], *, created_by: str) -> dict[str, Any]:
    """Store a new principal with the hash of a fresh token; the answer carries the token itself."""
    problems = [] if PRINCIPAL_ID.fullmatch(data["principal_id"]) else [PRINCIPAL_ID_RULE]
    problems += permission_problems(data["permissions"])
    if problems:
        raise InvalidInput("; ".join(problems))
    token, secret_hash = new_token(data["principal_id"])
    item = {
        "principal_id": data["principal_id"],
        "permissions": data["permissions"],
        "secret_hash": secret_hash,
        "created_at": _now(),
        "created_by": created_by,
    }
    try:
        principals.put_item(item, ConditionExpression="attribute_not_exists(principal_id)")
    except principals.ConditionalCheckFailed:
        raise Conflict(f"principal {data['principal_id']} already exists") from None
    metrics.add_metric(name="PrincipalsAdded", unit=MetricUnit.Count, value=1)
    logger.info("added principal", extra={"principal_id": item["principal_id"], "by": created_by})
    return {**_shown(item), "token": token}


def operator_command(event: Any) -> dict[str, Any]:
    """A direct invocation by an operator: create the principal in ``event``, answered like the API."""
    try:
        return {"statusCode": 201, **create(NEW_PRINCIPAL.validate(event), created_by=OPERATOR)}
    except InvalidInput as error:
        return {"statusCode": 400, "message": str(error)}
    except Conflict as error:
        return {"statusCode": 409, "message": str(error)}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "requestContext" in event:
        return app.resolve(event, context)
    return operator_command(event)


def _principal_id(principal_id: str) -> str:
    """A path's principal id, if a principal can have it; else a 400 (never a table call)."""
    if not PRINCIPAL_ID.fullmatch(principal_id):
        raise BadRequest(PRINCIPAL_ID_RULE)
    return principal_id


def _caller() -> str:
    """The principal the authorizer let in: its context rides in ``requestContext.authorizer``."""
    context = (app.current_event.raw.get("requestContext") or {}).get("authorizer") or {}
    return context.get("principal", "unknown")


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in SHOWN if name in item}


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
