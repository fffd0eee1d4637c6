"""The quote service against moto, and its caller's mapping of every answer the Lambda API can give."""

from __future__ import annotations

import io
import json
import sys

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.unit.limits import case_id, length_limits, number_limits, refused

pytestmark = pytest.mark.unit

SERVICE = "quote-service"


@pytest.fixture(autouse=True)
def fresh_contract(monkeypatch):
    """``contract`` is a top-level module of this pattern's folder: load ours, not another's."""
    monkeypatch.delitem(sys.modules, "contract", raising=False)


@pytest.fixture
def service(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="prices",
        AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    price("A-1", 999)
    return load_handler("internal_api", "service", PRICES_TABLE_NAME="prices")


def price(sku: str, cents, **extra) -> None:
    item = {"sku": {"S": sku}, "unit_price_cents": {"N": str(cents)}, **extra}
    boto3.client("dynamodb").put_item(TableName="prices", Item=item)


def test_service_quotes_a_known_sku(service, lambda_context):
    assert service.handler({"sku": "A-1", "quantity": 3}, lambda_context) == {
        "sku": "A-1",
        "quantity": 3,
        "unit_price_cents": 999,
        "total_cents": 2997,
        "currency": "USD",
    }


def test_service_keeps_the_currency_of_the_price(service, lambda_context):
    price("E-1", 500, currency={"S": "EUR"})
    assert service.handler({"sku": "E-1", "quantity": 1}, lambda_context)["currency"] == "EUR"


def test_service_refuses_an_unknown_sku_with_its_own_error_type(service, lambda_context):
    from contract import UnknownSku

    with pytest.raises(UnknownSku, match="no price for sku 'Z-9'"):
        service.handler({"sku": "Z-9", "quantity": 1}, lambda_context)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"sku": "A-1"}, "quantity: required"),
        ({"sku": "A-1", "quantity": 0}, "quantity: less than 1"),
        ({"sku": "A-1", "quantity": True}, "quantity: expected integer, got boolean"),
        ({"sku": "A-1", "quantity": 1, "discount": 5}, "discount: unknown field"),
        (["A-1"], "body: expected a JSON object, got array"),
    ],
)
def test_service_refuses_a_request_that_breaks_the_contract(service, lambda_context, request_, message):
    from contract import InvalidQuoteRequest

    with pytest.raises(InvalidQuoteRequest, match=message):
        service.handler(request_, lambda_context)


def test_service_will_not_answer_outside_its_contract(service, lambda_context):
    """A broken price row is a fault (not a refusal), so the caller does not pass it off as an answer."""
    from contract import SERVICE_ERRORS
    from shared.validation import InvalidInput

    price("BAD", "-5")
    with pytest.raises(InvalidInput, match="unit_price_cents: less than 0") as raised:
        service.handler({"sku": "BAD", "quantity": 1}, lambda_context)
    assert type(raised.value).__name__ not in SERVICE_ERRORS


# --------------------------------------------------------------------------------------------- caller


@pytest.fixture
def caller(load_handler):
    module = load_handler(
        "internal_api", "caller", QUOTE_FUNCTION_NAME=SERVICE, QUOTE_FUNCTION_TIMEOUT_SECONDS="7"
    )
    with Stubber(module.lambda_client) as stubber:
        module.stubber = stubber
        yield module
    stubber.assert_no_pending_responses()


def answers(caller, payload, *, function_error: str | None = None, expected: dict | None = None) -> None:
    body = json.dumps(payload).encode()
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = function_error
    params = None
    if expected is not None:
        params = {
            "FunctionName": SERVICE,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(expected).encode(),
        }
    caller.stubber.add_response("invoke", response, params)


def quote(sku: str, quantity: int, unit: int, currency: str = "USD") -> dict:
    return {
        "sku": sku,
        "quantity": quantity,
        "unit_price_cents": unit,
        "total_cents": unit * quantity,
        "currency": currency,
    }


