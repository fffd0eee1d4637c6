"""POST /orders: validate the order, get its shipping quote from the internal quote service
synchronously, store it in the shared orders table, answer 201 with the order.

The quote service is called RequestResponse through the SDK and its answer is needed before the
order can be stored. Its refusal (a destination not served, a parcel too heavy) is the caller's
400; its failure or an answer outside its contract is a 502 and its throttling a 503, each with a
message and never a stack trace; no order is stored without a quote.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orders import ACCEPTED, now, orders, public
from shared.http import BadRequest, HttpError, Router, validated_body
from shared.observability import instrument, logger, metrics
from shared.validation import Field, Schema

QUOTE_FUNCTION = os.environ["QUOTE_FUNCTION_NAME"]
#: The SDK waits a little longer than the quote service may run, and retries a throttled call once.
QUOTE_TIMEOUT_SECONDS = float(os.environ.get("QUOTE_FUNCTION_TIMEOUT_SECONDS", "3"))
lambda_client = boto3.client(
    "lambda",
    config=Config(
        connect_timeout=2,
        read_timeout=QUOTE_TIMEOUT_SECONDS + 2,
        retries={"mode": "standard", "total_max_attempts": 2},
    ),
)
app = Router()

ORDER = Schema(
    customer_id=Field(str, min_length=1, max_length=64),
    country=Field(str, min_length=2, max_length=2),
    weight_grams=Field(int, minimum=1, maximum=30_000),
    reference=Field(str, max_length=100, required=False),
)
QUOTE_FAILED = "the shipping quote service failed; the order was not stored, try again later"


@app.post("/orders")
def create_order() -> tuple[dict[str, Any], int]:
    data = validated_body(app, ORDER)
    quote = shipping_quote(data["country"], data["weight_grams"])
    order = {
        "order_id": str(uuid.uuid4()),
        **data,
        "country": data["country"].upper(),
        "shipping": quote,
        "status": ACCEPTED,
        "created_at": now(),
    }
    orders.put_item(order, ConditionExpression="attribute_not_exists(order_id)")
    metrics.add_metric(name="OrdersAccepted", unit=MetricUnit.Count, value=1)
    logger.info("order accepted", extra={"order_id": order["order_id"], "zone": quote["zone"]})
    return public(order), 201


def shipping_quote(country: str, weight_grams: int) -> dict[str, Any]:
    """The quote service's answer, or the HTTP error this API gives instead."""
    request = {"country": country, "weight_grams": weight_grams}
    try:
        response = lambda_client.invoke(
            FunctionName=QUOTE_FUNCTION,
            InvocationType="RequestResponse",
            Payload=json.dumps(request).encode(),
        )
        answer = json.loads(response["Payload"].read() or b"null")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        logger.error("quote service call refused", extra={"error_code": code, "why": str(error)})
        if code == "TooManyRequestsException":
            raise HttpError(503, "the shipping quote service is busy; try again shortly") from None
        raise HttpError(502, QUOTE_FAILED) from None
    except (BotoCoreError, ValueError) as error:
        logger.error("quote service unreachable", extra={"why": repr(error)})
        raise HttpError(502, QUOTE_FAILED) from None
    if "FunctionError" in response:
        logger.error("quote service failed", extra={"answer": answer})
        raise HttpError(502, QUOTE_FAILED)
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    if status == 400:
        raise BadRequest(str(answer.get("message", "the order cannot be shipped")))
    if status != 200 or not _is_quote(answer.get("body")):
        logger.error("quote breaks the contract", extra={"answer": answer})
        raise HttpError(502, QUOTE_FAILED)
    return answer["body"]


def _is_quote(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("zone"), str)
        and isinstance(body.get("cost_cents"), int)
        and isinstance(body.get("delivery_days"), int)
    )


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
