"""Lambda proxy answers for API Gateway without Powertools' event handler (about 30 ms of cold start).

For a function that serves one or two routes, matching them is a line each; these give the same
answer shapes as Powertools' resolver, errors included::

    return json_response(202, {"accepted": event_id})
    return error_response(401, "X-Webhook-Signature: required")  # {"statusCode": 401, "message": ...}
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def json_response(status: int, body: Any) -> dict[str, Any]:
    """A proxy answer with a compact JSON body; DynamoDB's Decimal numbers become JSON numbers."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, separators=(",", ":"), default=_number),
        "isBase64Encoded": False,
    }


def error_response(status: int, message: str) -> dict[str, Any]:
    """The error shape of Powertools' resolver: ``{"statusCode": status, "message": message}``."""
    return json_response(status, {"statusCode": status, "message": message})


def _number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
