"""The flaky dependency of the sample: an exchange-rate service the caller reaches through the breaker.

Invoked RequestResponse with ``{"currency": "EUR"}``, it answers ``{"currency": "EUR", "rate":
"1.0842"}`` from its table (``RATES_TABLE_NAME``, items ``{"currency", "rate"}``), or
``{"statusCode": 404, "message": ...}`` for a currency it does not quote. While the table holds the
item ``{"currency": "OUTAGE"}`` it fails every call with ``RatesFeedDown``, the switch a demo or an
operator flips to play an outage of the upstream rate feed; delete the item to end it.
"""

from __future__ import annotations

import os
from typing import Any

from shared.dynamodb import Table
from shared.observability import instrument, logger

rates = Table(os.environ["RATES_TABLE_NAME"])
OUTAGE_SWITCH = "OUTAGE"


class RatesFeedDown(Exception):
    """The rate feed is unavailable: a fault the caller's circuit breaker counts."""


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    currency = event.get("currency") if isinstance(event, dict) else None
    if not isinstance(currency, str) or not currency:
        return {"statusCode": 400, "message": "currency: required, a string"}
    if rates.get_item({"currency": OUTAGE_SWITCH}) is not None:
        logger.warning("rate feed down", extra={"currency": currency})
        raise RatesFeedDown("the upstream rate feed is unavailable")
    item = rates.get_item({"currency": currency})
    if item is None:
        return {"statusCode": 404, "message": f"no rate for currency {currency}"}
    return {"currency": currency, "rate": str(item["rate"])}
