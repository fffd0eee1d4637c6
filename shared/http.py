"""Request validation for handlers behind API Gateway, answered the Powertools way.

A body or a path parameter that breaks its rules becomes Powertools' ``BadRequestError``, which
the resolver turns into ``400 {"statusCode": 400, "message": "<every problem>"}``; a body over
``max_bytes`` is a 413::

    @app.post("/items")
    def create():
        item = validated_body(app, ITEM)

    @app.get("/items/<item_id>")
    def read(item_id):
        table.get_item({"id": key_parameter(app, "id", item_id)})
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, ServiceError

from shared.observability import logger
from shared.validation import PARTITION_KEY_MAX_BYTES, InvalidInput, Schema, key_value, parse_json_body

#: The largest body a handler reads: well above any body its schemas allow, even with every
#: character escaped (``\uXXXX``), and far below what Lambda and DynamoDB could take.
MAX_BODY_BYTES = 256 * 1024


def validated_body(
    app: APIGatewayRestResolver, schema: Schema, *, max_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """The current request's JSON body if it fits ``schema``; else a 400 naming every problem.

    A body over ``max_bytes`` is a 413 before it is parsed.
    """
    body = app.current_event.body
    if body is not None and len(body.encode("utf-8", "surrogatepass")) > max_bytes:
        logger.info("refused request body", extra={"reason": "too large", "path": app.current_event.path})
        raise ServiceError(413, f"body: larger than {max_bytes} bytes")
    try:
        return schema.validate(parse_json_body(body))
    except InvalidInput as error:
        raise _bad_request(app, error) from None


def key_parameter(
    app: APIGatewayRestResolver, name: str, value: str, *, max_bytes: int = PARTITION_KEY_MAX_BYTES
) -> str:
    """A path or query value used as a DynamoDB key, if the table can take it; else a 400 naming it."""
    try:
        return key_value(name, value, max_bytes=max_bytes)
    except InvalidInput as error:
        raise _bad_request(app, error) from None


def _bad_request(app: APIGatewayRestResolver, error: InvalidInput) -> BadRequestError:
    logger.info("rejected request", extra={"reason": str(error), "path": app.current_event.path})
    return BadRequestError(str(error))
