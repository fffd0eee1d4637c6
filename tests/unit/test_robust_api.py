"""The orders API's functions against moto: each route, the quote service, the shipper, and how each fails.

The Lambda client of CreateOrder and ShipOrder is replaced by a stand-in (moto's Lambda needs
Docker); it records each invocation and answers as the test says.
"""

from __future__ import annotations

import io
import json
import re
import sys
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.events import api_event
from tests.unit.limits import case_id, length_limits, number_limits, refused

pytestmark = pytest.mark.unit

QUOTE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:quote"
SHIPPER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shipper"
ORDER = {"customer_id": "c-1", "country": "de", "weight_grams": 2500}


class FakeLambda:
    def __init__(self, answer: Any = None, *, error: str | None = None, function_error: bool = False) -> None:
        self.answer, self.error, self.function_error = answer, error, function_error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **params: Any) -> dict[str, Any]:
        self.calls.append({**params, "Payload": json.loads(params["Payload"])})
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "Rate Exceeded."}}, "Invoke")
        payload = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        response: dict[str, Any] = {"StatusCode": 202 if params.get("InvocationType") == "Event" else 200}
        response["Payload"] = io.BytesIO(payload)
        if self.function_error:
            response["FunctionError"] = "Unhandled"
        return response


@pytest.fixture
def table(aws, monkeypatch):
    monkeypatch.delitem(sys.modules, "orders", raising=False)
    boto3.client("dynamodb").create_table(
        TableName="orders",
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "orders"


def stored() -> list[dict[str, Any]]:
    from shared.dynamodb import from_attributes

    return [from_attributes(i) for i in boto3.client("dynamodb").scan(TableName="orders")["Items"]]


def call(module, lambda_context, method: str, path: str, resource: str, **kwargs) -> tuple[int, dict]:
    response = module.handler(api_event(method, path, resource=resource, **kwargs), lambda_context)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else {}


# ------------------------------------------------------------------------------------- shipping quote


@pytest.fixture
def quote(load_handler):
    return load_handler("robust_api", "shipping_quote")


@pytest.mark.parametrize(
    ("request_", "body"),
    [
        (
            {"country": "US", "weight_grams": 1000},
            {"zone": "domestic", "cost_cents": 499, "delivery_days": 3},
        ),
        (
            {"country": "us", "weight_grams": 1001},
            {"zone": "domestic", "cost_cents": 599, "delivery_days": 3},
        ),
        ({"country": "DE", "weight_grams": 2500}, {"zone": "europe", "cost_cents": 2099, "delivery_days": 7}),
        (
            {"country": "JP", "weight_grams": 30000},
            {"zone": "international", "cost_cents": 13599, "delivery_days": 10},
        ),
    ],
)
def test_quote_prices_by_zone_and_started_kilogram(quote, lambda_context, request_, body):
    assert quote.handler(request_, lambda_context) == {"statusCode": 200, "body": body}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"country": "AQ", "weight_grams": 10}, "country: we do not ship to AQ"),
        ({"country": "DE", "weight_grams": 30001}, "weight_grams: greater than 30000"),
        ({"country": "DEU", "weight_grams": 1}, "country: longer than 2"),
        ({"weight_grams": 1}, "country: required"),
        ("DE", "body: expected a JSON object, got string"),
    ],
)
def test_quote_refuses_what_it_cannot_ship_with_a_400(quote, lambda_context, request_, message):
    assert quote.handler(request_, lambda_context) == {"statusCode": 400, "message": message}


# ------------------------------------------------------------------------------------- POST /orders


@pytest.fixture
def create(table, load_handler, monkeypatch):
    def load(fake: FakeLambda):
        module = load_handler("robust_api", "create_order", TABLE_NAME=table, QUOTE_FUNCTION_NAME=QUOTE_ARN)
        monkeypatch.setattr(module, "lambda_client", fake)
        return module

    return load


QUOTED = {"statusCode": 200, "body": {"zone": "europe", "cost_cents": 2099, "delivery_days": 7}}


def test_an_order_is_quoted_synchronously_then_stored_accepted(create, lambda_context):
    fake = FakeLambda(QUOTED)
    status, order = call(create(fake), lambda_context, "POST", "/orders", "/orders", body=ORDER)
    assert status == 201
    assert order["status"] == "accepted" and order["country"] == "DE"
    assert order["shipping"] == QUOTED["body"]
    assert fake.calls == [
        {
            "FunctionName": QUOTE_ARN,
            "InvocationType": "RequestResponse",
            "Payload": {"country": "de", "weight_grams": 2500},
        }
    ]
    assert stored() == [order]


