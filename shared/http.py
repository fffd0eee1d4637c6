"""Request-body validation for handlers behind API Gateway, answered the Powertools way.

A body that breaks its schema becomes Powertools' ``BadRequestError``, which the resolver turns
into ``400 {"statusCode": 400, "message": "<every problem>"}``::

    @app.post("/items")
    def create():
        item = validated_body(app, ITEM)
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError

from shared.observability import logger
from shared.validation import InvalidInput, Schema, parse_json_body


def validated_body(app: APIGatewayRestResolver, schema: Schema) -> dict[str, Any]:
    """The current request's JSON body if it fits ``schema``; else a 400 naming every problem."""
    try:
        return schema.validate(parse_json_body(app.current_event.body))
    except InvalidInput as error:
        logger.info("rejected request body", extra={"reason": str(error), "path": app.current_event.path})
        raise BadRequestError(str(error)) from None
