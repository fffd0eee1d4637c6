"""A caller of the quote service: prices a cart by invoking the service synchronously per line.

It talks to the service through the Lambda API (``InvocationType=RequestResponse``), with no API
Gateway in between. Both directions are checked against the service's contract (``contract.py``),
and every way the call can fail becomes an error of this caller's own, never a stack trace:

=========================  ======  ====================  =========================================
What happened              status  code                  why
=========================  ======  ====================  =========================================
cart breaks its schema     400     InvalidCart           checked here before any call is made
service: InvalidQuote...   400     InvalidCart           the service's message is passed on
service: UnknownSku        404     UnknownProduct        the service's message is passed on
service: any other error   502     PricingFailed         a fault: logged, not shown
answer breaks contract     502     PricingFailed         the service drifted from its contract
Lambda: 429 throttled      503     PricingBusy           the caller may retry later
Lambda: denied, or other   502     PricingUnavailable    a deployment fault: logged, not shown
=========================  ======  ====================  =========================================

Event ``{"items": [{"sku": "A-1", "quantity": 2}, ...]}``; answer ``{"statusCode": 200, "cart":
{"lines": [...], "totals": {"USD": 1998}}}`` or ``{"statusCode": 404, "error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from contract import QUOTE_REQUEST, QUOTE_RESPONSE, SERVICE_ERRORS
from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema

QUOTE_FUNCTION = os.environ["QUOTE_FUNCTION_NAME"]
#: The SDK must wait longer than the service may run, or it would give up (and retry) a call in flight.
SERVICE_TIMEOUT = float(os.environ.get("QUOTE_FUNCTION_TIMEOUT_SECONDS", "3"))
lambda_client = boto3.client(
    "lambda",
    config=Config(
        connect_timeout=2, read_timeout=SERVICE_TIMEOUT + 2, retries={"mode": "standard", "max_attempts": 2}
    ),
)

MAX_LINES = 20
CART = Schema(items=Field(list, min_length=1, max_length=MAX_LINES))

#: The service's refusals, as this caller's own errors.
REFUSALS = {"InvalidQuoteRequest": (400, "InvalidCart"), "UnknownSku": (404, "UnknownProduct")}
FAULT_MESSAGE = "the pricing service failed; try again later"


class CartError(Exception):
    """An answer this caller gives instead of a cart: a status, a stable code and a safe message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def validated_cart(event: Any) -> list[dict[str, Any]]:
    """The cart's lines, each checked against the service's request contract before any call."""
    try:
        lines = CART.validate(event)["items"]
        problems = []
        for index, line in enumerate(lines):
            try:
                QUOTE_REQUEST.validate(line)
            except InvalidInput as error:
                problems.append(f"items[{index}]: {error}")
        if problems:
            raise InvalidInput("; ".join(problems))
    except InvalidInput as error:
        raise CartError(400, "InvalidCart", str(error)) from None
    return lines


def quote(line: dict[str, Any]) -> dict[str, Any]:
    """One synchronous call to the quote service, its answer held to the contract."""
    try:
        response = lambda_client.invoke(
            FunctionName=QUOTE_FUNCTION,
            InvocationType="RequestResponse",
            Payload=json.dumps(line).encode(),
        )
    except BotoCoreError as error:  # unreachable, or no answer in time: no answer to trust
        logger.error("quote service unreachable", extra={"reason": repr(error)})
        raise CartError(502, "PricingUnavailable", FAULT_MESSAGE) from None
    except ClientError as error:
        code = error.response["Error"]["Code"]
        logger.error("quote service call failed", extra={"error_code": code, "reason": str(error)})
        if code == "TooManyRequestsException":
            raise CartError(503, "PricingBusy", "the pricing service is busy; try again shortly") from None
        raise CartError(502, "PricingUnavailable", FAULT_MESSAGE) from None
    payload = json.loads(response["Payload"].read() or b"null")
    if "FunctionError" in response:
        error_type = payload.get("errorType") if isinstance(payload, dict) else None
        if error_type in SERVICE_ERRORS:
            status, code = REFUSALS[error_type]
            raise CartError(status, code, str(payload.get("errorMessage", "")))
        logger.error("quote service fault", extra={"error_type": error_type, "sku": line["sku"]})
        raise CartError(502, "PricingFailed", FAULT_MESSAGE)
    try:
        return QUOTE_RESPONSE.validate(payload)
    except InvalidInput as error:
        logger.error("quote breaks the contract", extra={"reason": str(error), "sku": line["sku"]})
        raise CartError(502, "PricingFailed", FAULT_MESSAGE) from None


def price_cart(event: Any) -> dict[str, Any]:
    lines = [quote(line) for line in validated_cart(event)]
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["currency"]] = totals.get(line["currency"], 0) + line["total_cents"]
    return {"lines": lines, "totals": totals}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        cart = price_cart(event)
    except CartError as error:
        metrics.add_metric(name="CartsRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": error.status, "error": {"code": error.code, "message": str(error)}}
    metrics.add_metric(name="CartsPriced", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200, "cart": cart}
