"""The fulfilment service behind its circuit breaker: what the processor and the recovery check share.

The breaker (``shared/circuit_breaker.py``) keeps the service's circuit in DynamoDB
(``CIRCUIT_TABLE_NAME``, circuit ``CIRCUIT_NAME``, thresholds from ``CIRCUIT_*``); the service is a
function (``FULFILMENT_FUNCTION_NAME``) invoked synchronously, one attempt, waiting as long as it may
run: the breaker, not the SDK, decides whether to call again.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.circuit_breaker import CircuitBreaker, Settings
from shared.dynamodb import Table
from shared.observability import logger, metrics
from shared.validation import InvalidInput

FULFILMENT_FUNCTION = os.environ["FULFILMENT_FUNCTION_NAME"]
SERVICE_TIMEOUT = float(os.environ.get("FULFILMENT_TIMEOUT_SECONDS", "3"))
#: One DynamoDB client for every table the function uses: each client costs its cold start.
dynamodb = boto3.client("dynamodb")
lambda_client = boto3.client(
    "lambda",
    config=Config(connect_timeout=2, read_timeout=SERVICE_TIMEOUT + 2, retries={"total_max_attempts": 1}),
)


class ServiceFailed(Exception):
    """The fulfilment service gave no answer: a failure the circuit counts."""


class Refused(InvalidInput):
    """The fulfilment service answered that the request is outside its contract: not a failure."""


def transition(before: Any, after: Any) -> None:
    logger.warning(
        "circuit changed", extra={"circuit": after.circuit, "from": before.state, "to": after.state}
    )
    metrics.add_metric(name=f"Circuit{after.state.title().replace('_', '')}", unit=MetricUnit.Count, value=1)


breaker = CircuitBreaker(
    Table(os.environ["CIRCUIT_TABLE_NAME"], dynamodb),
    os.environ["CIRCUIT_NAME"],
    Settings.from_environ(),
    is_failure=lambda error: not isinstance(error, Refused),
    on_transition=transition,
)


def call_fulfilment(request: dict[str, Any]) -> dict[str, Any]:
    """One synchronous call to the fulfilment service (also the recovery check's probe)."""
    try:
        response = lambda_client.invoke(FunctionName=FULFILMENT_FUNCTION, Payload=json.dumps(request))
    except (ClientError, BotoCoreError) as error:
        raise ServiceFailed(f"the fulfilment service could not be called ({type(error).__name__})") from None
    try:
        answer = json.loads(response["Payload"].read() or b"null")
    except ValueError:
        raise ServiceFailed("the fulfilment service answered with something that is not JSON") from None
    if "FunctionError" in response:
        error_type = answer.get("errorType") if isinstance(answer, dict) else None
        raise ServiceFailed(f"the fulfilment service failed ({error_type or 'Unknown'})")
    if isinstance(answer, dict) and answer.get("statusCode") == 400:
        raise Refused(f"fulfilment refused the request: {answer.get('message')}")
    if not isinstance(answer, dict) or not (answer.get("accepted") is True or answer.get("healthy") is True):
        raise ServiceFailed("the fulfilment service answered outside its contract")
    return answer
