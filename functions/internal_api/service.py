"""The quote service: an internal API that Lambda invokes synchronously for its callers only.

It answers ``{"sku", "quantity"}`` with a priced quote from the prices table (``PRICES_TABLE_NAME``,
items ``{"sku", "unit_price_cents", "currency"}``). It refuses on purpose by raising a
:class:`~contract.QuoteError`, which Lambda returns to the caller as a function error whose
``errorType`` names the refusal; the caller maps it to an error of its own.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from contract import QUOTE_REQUEST, QUOTE_RESPONSE, InvalidQuoteRequest, UnknownSku
from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from shared.validation import InvalidInput

prices = Table(os.environ["PRICES_TABLE_NAME"])
DEFAULT_CURRENCY = "USD"


def quote(request: Any) -> dict[str, Any]:
    """The priced quote for one request; raises a ``QuoteError`` the caller can act on."""
    try:
        wanted = QUOTE_REQUEST.validate(request)
    except InvalidInput as error:
        raise InvalidQuoteRequest(str(error)) from None
    price = prices.get_item({"sku": wanted["sku"]})
    if price is None:
        raise UnknownSku(f"no price for sku {wanted['sku']!r}")
    unit = _whole(price.get("unit_price_cents"))
    # The service holds itself to the contract it publishes: a bad price row is a fault, not an answer.
    return QUOTE_RESPONSE.validate(
        {
            "sku": wanted["sku"],
            "quantity": wanted["quantity"],
            "unit_price_cents": unit,
            "total_cents": unit * wanted["quantity"] if isinstance(unit, int) else None,
            "currency": price.get("currency", DEFAULT_CURRENCY),
        }
    )


def _whole(number: Any) -> Any:
    """DynamoDB numbers arrive as Decimal: a whole one becomes an int, anything else stays as it is."""
    if isinstance(number, Decimal) and number == number.to_integral_value():
        return int(number)
    return number


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        answer = quote(event)
    except (InvalidQuoteRequest, UnknownSku) as error:
        logger.info("quote refused", extra={"error_type": type(error).__name__, "reason": str(error)})
        metrics.add_metric(name="QuotesRefused", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="QuotesServed", unit=MetricUnit.Count, value=1)
    return answer
