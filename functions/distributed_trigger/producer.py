"""The payment service whose logs the trigger reads: it decides a payment and logs the outcome.

It knows nothing of the trigger, the topic or the subscribers; it logs one structured JSON line
per payment with Powertools' Logger (``event``, ``payment_id``, ``customer_id``, ``amount_cents``,
``currency``, and ``reason`` when declined), which is all the distributed trigger relies on. A
payment is declined when its card is the issuer's decline test card or its amount is over the
customer's limit (``DECLINE_ABOVE_CENTS``). Invoked synchronously; a bad request is answered 400
with the fields named, and logged as nothing the trigger selects.
"""

from __future__ import annotations

import os
from typing import Any

from shared.json_schema import validate
from shared.observability import instrument, logger
from shared.validation import InvalidInput

DECLINE_ABOVE_CENTS = int(os.environ.get("DECLINE_ABOVE_CENTS", "500000"))
DECLINED_CARD = "0002"
REQUEST = {
    "type": "object",
    "required": ["payment_id", "customer_id", "amount_cents", "currency", "card_last4"],
    "additionalProperties": False,
    "properties": {
        "payment_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "customer_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "amount_cents": {"type": "integer", "minimum": 1, "maximum": 100000000},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "card_last4": {"type": "string", "pattern": "^[0-9]{4}$"},
    },
}


def decide(request: dict[str, Any]) -> str | None:
    """Why the payment is declined, or None when it is captured."""
    if request["card_last4"] == DECLINED_CARD:
        return "card_declined"
    if request["amount_cents"] > DECLINE_ABOVE_CENTS:
        return "over_limit"
    return None


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        request = validate(REQUEST, event)
    except InvalidInput as error:
        logger.info("payment request refused", extra={"reason": str(error)})
        return {"statusCode": 400, "error": {"code": "InvalidPayment", "message": str(error)}}
    payment = {k: request[k] for k in ("payment_id", "customer_id", "amount_cents", "currency")}
    reason = decide(request)
    if reason is None:
        logger.info("payment captured", extra={"event": "payment_captured", **payment})
        return {"statusCode": 200, "payment_id": payment["payment_id"], "outcome": "captured"}
    logger.warning("payment declined", extra={"event": "payment_declined", **payment, "reason": reason})
    return {"statusCode": 200, "payment_id": payment["payment_id"], "outcome": "declined", "reason": reason}
