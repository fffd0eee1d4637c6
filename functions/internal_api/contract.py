"""The quote service's contract, shared by the service and its callers (one copy, in this folder).

Both sides validate: a caller checks a request before spending an invocation on it and checks the
answer before trusting it; the service checks what it receives and what it returns. A service
error comes back as a Lambda function error whose ``errorType`` is one of :data:`SERVICE_ERRORS`.
"""

from __future__ import annotations

from shared.validation import Field, Schema

MAX_QUANTITY = 1000
SKU = Field(str, min_length=1, max_length=64)

QUOTE_REQUEST = Schema(sku=SKU, quantity=Field(int, minimum=1, maximum=MAX_QUANTITY))
QUOTE_RESPONSE = Schema(
    sku=SKU,
    quantity=Field(int, minimum=1, maximum=MAX_QUANTITY),
    unit_price_cents=Field(int, minimum=0),
    total_cents=Field(int, minimum=0),
    currency=Field(str, min_length=3, max_length=3),
)


class QuoteError(Exception):
    """A refusal the service means to return; its class name is the ``errorType`` callers see."""


class InvalidQuoteRequest(QuoteError):
    """The request breaks :data:`QUOTE_REQUEST`."""


class UnknownSku(QuoteError):
    """No price is held for the requested SKU."""


#: The function errors the service raises on purpose; any other ``errorType`` is a fault.
SERVICE_ERRORS = frozenset({InvalidQuoteRequest.__name__, UnknownSku.__name__})