def test_a_bad_body_is_400_and_the_quote_service_is_not_called(create, lambda_context):
    fake = FakeLambda(QUOTED)
    status, body = call(
        create(fake), lambda_context, "POST", "/orders", "/orders", body={"country": "DE", "weight_grams": 0}
    )
    assert status == 400
    assert body["message"] == "customer_id: required; weight_grams: less than 1"
    assert fake.calls == [] and stored() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"customer_id": "\\ud800", "country": "DE", "weight_grams": 1}', "customer_id: not valid Unicode"),
        ('{"customer_id": "c", "country": "D\\udfff", "weight_grams": 1}', "country: not valid Unicode"),
        ('{"customer_id": "c", "country": "DE", "weight_grams": Infinity}', "body: not valid JSON"),
        (
            '{"customer_id": "c", "country": "DE", "weight_grams": 1, "reference": "\\ud800"}',
            "reference: not valid",
        ),
    ],
)
def test_what_the_table_would_refuse_is_400_before_any_call(create, lambda_context, body, message):
    fake = FakeLambda(QUOTED)
    status, answer = call(create(fake), lambda_context, "POST", "/orders", "/orders", body=body)
    assert status == 400 and message in answer["message"]
    assert fake.calls == [] and stored() == []


def test_a_body_over_the_limit_is_413(create, lambda_context):
    padded = json.dumps(ORDER) + " " * (256 * 1024)
    fake = FakeLambda(QUOTED)
    status, answer = call(create(fake), lambda_context, "POST", "/orders", "/orders", body=padded)
    assert (status, answer["message"]) == (413, "body: larger than 262144 bytes")
    assert fake.calls == []


def test_the_quote_services_refusal_is_the_callers_400(create, lambda_context):
    fake = FakeLambda({"statusCode": 400, "message": "country: we do not ship to AQ"})
    status, body = call(
        create(fake), lambda_context, "POST", "/orders", "/orders", body={**ORDER, "country": "AQ"}
    )
    assert (status, body["message"]) == (400, "country: we do not ship to AQ")
    assert stored() == []


@pytest.mark.parametrize(
    ("fake", "status", "message"),
    [
        (
            FakeLambda(
                {"errorType": "KeyError", "errorMessage": "secret", "stackTrace": []}, function_error=True
            ),
            502,
            "the shipping quote service failed; the order was not stored, try again later",
        ),
        (
            FakeLambda({"statusCode": 200, "body": {"zone": "europe"}}),
            502,
            "the shipping quote service failed",
        ),
        (FakeLambda(b"not json"), 502, "the shipping quote service failed"),
        (FakeLambda(error="AccessDeniedException"), 502, "the shipping quote service failed"),
        (FakeLambda(error="TooManyRequestsException"), 503, "the shipping quote service is busy"),
    ],
    ids=["function-error", "off-contract", "not-json", "denied", "throttled"],
)
def test_a_failing_quote_service_is_a_5xx_with_a_message_and_no_order(
    create, lambda_context, fake, status, message
):
    answer_status, body = call(create(fake), lambda_context, "POST", "/orders", "/orders", body=ORDER)
    assert answer_status == status and body["message"].startswith(message)
    assert "secret" not in json.dumps(body)
    assert stored() == []


# ------------------------------------------------------------------------------------- GET /orders/{id}


def put_order(order_id: str, status: str = "accepted") -> None:
    from shared.dynamodb import to_attributes

    boto3.client("dynamodb").put_item(
        TableName="orders", Item=to_attributes({"order_id": order_id, "customer_id": "c-1", "status": status})
    )


def test_get_reads_an_order_and_404s_an_unknown_one(table, load_handler, lambda_context):
    module = load_handler("robust_api", "get_order", TABLE_NAME=table)
    put_order("o-1")
    resource = "/orders/{order_id}"
    assert call(module, lambda_context, "GET", "/orders/o-1", resource) == (
        200,
        {"order_id": "o-1", "customer_id": "c-1", "status": "accepted"},
    )
    status, body = call(module, lambda_context, "GET", "/orders/nope", resource)
    assert (status, body["message"]) == (404, "order nope not found")
    status, body = call(module, lambda_context, "GET", "/orders/" + "x" * 65, resource)
    assert (status, body["message"]) == (400, "order_id: longer than 64 bytes in UTF-8")


# ------------------------------------------------------------------------------------- POST .../shipment


