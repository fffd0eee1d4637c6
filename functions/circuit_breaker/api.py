"""GET /rates/{currency}: an exchange rate from the rate service, called through a circuit breaker.

The breaker (``shared/circuit_breaker.py``) keeps the circuit of the rate service in DynamoDB
(``CIRCUIT_TABLE_NAME``, circuit ``CIRCUIT_NAME``, thresholds from ``CIRCUIT_*``), shared by every
instance of this function. What the caller sees:

===============================  ======  ==============================================
What happened                    status  body, headers
===============================  ======  ==============================================
the service answered             200     ``{"currency", "rate"}``
currency malformed               400     checked here, before the breaker or any call
service: no rate for currency    404     an answer, not a failure: not counted
service failed or unreachable    502     counted against the circuit
circuit open, or a probe busy    503     ``Retry-After`` in seconds; the service is not called
circuit item too contended       502     logged and counted (``CircuitContention``)
===============================  ======  ==============================================

The SDK client makes one attempt and waits as long as the service may run: the breaker, not the
SDK, decides whether to call again.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.circuit_breaker import CircuitBreaker, CircuitContention, CircuitOpen, Settings
from shared.dynamodb import Table
from shared.http import BadRequest, HttpError, NotFound, Router, error_answer
from shared.observability import instrument, logger, metrics

RATES_FUNCTION = os.environ["RATES_FUNCTION_NAME"]
SERVICE_TIMEOUT = float(os.environ.get("RATES_FUNCTION_TIMEOUT_SECONDS", "3"))
#: An ISO 4217 code (EUR) or another instrument the service may quote (USDC): letters and digits.
CURRENCY = re.compile(r"[A-Za-z0-9]{1,12}")

lambda_client = boto3.client(
    "lambda",
    config=Config(connect_timeout=2, read_timeout=SERVICE_TIMEOUT + 2, retries={"total_max_attempts": 1}),
)
app = Router()


class ServiceFailed(Exception):
    """The rate service gave no answer: a failure the circuit counts."""


class UnknownCurrency(Exception):
    """The rate service answered that it does not quote the currency: not a failure."""


def transition(before: Any, after: Any) -> None:
    logger.warning(
        "circuit changed", extra={"circuit": after.circuit, "from": before.state, "to": after.state}
    )
    metrics.add_metric(name=f"Circuit{after.state.title().replace('_', '')}", unit=MetricUnit.Count, value=1)


breaker = CircuitBreaker(
    Table(os.environ["CIRCUIT_TABLE_NAME"]),
    os.environ["CIRCUIT_NAME"],
    Settings.from_environ(),
    is_failure=lambda error: not isinstance(error, UnknownCurrency),
    on_transition=transition,
)


def fetch_rate(currency: str) -> dict[str, Any]:
    """One synchronous call to the rate service."""
    try:
        response = lambda_client.invoke(
            FunctionName=RATES_FUNCTION, Payload=json.dumps({"currency": currency})
        )
    except (ClientError, BotoCoreError) as error:
        raise ServiceFailed(f"the rate service could not be called ({type(error).__name__})") from None
    try:
        answer = json.loads(response["Payload"].read() or b"null")
    except ValueError:
        raise ServiceFailed("the rate service answered with something that is not JSON") from None
    if "FunctionError" in response:
        error_type = answer.get("errorType") if isinstance(answer, dict) else None
        raise ServiceFailed(f"the rate service failed ({error_type or 'Unknown'})")
    if isinstance(answer, dict) and answer.get("statusCode") == 404:
        raise UnknownCurrency(str(answer.get("message")))
    if not isinstance(answer, dict) or not isinstance(answer.get("rate"), str):
        raise ServiceFailed("the rate service answered outside its contract")
    return answer


@app.get("/rates/<currency>")
def get_rate(currency: str) -> dict[str, Any]:
    if not CURRENCY.fullmatch(currency):
        raise BadRequest("currency: 1 to 12 letters or digits, such as EUR")
    try:
        answer = breaker.call(lambda: fetch_rate(currency))
    except UnknownCurrency as refusal:
        raise NotFound(str(refusal)) from None
    except ServiceFailed as failure:
        logger.warning("rate service failed", extra={"currency": currency, "reason": str(failure)})
        raise HttpError(502, "the rate service failed; try again later") from None
    return {"currency": currency, "rate": answer["rate"]}


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    except CircuitOpen as open_:
        metrics.add_metric(name="CallsRefusedFast", unit=MetricUnit.Count, value=1)
        answer = error_answer(503, f"the rate service is unavailable: {open_}")
        answer["multiValueHeaders"]["Retry-After"] = [str(open_.retry_after)]
        return answer
    except CircuitContention as contention:
        # The circuit item is too contended to record this call's outcome: a fault to alarm on.
        logger.error("circuit not updated", extra={"reason": str(contention)})
        metrics.add_metric(name="CircuitContention", unit=MetricUnit.Count, value=1)
        return error_answer(502, "the rate service failed; try again later")
