"""The downstream of the sample: an order fulfilment service the processor reaches through the breaker.

Invoked RequestResponse with ``{"request_id", "type", "payload"}``, it accepts the request into its
own table (``FULFILMENT_TABLE_NAME``, key ``request_id``), counting each delivery of it in
``deliveries`` (a request delivered twice shows 2), and answers ``{"request_id", "accepted": true,
"deliveries": n}``; a request outside its contract is ``{"statusCode": 400, "message": ...}``.
``{"health": true}`` is the shallow health check the recovery probe calls. While the table holds
the item ``{"request_id": "OUTAGE"}`` it fails every call with ``FulfilmentDown``: the switch a demo
or an operator flips to play an outage; delete the item to end it.
"""

from __future__ import annotations

import os
from typing import Any

from shared.dynamodb import Table
from shared.observability import instrument, logger

table = Table(os.environ["FULFILMENT_TABLE_NAME"])
OUTAGE_SWITCH = "OUTAGE"


class FulfilmentDown(Exception):
    """The service is unavailable: a fault the caller's circuit breaker counts."""


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        return {"statusCode": 400, "message": "event: expected a JSON object"}
    if table.get_item({"request_id": OUTAGE_SWITCH}) is not None:
        logger.warning("fulfilment down", extra={"request_id": event.get("request_id")})
        raise FulfilmentDown("the fulfilment service is unavailable")
    if event.get("health") is True:
        return {"healthy": True}
    request_id, kind, payload = event.get("request_id"), event.get("type"), event.get("payload")
    if not isinstance(request_id, str) or not request_id or request_id == OUTAGE_SWITCH:
        return {"statusCode": 400, "message": "request_id: required, a string other than OUTAGE"}
    if not isinstance(kind, str) or not isinstance(payload, dict):
        return {"statusCode": 400, "message": "type and payload: required, a string and an object"}
    accepted = table.update_item(
        {"request_id": request_id},
        UpdateExpression="SET #type = :type ADD deliveries :one",
        ExpressionAttributeNames={"#type": "type"},
        values={":type": kind, ":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    logger.info("request accepted", extra={"request_id": request_id, "deliveries": accepted["deliveries"]})
    return {"request_id": request_id, "accepted": True, "deliveries": int(accepted["deliveries"])}