def cart(*lines) -> dict:
    return {"items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}


def test_caller_prices_each_line_through_the_service(caller, lambda_context):
    answers(caller, quote("A-1", 2, 999), expected={"sku": "A-1", "quantity": 2})
    answers(caller, quote("E-1", 1, 500, "EUR"), expected={"sku": "E-1", "quantity": 1})
    answers(caller, quote("B-2", 3, 100), expected={"sku": "B-2", "quantity": 3})
    result = caller.handler(cart(("A-1", 2), ("E-1", 1), ("B-2", 3)), lambda_context)
    assert result["statusCode"] == 200
    assert result["cart"]["totals"] == {"USD": 2298, "EUR": 500}
    assert [line["sku"] for line in result["cart"]["lines"]] == ["A-1", "E-1", "B-2"]


def test_caller_waits_longer_than_the_service_may_run(caller):
    assert caller.lambda_client.meta.config.read_timeout == 9


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "items: required"),
        ({"items": []}, "items: shorter than 1"),
        (
            cart(("A-1", 1), ("", 2), ("C-3", 0)),
            "items[1]: sku: shorter than 1; items[2]: quantity: less than 1",
        ),
        ({"items": [{"sku": "A-1", "quantity": 1}] * 21}, "items: longer than 20"),
    ],
)
def test_caller_refuses_a_bad_cart_before_calling_anything(caller, lambda_context, event, message):
    result = caller.handler(event, lambda_context)
    assert result == {"statusCode": 400, "error": {"code": "InvalidCart", "message": message}}


@pytest.mark.parametrize(
    ("error_type", "status", "code"),
    [("UnknownSku", 404, "UnknownProduct"), ("InvalidQuoteRequest", 400, "InvalidCart")],
)
def test_caller_maps_the_services_refusals_to_its_own_errors(
    caller, lambda_context, error_type, status, code
):
    answers(
        caller, {"errorType": error_type, "errorMessage": "the service's words"}, function_error="Unhandled"
    )
    result = caller.handler(cart(("A-1", 1)), lambda_context)
    assert result == {"statusCode": status, "error": {"code": code, "message": "the service's words"}}


@pytest.mark.parametrize(
    "payload",
    [
        {"errorType": "KeyError", "errorMessage": "'unit_price_cents'", "stackTrace": ["secret"]},
        {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"},
        "not an error object",
    ],
)
def test_a_service_fault_is_a_502_that_shows_nothing_of_the_service(caller, lambda_context, payload):
    answers(caller, payload, function_error="Unhandled")
    result = caller.handler(cart(("A-1", 1)), lambda_context)
    assert result == {
        "statusCode": 502,
        "error": {"code": "PricingFailed", "message": "the pricing service failed; try again later"},
    }


@pytest.mark.parametrize(
    "payload",
    [
        {**quote("A-1", 1, 999), "total_cents": -1},
        {k: v for k, v in quote("A-1", 1, 999).items() if k != "currency"},
        None,
    ],
    ids=["negative-total", "no-currency", "null"],
)
def test_an_answer_that_breaks_the_contract_is_not_trusted(caller, lambda_context, payload):
    answers(caller, payload)
    assert caller.handler(cart(("A-1", 1)), lambda_context)["error"]["code"] == "PricingFailed"


@pytest.mark.parametrize(
    ("code", "http", "status", "mapped"),
    [
        ("TooManyRequestsException", 429, 503, "PricingBusy"),
        ("AccessDeniedException", 403, 502, "PricingUnavailable"),
        ("ResourceNotFoundException", 404, 502, "PricingUnavailable"),
    ],
)
def test_a_failed_call_becomes_the_callers_own_error(caller, lambda_context, code, http, status, mapped):
    caller.stubber.add_client_error("invoke", service_error_code=code, http_status_code=http)
    result = caller.handler(cart(("A-1", 1)), lambda_context)
    assert result["statusCode"] == status and result["error"]["code"] == mapped
    assert code not in result["error"]["message"], "the Lambda API's error stays in the logs"


def test_the_first_refusal_stops_the_cart(caller, lambda_context):
    answers(
        caller,
        {"errorType": "UnknownSku", "errorMessage": "no price for sku 'Z-9'"},
        function_error="Unhandled",
    )
    result = caller.handler(cart(("Z-9", 1), ("A-1", 1)), lambda_context)
    assert result["statusCode"] == 404, "the second line is never priced (the stubber has no answer for it)"


# --------------------------------------------------------------------------------------------- limits and metrics


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [*length_limits("sku", 1, 64), *number_limits("quantity", minimum=1, maximum=1000)],
    ids=case_id,
)
def test_a_quote_request_takes_a_sku_of_1_to_64_characters_and_1_to_1000_units(
    service, lambda_context, field, value, problem
):
    from contract import InvalidQuoteRequest

    request_ = {"sku": "A-1", "quantity": 1, field: value}
    if problem:
        with pytest.raises(InvalidQuoteRequest, match=problem):
            service.handler(request_, lambda_context)
    else:
        price(request_["sku"], 2)
        assert service.handler(request_, lambda_context)["total_cents"] == 2 * request_["quantity"]