@pytest.fixture
def ship(table, load_handler, monkeypatch):
    def load(fake: FakeLambda):
        module = load_handler("robust_api", "ship_order", TABLE_NAME=table, SHIPPER_FUNCTION_NAME=SHIPPER_ARN)
        monkeypatch.setattr(module, "lambda_client", fake)
        return module

    return load


SHIPMENT = "/orders/{order_id}/shipment"


def test_shipping_hands_the_order_off_asynchronously_once(ship, lambda_context):
    put_order("o-1")
    fake = FakeLambda(None)
    module = ship(fake)
    assert call(module, lambda_context, "POST", "/orders/o-1/shipment", SHIPMENT) == (
        202,
        {"order_id": "o-1", "status": "shipping"},
    )
    assert fake.calls == [
        {"FunctionName": SHIPPER_ARN, "InvocationType": "Event", "Payload": {"order_id": "o-1"}}
    ]
    assert stored()[0]["status"] == "shipping"
    status, body = call(module, lambda_context, "POST", "/orders/o-1/shipment", SHIPMENT)
    assert (status, body["message"]) == (409, "order o-1 is shipping; only an accepted order can be shipped")
    assert len(fake.calls) == 1


def test_shipping_an_unknown_order_is_404(ship, lambda_context):
    fake = FakeLambda(None)
    status, body = call(ship(fake), lambda_context, "POST", "/orders/nope/shipment", SHIPMENT)
    assert (status, body["message"]) == (404, "order nope not found")
    assert fake.calls == []


def test_shipping_an_id_no_order_can_have_is_400(ship, lambda_context):
    """Moto takes an UpdateItem with a 3 KB key and answers 404; DynamoDB refuses it (a 502)."""
    fake = FakeLambda(None)
    status, body = call(ship(fake), lambda_context, "POST", f"/orders/{'x' * 3000}/shipment", SHIPMENT)
    assert (status, body["message"]) == (400, "order_id: longer than 64 bytes in UTF-8")
    assert fake.calls == []


def test_when_the_shipper_cannot_take_it_the_order_stays_accepted(ship, lambda_context):
    put_order("o-1")
    status, body = call(
        ship(FakeLambda(error="TooManyRequestsException")),
        lambda_context,
        "POST",
        "/orders/o-1/shipment",
        SHIPMENT,
    )
    assert status == 503 and "still accepted" in body["message"]
    assert stored()[0]["status"] == "accepted"


# ------------------------------------------------------------------------------------- the shipper


@pytest.fixture
def shipper(table, load_handler):
    return load_handler("robust_api", "shipper", TABLE_NAME=table)


def test_the_shipper_marks_a_shipping_order_shipped_once(shipper, lambda_context):
    put_order("o-1", "shipping")
    first = shipper.handler({"order_id": "o-1"}, lambda_context)
    assert first["status"] == "shipped" and first["tracking_number"].startswith("TRK")
    [order] = stored()
    assert order["status"] == "shipped" and order["tracking_number"] == first["tracking_number"]
    again = shipper.handler({"order_id": "o-1"}, lambda_context)
    assert again == {"order_id": "o-1", "status": "shipped", "repeated": True}
    assert stored()[0]["tracking_number"] == first["tracking_number"], "a repeated event changes nothing"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda: None, "order o-1 is missing; only a shipping order can ship"),
        (lambda: put_order("o-1", "accepted"), "order o-1 is accepted; only a shipping order can ship"),
    ],
    ids=["missing", "not-handed-off"],
)
def test_an_order_it_cannot_ship_is_an_error_for_lambda_to_retry(shipper, lambda_context, setup, message):
    setup()
    with pytest.raises(shipper.CannotShip, match=message):
        shipper.handler({"order_id": "o-1"}, lambda_context)


def test_a_malformed_event_is_an_error_not_a_silent_drop(shipper, lambda_context):
    with pytest.raises(ValueError, match="order_id: required"):
        shipper.handler({"id": "o-1"}, lambda_context)


# ------------------------------------------------------------------------------------- limits and metrics


