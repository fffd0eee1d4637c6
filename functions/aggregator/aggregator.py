"""GET /products/{product_id}: one answer merged from several internal services, called at once.

Every service is invoked RequestResponse at the same moment, each in its own thread, and the
aggregator waits for them together for at most the time budget (``BUDGET_MS``, never past the
function's own remaining time), measured on the Lambda context's clock, the one its own timeout
runs on. The answer takes as long as the slowest service within the budget, not the sum of them
all. A service that fails, is throttled or misses the budget does not
fail the request: the answer is a 200 with the parts that arrived and that part marked in
``errors``. Only when no service answered at all is it a 503; when every service says the product
does not exist, a 404. The SDK client never retries and gives up at the budget, so a slow service
cannot hold the caller longer than promised.

Configuration: ``SERVICES`` names the parts (``catalog,pricing,inventory``) and
``SERVICE_<NAME>_ARN`` the function that answers each;
``MAX_CONCURRENT_CALLS`` caps how many calls run at once (default: all of them).
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from shared.http import BadRequest, HttpError, NotFound, Router
from shared.observability import instrument, logger, metrics

SERVICES: dict[str, str] = {
    name: os.environ[f"SERVICE_{name.upper()}_ARN"] for name in os.environ["SERVICES"].split(",")
}
BUDGET_MS = int(os.environ["BUDGET_MS"])
MAX_CONCURRENT_CALLS = int(os.environ.get("MAX_CONCURRENT_CALLS") or len(SERVICES))
#: Time kept back from the function's own deadline to merge the parts and answer.
ANSWER_RESERVE_MS = 100
PRODUCT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

lambda_client = boto3.client(
    "lambda",
    config=Config(
        connect_timeout=min(BUDGET_MS / 1000, 1.0),
        read_timeout=BUDGET_MS / 1000,
        retries={"total_max_attempts": 1},
        max_pool_connections=max(10, len(SERVICES)),
    ),
)
app = Router()  # not Powertools' resolver: its import alone costs about 0.1x of the 1.4x cold-start budget


class PartFailed(Exception):
    """One service gave no usable part; ``reason`` is what the caller sees, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@app.get("/products/<product_id>")
def get_product(product_id: str) -> dict[str, Any]:
    if not PRODUCT_ID.fullmatch(product_id):
        raise BadRequest("product_id: 1 to 64 letters, digits, '-' or '_', starting with a letter or digit")
    budget_ms = _budget_ms()
    parts, errors = gather({"product_id": product_id}, budget_ms)
    if not parts and errors and all(e["reason"] == "not_found" for e in errors.values()):
        raise NotFound(f"product {product_id} not found")
    if not parts:
        logger.warning("no service answered", extra={"product_id": product_id, "errors": errors})
        raise HttpError(503, f"no service answered for product {product_id} within {budget_ms} ms")
    if errors:
        metrics.add_metric(name="PartialAnswers", unit=MetricUnit.Count, value=1)
    return {
        "product_id": product_id,
        "parts": {name: parts.get(name) for name in SERVICES},
        "errors": errors,
        "complete": not errors,
    }


def gather(request: dict[str, Any], budget_ms: int) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Call every service at once; what answered within ``budget_ms``, and why each other did not.

    The budget is counted on the context's remaining time, the clock the function's own timeout
    runs on, so the budget and the deadline can never disagree.
    """
    context = app.lambda_context
    give_up_at_ms = context.get_remaining_time_in_millis() - budget_ms
    executor = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="aggregate")
    try:
        futures: dict[str, Future[dict[str, Any]]] = {
            name: executor.submit(_call, name, arn, request) for name, arn in SERVICES.items()
        }
        pending = set(futures.values())
        while pending and (left_ms := context.get_remaining_time_in_millis() - give_up_at_ms) > 0:
            pending = wait(pending, timeout=left_ms / 1000).not_done
    finally:
        # Stragglers are not waited for: their read timeout ends them.
        executor.shutdown(wait=False, cancel_futures=True)
    parts: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    for name, future in futures.items():
        if not future.done():
            errors[name] = {"reason": "timeout", "message": f"no answer within {budget_ms} ms"}
            continue
        try:
            parts[name] = future.result()
        except PartFailed as failure:
            errors[name] = {"reason": failure.reason, "message": str(failure)}
        except Exception:
            # A fault here must cost one part, not the whole answer.
            logger.exception("unexpected error calling a service", extra={"service": name})
            errors[name] = {"reason": "failed", "message": "the call failed unexpectedly"}
    for name, error in errors.items():
        logger.warning(
            "part missing", extra={"service": name, "reason": error["reason"], "why": error["message"]}
        )
    return parts, errors


def _call(name: str, arn: str, request: dict[str, Any]) -> dict[str, Any]:
    """One service's part, or :class:`PartFailed` saying why there is none."""
    try:
        response = lambda_client.invoke(FunctionName=arn, Payload=json.dumps(request).encode())
    except (ReadTimeoutError, ConnectTimeoutError):
        raise PartFailed("timeout", "no answer within the budget") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        logger.warning("service call refused", extra={"service": name, "error": str(error)})
        raise PartFailed("unavailable", f"the service could not be called ({code})") from None
    except BotoCoreError as error:
        raise PartFailed(
            "unavailable", f"the service could not be reached ({type(error).__name__})"
        ) from None
    try:
        answer = json.loads(response["Payload"].read() or b"null")
    except ValueError:
        raise PartFailed("failed", "the service answered with something that is not JSON") from None
    if "FunctionError" in response:
        error_type = answer.get("errorType", "Unknown") if isinstance(answer, dict) else "Unknown"
        logger.warning("service failed", extra={"service": name, "answer": answer})
        raise PartFailed("failed", f"the service failed ({error_type})")
    if not _follows_contract(answer):
        raise PartFailed("failed", "the service answered outside its contract")
    status = answer["statusCode"]
    if status == 200:
        return answer["body"]
    message = str(answer.get("message") or "no message")
    if status == 404:
        raise PartFailed("not_found", message)
    raise PartFailed("rejected", f"the service answered {status}: {message}")


def _follows_contract(answer: Any) -> bool:
    """``{"statusCode": 200, "body": {...}}`` or ``{"statusCode": <other>, "message": ...}``."""
    if not isinstance(answer, dict) or not isinstance(answer.get("statusCode"), int):
        return False
    return answer["statusCode"] != 200 or isinstance(answer.get("body"), dict)


def _budget_ms() -> int:
    """The budget, cut short when the function itself has less time left."""
    remaining = app.lambda_context.get_remaining_time_in_millis() - ANSWER_RESERVE_MS
    return max(0, min(BUDGET_MS, remaining))


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