def test_the_service_counts_quotes_served_and_refused(service, lambda_context, emitted_metrics):
    from contract import UnknownSku

    service.handler({"sku": "A-1", "quantity": 1}, lambda_context)
    assert emitted_metrics() == {"QuotesServed": 1}
    with pytest.raises(UnknownSku):
        service.handler({"sku": "Z-9", "quantity": 1}, lambda_context)
    assert emitted_metrics() == {"QuotesRefused": 1}


def test_a_cart_of_20_lines_is_priced(caller, lambda_context):
    for _ in range(20):
        answers(caller, quote("A-1", 1, 5))
    result = caller.handler(cart(*[("A-1", 1)] * 20), lambda_context)
    assert (result["statusCode"], result["cart"]["totals"]) == (200, {"USD": 100})


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *refused(length_limits("currency", 3, 3)),
        *refused(number_limits("unit_price_cents", minimum=0)),
        *refused(number_limits("total_cents", minimum=0)),
        *refused(number_limits("quantity", minimum=1, maximum=1000)),
    ],
    ids=case_id,
)
def test_an_answer_outside_the_contracts_limits_is_not_trusted(caller, lambda_context, field, value, problem):
    answers(caller, {**quote("A-1", 1, 5), field: value})
    result = caller.handler(cart(("A-1", 1)), lambda_context)
    assert (result["statusCode"], result["error"]["code"]) == (502, "PricingFailed")


def test_a_free_line_is_within_the_contract(caller, lambda_context):
    answers(caller, quote("A-1", 1000, 0))
    result = caller.handler(cart(("A-1", 1000)), lambda_context)
    assert (result["statusCode"], result["cart"]["totals"]) == (200, {"USD": 0})


def test_the_caller_counts_carts_priced_and_refused(caller, lambda_context, emitted_metrics):
    answers(caller, quote("A-1", 1, 5))
    caller.handler(cart(("A-1", 1)), lambda_context)
    assert emitted_metrics() == {"CartsPriced": 1}
    caller.handler({"items": []}, lambda_context)
    assert emitted_metrics() == {"CartsRefused": 1}


def test_a_price_of_a_fraction_of_a_cent_is_a_fault_naming_the_field(service, lambda_context):
    from shared.validation import InvalidInput

    price("F-1", "9.5")
    with pytest.raises(InvalidInput, match="unit_price_cents: expected integer, got Decimal"):
        service.handler({"sku": "F-1", "quantity": 1}, lambda_context)


def test_caller_connects_within_2_s_and_makes_at_most_3_attempts(caller):
    """botocore's ``max_attempts`` counts retries: 2 of them, 3 attempts in all."""
    config = caller.lambda_client.meta.config
    assert config.connect_timeout == 2
    assert (config.retries["mode"], config.retries["total_max_attempts"]) == ("standard", 3)


def test_a_call_that_cannot_reach_the_service_is_a_502_not_a_function_error(
    caller, lambda_context, monkeypatch
):
    """A connection failure or a read timeout is a BotoCoreError, not a ClientError."""
    from botocore.exceptions import ReadTimeoutError

    def timed_out(**_):
        raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    monkeypatch.setattr(caller.lambda_client, "invoke", timed_out)
    result = caller.handler(cart(("A-1", 1)), lambda_context)
    assert result["statusCode"] == 502 and result["error"]["code"] == "PricingUnavailable"