@pytest.mark.parametrize(
    ("request_", "body"),
    [
        (
            {"country": "CA", "weight_grams": 1},
            {"zone": "north_america", "cost_cents": 999, "delivery_days": 5},
        ),
        (
            {"country": "MX", "weight_grams": 2001},
            {"zone": "north_america", "cost_cents": 1399, "delivery_days": 5},
        ),
    ],
)
def test_quote_prices_north_america_by_its_own_rates(quote, lambda_context, request_, body):
    assert quote.handler(request_, lambda_context) == {"statusCode": 200, "body": body}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [*refused(length_limits("country", 2, 2)), *number_limits("weight_grams", minimum=1, maximum=30_000)],
    ids=case_id,
)
def test_quote_takes_a_two_letter_country_and_1_to_30000_grams(quote, lambda_context, field, value, problem):
    request_ = {"country": "US", "weight_grams": 1000, field: value}
    answer = quote.handler(request_, lambda_context)
    assert answer == ({"statusCode": 400, "message": problem} if problem else {**answer, "statusCode": 200})


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *length_limits("customer_id", 1, 64),
        *length_limits("country", 2, 2),
        *number_limits("weight_grams", minimum=1, maximum=30_000),
        *length_limits("reference", 0, 100),
    ],
    ids=case_id,
)
def test_an_order_has_the_limits_its_page_documents(create, lambda_context, field, value, problem):
    fake = FakeLambda(QUOTED)
    body = {**ORDER, field: value}
    status, answer = call(create(fake), lambda_context, "POST", "/orders", "/orders", body=body)
    if problem:
        assert (status, answer["message"], fake.calls) == (400, problem, [])
    else:
        assert (status, answer[field]) == (201, value.upper() if field == "country" else value)


def test_an_order_needs_no_reference(create, lambda_context):
    status, order = call(create(FakeLambda(QUOTED)), lambda_context, "POST", "/orders", "/orders", body=ORDER)
    assert status == 201 and "reference" not in order


def test_accepted_handed_off_and_shipped_orders_are_counted_once_each(
    create, ship, shipper, lambda_context, emitted_metrics
):
    _, order = call(create(FakeLambda(QUOTED)), lambda_context, "POST", "/orders", "/orders", body=ORDER)
    assert emitted_metrics() == {"OrdersAccepted": 1}
    call(create(FakeLambda(QUOTED)), lambda_context, "POST", "/orders", "/orders", body={})
    assert emitted_metrics() == {}
    path = f"/orders/{order['order_id']}/shipment"
    module = ship(FakeLambda(None))
    call(module, lambda_context, "POST", path, SHIPMENT)
    assert emitted_metrics() == {"ShipmentsRequested": 1}
    call(module, lambda_context, "POST", path, SHIPMENT)
    assert emitted_metrics() == {}, "a second request hands nothing off"
    shipper.handler({"order_id": order["order_id"]}, lambda_context)
    assert emitted_metrics() == {"OrdersShipped": 1}
    shipper.handler({"order_id": order["order_id"]}, lambda_context)
    assert emitted_metrics() == {}, "a repeated event ships nothing"


@pytest.mark.parametrize(
    ("field", "value", "problem"), refused(length_limits("order_id", 1, 64)), ids=case_id
)
def test_the_shipper_takes_an_order_id_of_1_to_64_characters(shipper, lambda_context, field, value, problem):
    with pytest.raises(ValueError, match=problem):
        shipper.handler({field: value}, lambda_context)


def test_an_order_read_back_shows_whole_numbers_as_it_was_created(
    create, table, load_handler, lambda_context
):
    _, created = call(create(FakeLambda(QUOTED)), lambda_context, "POST", "/orders", "/orders", body=ORDER)
    module = load_handler("robust_api", "get_order", TABLE_NAME=table)
    status, read = call(module, lambda_context, "GET", f"/orders/{created['order_id']}", "/orders/{order_id}")
    assert (status, read) == (200, created)
    assert read["weight_grams"] == 2500 and read["shipping"]["cost_cents"] == 2099


def test_the_quote_call_waits_2_s_longer_than_the_service_runs_and_is_retried_once(table, load_handler):
    module = load_handler(
        "robust_api",
        "create_order",
        TABLE_NAME=table,
        QUOTE_FUNCTION_NAME=QUOTE_ARN,
        QUOTE_FUNCTION_TIMEOUT_SECONDS="4",
    )
    config = module.lambda_client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 6)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_an_order_is_stamped_in_utc_to_the_millisecond_and_shipped_with_a_tracking_number(
    create, shipper, lambda_context
):
    _, order = call(create(FakeLambda(QUOTED)), lambda_context, "POST", "/orders", "/orders", body=ORDER)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", order["created_at"])
    put_order("o-9", "shipping")
    shipped = shipper.handler({"order_id": "o-9"}, lambda_context)
    assert re.fullmatch(r"TRK[0-9A-F]{12}", shipped["tracking_number"])
    stored_order = next(o for o in stored() if o["order_id"] == "o-9")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stored_order["shipped_at"])
