"""The aggregator handler: services called at once, parts merged, every kind of missing part marked.

The Lambda client is replaced by a stand-in that answers each function ARN as the test says, so
the handler's concurrency and time budget run on real threads and real time: a barrier only the
three calls together can pass proves they are in flight at once, and a service that never answers
shows the budget holding.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from tests.events import api_event

pytestmark = pytest.mark.unit

ARNS = {
    name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    for name in ("catalog", "pricing", "inventory")
}
PARTS = {
    "catalog": {"name": "Green tea", "description": "", "category": "tea"},
    "pricing": {"currency": "USD", "list_price_cents": 350, "discount_percent": 0, "price_cents": 350},
    "inventory": {"available": 3, "in_stock": True, "low_stock": True},
}

Behaviour = Callable[[dict[str, Any]], dict[str, Any]]


def answers(status: int = 200, **contract: Any) -> Behaviour:
    return lambda _request: {
        "StatusCode": 200,
        "Payload": io.BytesIO(json.dumps({"statusCode": status, **contract}).encode()),
    }


def part(name: str) -> Behaviour:
    return answers(body=PARTS[name])


def fails(error_type: str) -> Behaviour:
    payload = {"errorMessage": "boom", "errorType": error_type, "stackTrace": ["secret internals"]}
    return lambda _request: {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "Payload": io.BytesIO(json.dumps(payload).encode()),
    }


def refused(code: str) -> Behaviour:
    def call(_request: dict[str, Any]) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": code, "Message": "Rate Exceeded."}}, "Invoke")

    return call


def read_timeout(_request: dict[str, Any]) -> dict[str, Any]:
    raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")


def raw(payload: bytes) -> Behaviour:
    return lambda _request: {"StatusCode": 200, "Payload": io.BytesIO(payload)}


class FakeLambda:
    """Answers ``invoke`` per function ARN, recording each request and the thread it came on."""

    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        self.behaviours = behaviours
        self.requests: dict[str, dict[str, Any]] = {}
        self.threads: set[int] = set()

    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        name = FunctionName.rsplit(":", 1)[-1]
        self.requests[name] = json.loads(Payload)
        self.threads.add(threading.get_ident())
        return self.behaviours[name](self.requests[name])


@dataclass
class Context:
    """Lambda's context, its remaining time counting down in real time from the handler's first look."""

    remaining_ms: int = 10_000
    function_name: str = "aggregator"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:aggregator"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    started: float | None = None

    def get_remaining_time_in_millis(self) -> int:
        if self.started is None:
            self.started = time.monotonic()
        return max(0, self.remaining_ms - int((time.monotonic() - self.started) * 1000))


CONFIG = {"SERVICES": ",".join(ARNS), **{f"SERVICE_{name.upper()}_ARN": arn for name, arn in ARNS.items()}}


@pytest.fixture
def load(load_handler, monkeypatch):
    def start(budget_ms: int = 5000, **behaviours: Behaviour):
        module = load_handler("aggregator", "aggregator", BUDGET_MS=str(budget_ms), **CONFIG)
        fake = FakeLambda({name: behaviours.get(name, part(name)) for name in ARNS})
        monkeypatch.setattr(module, "lambda_client", fake)
        return module, fake

    return start


def get(module, product_id: str = "p-1", context: Context | None = None) -> tuple[int, dict[str, Any]]:
    event = api_event("GET", f"/products/{product_id}", resource="/products/{product_id}")
    response = module.handler(event, context or Context())
    return response["statusCode"], json.loads(response["body"])


def test_three_answers_merge_into_one_complete_response(load):
    module, fake = load()
    status, body = get(module)
    assert status == 200
    assert body == {"product_id": "p-1", "parts": PARTS, "errors": {}, "complete": True}
    assert fake.requests == {name: {"product_id": "p-1"} for name in ARNS}


def test_the_calls_are_in_flight_at_the_same_time(load):
    """Each call waits at a barrier only all three together can pass; one after another, none would."""
    barrier = threading.Barrier(len(ARNS), timeout=5)

    def meets_the_others(name: str) -> Behaviour:
        def call(request: dict[str, Any]) -> dict[str, Any]:
            barrier.wait()
            return part(name)(request)

        return call

    module, fake = load(budget_ms=10_000, **{name: meets_the_others(name) for name in ARNS})
    status, body = get(module)
    assert (status, body["complete"]) == (200, True)
    assert len(fake.threads) == len(ARNS)


def test_a_service_that_misses_the_budget_costs_its_part_and_no_more_time(load):
    released = threading.Event()

    def never_in_time(request: dict[str, Any]) -> dict[str, Any]:
        released.wait(timeout=10)
        return part("pricing")(request)

    module, _ = load(budget_ms=150, pricing=never_in_time)
    started = time.monotonic()
    try:
        status, body = get(module)
        elapsed = time.monotonic() - started
    finally:
        released.set()
    assert status == 200
    assert body["parts"] == {**PARTS, "pricing": None}
    assert body["errors"] == {"pricing": {"reason": "timeout", "message": "no answer within 150 ms"}}
    assert body["complete"] is False
    assert elapsed < 2, f"the answer waited {elapsed:.2f}s for a budget of 0.15s"


def test_the_budget_shrinks_to_the_time_the_function_has_left(load):
    released = threading.Event()

    def never_in_time(request: dict[str, Any]) -> dict[str, Any]:
        released.wait(timeout=10)
        return part("inventory")(request)

    module, _ = load(budget_ms=5000, inventory=never_in_time)
    try:
        status, body = get(module, context=Context(remaining_ms=180))
    finally:
        released.set()
    assert status == 200
    assert body["errors"]["inventory"]["message"] == "no answer within 80 ms"


@pytest.mark.parametrize(
    ("behaviour", "reason", "message"),
    [
        (fails("ClientError"), "failed", "the service failed (ClientError)"),
        (
            refused("TooManyRequestsException"),
            "unavailable",
            "the service could not be called (TooManyRequestsException)",
        ),
        (
            refused("AccessDeniedException"),
            "unavailable",
            "the service could not be called (AccessDeniedException)",
        ),
        (read_timeout, "timeout", "no answer within the budget"),
        (answers(404, message="product p-1 not found"), "not_found", "product p-1 not found"),
        (
            answers(400, message="product_id: required"),
            "rejected",
            "the service answered 400: product_id: required",
        ),
        (raw(b"<html>"), "failed", "the service answered with something that is not JSON"),
        (raw(b'{"price": 1}'), "failed", "the service answered outside its contract"),
        (answers(200, body="not an object"), "failed", "the service answered outside its contract"),
    ],
    ids=[
        "function-error",
        "throttled",
        "denied",
        "read-timeout",
        "not-found",
        "rejected",
        "not-json",
        "off-contract",
        "bad-body",
    ],
)
def test_one_failing_service_gives_a_200_with_that_part_marked(load, behaviour, reason, message):
    module, _ = load(pricing=behaviour)
    status, body = get(module)
    assert status == 200
    assert body["parts"] == {**PARTS, "pricing": None}
    assert body["errors"] == {"pricing": {"reason": reason, "message": message}}
    assert "secret internals" not in json.dumps(body), "a service's stack trace never reaches the caller"


def test_an_unexpected_fault_in_one_call_costs_only_that_part(load):
    def broken(_request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("bug in the transport")

    module, _ = load(catalog=broken)
    status, body = get(module)
    assert status == 200
    assert body["errors"] == {"catalog": {"reason": "failed", "message": "the call failed unexpectedly"}}


def test_when_every_service_says_not_found_the_product_is_404(load):
    missing = answers(404, message="product p-9 not found")
    module, _ = load(catalog=missing, pricing=missing, inventory=missing)
    status, body = get(module, "p-9")
    assert (status, body["message"]) == (404, "product p-9 not found")


def test_when_no_service_answers_it_is_503_never_500(load):
    module, _ = load(
        catalog=fails("KeyError"), pricing=refused("TooManyRequestsException"), inventory=read_timeout
    )
    status, body = get(module)
    assert status == 503
    assert body["message"] == "no service answered for product p-1 within 5000 ms"


@pytest.mark.parametrize("product_id", ["-leading-dash", "x" * 65, "semi;colon", "%20"])
def test_a_malformed_product_id_is_400_and_calls_no_service(load, product_id):
    module, fake = load()
    status, body = get(module, product_id)
    assert status == 400 and body["message"].startswith("product_id:")
    assert fake.requests == {}


def test_the_sdk_client_gives_up_at_the_budget_and_never_retries(load_handler):
    module = load_handler("aggregator", "aggregator", BUDGET_MS="750", **CONFIG)
    config = module.lambda_client.meta.config
    assert config.read_timeout == 0.75
    assert config.connect_timeout == 0.75
    assert config.retries["total_max_attempts"] == 1


def test_max_concurrent_calls_caps_the_threads(load_handler, monkeypatch):
    module = load_handler("aggregator", "aggregator", BUDGET_MS="1000", MAX_CONCURRENT_CALLS="1", **CONFIG)
    fake = FakeLambda({name: part(name) for name in ARNS})
    monkeypatch.setattr(module, "lambda_client", fake)
    assert get(module)[1]["complete"] is True
    assert len(fake.threads) == 1


def test_a_partial_answer_is_counted_and_a_complete_one_is_not(load, emitted_metrics):
    module, _ = load()
    get(module)
    assert emitted_metrics() == {}
    module, _ = load(pricing=fails("ClientError"))
    get(module)
    assert emitted_metrics() == {"PartialAnswers": 1}


def test_a_product_id_of_64_characters_is_asked_for(load):
    module, fake = load()
    assert get(module, "x" * 64)[0] == 200
    assert fake.requests["catalog"] == {"product_id": "x" * 64}


def test_not_found_by_some_and_failed_by_the_others_is_503_not_404(load):
    module, _ = load(
        catalog=answers(404, message="product p-1 not found"), pricing=read_timeout, inventory=read_timeout
    )
    assert get(module)[0] == 503


def test_the_connect_timeout_is_at_most_one_second_and_the_pool_fits_the_calls(load_handler):
    config = load_handler("aggregator", "aggregator", BUDGET_MS="5000", **CONFIG).lambda_client.meta.config
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (1.0, 5.0, 10)


def test_an_unreachable_service_costs_its_part_with_the_reason(load):
    def unreachable(_request: dict[str, Any]) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    module, _ = load(inventory=unreachable)
    status, body = get(module)
    assert status == 200
    assert body["errors"] == {
        "inventory": {
            "reason": "unavailable",
            "message": "the service could not be reached (EndpointConnectionError)",
        }
    }


def test_with_no_time_left_the_budget_is_zero_and_no_part_is_waited_for(load):
    released = threading.Event()

    def slow(request: dict[str, Any]) -> dict[str, Any]:
        released.wait(timeout=10)
        return part("catalog")(request)

    module, _ = load(catalog=slow, pricing=slow, inventory=slow)
    try:
        status, body = get(module, context=Context(remaining_ms=50))
    finally:
        released.set()
    assert (status, body["message"]) == (503, "no service answered for product p-1 within 0 ms")


def test_calls_still_queued_at_the_budget_are_cancelled_not_made_later(load_handler, monkeypatch):
    """With one call at a time, the calls queued behind one that missed the budget are never made."""
    module = load_handler("aggregator", "aggregator", BUDGET_MS="100", MAX_CONCURRENT_CALLS="1", **CONFIG)
    released = threading.Event()

    def slow(request: dict[str, Any]) -> dict[str, Any]:
        released.wait(timeout=10)
        return part("catalog")(request)

    fake = FakeLambda({"catalog": slow, "pricing": part("pricing"), "inventory": part("inventory")})
    monkeypatch.setattr(module, "lambda_client", fake)
    status, _ = get(module)
    released.set()
    for thread in threading.enumerate():
        if thread.name.startswith("aggregate"):
            thread.join(timeout=5)
    assert status == 503
    assert set(fake.requests) == {"catalog"}
