"""The circuit breaker row's handlers against moto: the rate service, and the API function's
answer to every outcome of the call it makes through the breaker."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.events import api_event

pytestmark = pytest.mark.unit

RATES_FUNCTION = "rates-service"


def create_table(name: str, key: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


# ---------------------------------------------------------------------------------------- rates


@pytest.fixture
def rates(aws, load_handler):
    create_table("rates", "currency")
    boto3.client("dynamodb").put_item(
        TableName="rates", Item={"currency": {"S": "EUR"}, "rate": {"S": "1.0842"}}
    )
    return load_handler("circuit_breaker", "rates", RATES_TABLE_NAME="rates")


def test_the_rate_service_answers_refuses_and_fails_during_an_outage(rates, lambda_context):
    assert rates.handler({"currency": "EUR"}, lambda_context) == {"currency": "EUR", "rate": "1.0842"}
    assert rates.handler({"currency": "XYZ"}, lambda_context) == {
        "statusCode": 404,
        "message": "no rate for currency XYZ",
    }
    assert rates.handler(["EUR"], lambda_context)["statusCode"] == 400
    for missing in ({}, {"currency": ""}, {"currency": 978}):
        assert rates.handler(missing, lambda_context) == {
            "statusCode": 400,
            "message": "currency: required, a string",
        }
    boto3.client("dynamodb").put_item(TableName="rates", Item={"currency": {"S": "OUTAGE"}})
    with pytest.raises(rates.RatesFeedDown, match="the upstream rate feed is unavailable"):
        rates.handler({"currency": "EUR"}, lambda_context)


# ------------------------------------------------------------------------------------------ api


@pytest.fixture
def api(aws, load_handler):
    create_table("circuits", "circuit")
    module = load_handler(
        "circuit_breaker",
        "api",
        RATES_FUNCTION_NAME=RATES_FUNCTION,
        RATES_FUNCTION_TIMEOUT_SECONDS="3",
        CIRCUIT_TABLE_NAME="circuits",
        CIRCUIT_NAME="rates-service",
        CIRCUIT_FAILURE_THRESHOLD="2",
        CIRCUIT_OPEN_SECONDS="30",
    )
    with Stubber(module.lambda_client) as stubber:
        module.stubber = stubber
        yield module
    stubber.assert_no_pending_responses()


def answers(api, payload, *, function_error: str | None = None) -> None:
    body = json.dumps(payload).encode()
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = function_error
    api.stubber.add_response(
        "invoke", response, {"FunctionName": RATES_FUNCTION, "Payload": '{"currency": "EUR"}'}
    )


def get(api, lambda_context, currency: str = "EUR") -> tuple[int, dict, dict]:
    answer = api.handler(api_event("GET", f"/rates/{currency}"), lambda_context)
    return answer["statusCode"], json.loads(answer["body"]), answer["multiValueHeaders"]


def circuit(api):
    return api.breaker.read()


def test_a_rate_passes_through_the_closed_circuit_one_attempt_no_sdk_retry(api, lambda_context):
    answers(api, {"currency": "EUR", "rate": "1.0842"})
    assert get(api, lambda_context)[:2] == (200, {"currency": "EUR", "rate": "1.0842"})
    assert api.lambda_client.meta.config.retries["total_max_attempts"] == 1
    assert api.lambda_client.meta.config.read_timeout == 5
    assert api.lambda_client.meta.config.connect_timeout == 2
    assert circuit(api).version == 0, "a success writes nothing"


def test_a_malformed_currency_is_a_400_before_any_call(api, lambda_context):
    status, body, _ = get(api, lambda_context, "EUR-USD")
    assert (status, body["message"]) == (400, "currency: 1 to 12 letters or digits, such as EUR")


def test_an_unknown_currency_is_the_services_answer_not_a_failure(api, lambda_context):
    for _ in range(3):
        answers(api, {"statusCode": 404, "message": "no rate for currency EUR"})
        assert get(api, lambda_context)[:2] == (
            404,
            {"statusCode": 404, "message": "no rate for currency EUR"},
        )
    assert circuit(api).state == "CLOSED" and circuit(api).failures == 0


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(
            lambda api: answers(api, {"errorType": "RatesFeedDown"}, function_error="Unhandled"), id="fault"
        ),
        pytest.param(lambda api: answers(api, {"rate": 1.08}), id="contract"),
        pytest.param(lambda api: answers(api, "not an object"), id="not-an-object"),
        pytest.param(
            lambda api: api.stubber.add_client_error(
                "invoke", "TooManyRequestsException", http_status_code=429
            ),
            id="throttled",
        ),
    ],
)
def test_each_failure_is_a_502_counted_against_the_circuit(api, lambda_context, outcome):
    outcome(api)
    status, body, _ = get(api, lambda_context)
    assert (status, body["message"]) == (502, "the rate service failed; try again later")
    assert (circuit(api).state, circuit(api).failures) == ("CLOSED", 1)


def answers_raw(api, payload: bytes, *, function_error: str | None = None) -> None:
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))}
    if function_error:
        response["FunctionError"] = function_error
    api.stubber.add_response("invoke", response)


@pytest.mark.parametrize(
    ("payload", "function_error", "reason"),
    [
        (b'{"errorType": "RatesFeedDown", "errorMessage": "down"}', "Unhandled", r"failed \(RatesFeedDown\)"),
        (b'{"errorMessage": "no type"}', "Unhandled", r"failed \(Unknown\)"),
        (b'"Task timed out"', "Unhandled", r"failed \(Unknown\)"),
        (b"<html>bad gateway</html>", None, "answered with something that is not JSON"),
    ],
)
def test_a_failure_says_what_the_service_did(api, payload, function_error, reason):
    answers_raw(api, payload, function_error=function_error)
    with pytest.raises(api.ServiceFailed, match=reason):
        api.fetch_rate("EUR")


def test_an_answer_that_is_not_json_is_a_502_counted_against_the_circuit(api, lambda_context):
    answers_raw(api, b"<html>bad gateway</html>")
    status, body, _ = get(api, lambda_context)
    assert (status, body["message"]) == (502, "the rate service failed; try again later")
    assert (circuit(api).state, circuit(api).failures) == ("CLOSED", 1)


def test_an_open_circuit_answers_503_with_retry_after_and_calls_nothing(
    api, lambda_context, emitted_metrics, monkeypatch
):
    # A frozen clock: the Retry-After must not depend on how fast the machine runs the test.
    monkeypatch.setattr(api.breaker, "_clock", lambda: 1_767_225_600.0)
    for _ in range(2):
        answers(api, {"errorType": "RatesFeedDown"}, function_error="Unhandled")
        get(api, lambda_context)
    assert circuit(api).state == "OPEN"
    assert emitted_metrics() == {"CircuitOpen": 1}, "the transition is a metric to alarm on"
    status, body, headers = get(api, lambda_context)  # no stubbed response: a call would fail the stubber
    assert (status, headers["Retry-After"]) == (503, ["30"])
    assert body == {
        "statusCode": 503,
        "message": "the rate service is unavailable: circuit rates-service is open; retry after 30 s",
    }
    assert emitted_metrics() == {"CallsRefusedFast": 1}


def test_a_circuit_too_contended_to_record_an_outcome_is_a_502_not_a_stack_trace(
    api, lambda_context, monkeypatch, emitted_metrics
):
    from shared.circuit_breaker import CircuitContention

    def contended(decide):
        raise CircuitContention("circuit rates-service: 100 conditional writes in a row lost the race")

    monkeypatch.setattr(api.breaker, "_change", contended)
    status, body, _ = get(api, lambda_context)
    assert (status, body["message"]) == (502, "the rate service failed; try again later")
    assert emitted_metrics() == {"CircuitContention": 1}
