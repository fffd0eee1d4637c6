"""The aggregator's three internal services: their contract, their answers, and how they fail."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.unit


def make_table(name: str, *items: dict) -> None:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "product_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "product_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in items:
        client.put_item(TableName=name, Item=item)


@pytest.fixture
def services(aws, load_handler):
    make_table(
        "products",
        {"product_id": {"S": "p-1"}, "name": {"S": "Green tea"}, "category": {"S": "tea"}},
        {"product_id": {"S": "p-2"}, "name": {"S": "Mug"}},
    )
    return load_handler("aggregator", "services", TABLE_NAME="products", LOW_STOCK_THRESHOLD="5")


def test_catalog_describes_a_known_product(services, lambda_context):
    assert services.catalog({"product_id": "p-1"}, lambda_context) == {
        "statusCode": 200,
        "body": {"name": "Green tea", "description": "", "category": "tea"},
    }
    assert services.catalog({"product_id": "p-2"}, lambda_context)["body"]["category"] == "uncategorized"


def test_an_unknown_product_is_404_not_an_error(services, lambda_context):
    assert services.catalog({"product_id": "nope"}, lambda_context) == {
        "statusCode": 404,
        "message": "product nope not found",
    }


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({}, "product_id: required"),
        ({"product_id": 7}, "product_id: expected string, got integer"),
        ({"product_id": ""}, "product_id: shorter than 1"),
        ({"product_id": "p-1", "extra": 1}, "extra: unknown field"),
        (["p-1"], "body: expected a JSON object, got array"),
    ],
)
def test_a_malformed_request_is_400_naming_the_problem(services, lambda_context, request_, message):
    answer = services.catalog(request_, lambda_context)
    assert answer["statusCode"] == 400 and message in answer["message"]


@pytest.fixture
def pricing(aws, load_handler):
    make_table(
        "prices",
        {"product_id": {"S": "full"}, "price_cents": {"N": "350"}},
        {"product_id": {"S": "sale"}, "price_cents": {"N": "333"}, "discount_percent": {"N": "15"}},
        {"product_id": {"S": "free"}, "price_cents": {"N": "999"}, "discount_percent": {"N": "100"}},
        {"product_id": {"S": "corrupt"}, "price_cents": {"N": "100"}, "discount_percent": {"N": "150"}},
    )
    return load_handler("aggregator", "services", TABLE_NAME="prices")


def test_pricing_gives_the_price_a_customer_pays(pricing, lambda_context):
    assert pricing.pricing({"product_id": "full"}, lambda_context)["body"] == {
        "currency": "USD",
        "list_price_cents": 350,
        "discount_percent": 0,
        "price_cents": 350,
    }
    # 333 * 0.85 = 283.05: whole cents, rounded half up.
    assert pricing.pricing({"product_id": "sale"}, lambda_context)["body"]["price_cents"] == 283
    assert pricing.pricing({"product_id": "free"}, lambda_context)["body"]["price_cents"] == 0


def test_a_corrupt_price_record_is_a_fault_not_an_answer(pricing, lambda_context):
    with pytest.raises(ValueError, match="corrupt price record"):
        pricing.pricing({"product_id": "corrupt"}, lambda_context)


@pytest.fixture
def inventory(aws, load_handler):
    make_table(
        "stock",
        {"product_id": {"S": "many"}, "available": {"N": "40"}},
        {"product_id": {"S": "few"}, "available": {"N": "5"}},
        {"product_id": {"S": "none"}, "available": {"N": "0"}},
    )
    return load_handler("aggregator", "services", TABLE_NAME="stock", LOW_STOCK_THRESHOLD="5")


@pytest.mark.parametrize(
    ("product_id", "expected"),
    [
        ("many", {"available": 40, "in_stock": True, "low_stock": False}),
        ("few", {"available": 5, "in_stock": True, "low_stock": True}),
        ("none", {"available": 0, "in_stock": False, "low_stock": False}),
    ],
)
def test_inventory_flags_stock_levels(inventory, lambda_context, product_id, expected):
    assert inventory.inventory({"product_id": product_id}, lambda_context) == {
        "statusCode": 200,
        "body": expected,
    }


def test_an_unreachable_table_is_a_fault_the_caller_sees_as_a_function_error(
    aws, load_handler, lambda_context
):
    services = load_handler("aggregator", "services", TABLE_NAME="missing-table")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        services.inventory({"product_id": "p-1"}, lambda_context)


@pytest.mark.parametrize(
    ("record", "price_cents"),
    [
        ({"price_cents": {"N": "101"}, "discount_percent": {"N": "50"}}, 51),  # 50.5: half rounds up
        ({"price_cents": {"N": "7"}, "discount_percent": {"N": "93"}}, 0),  # 0.49 rounds down
        ({"price_cents": {"N": "0"}}, 0),
    ],
)
def test_a_discounted_price_is_rounded_half_up_to_whole_cents(pricing, lambda_context, record, price_cents):
    boto3.client("dynamodb").put_item(TableName="prices", Item={"product_id": {"S": "p"}, **record})
    assert pricing.pricing({"product_id": "p"}, lambda_context)["body"]["price_cents"] == price_cents


@pytest.mark.parametrize(
    "record",
    [
        {"price_cents": {"N": "-1"}},
        {"price_cents": {"N": "100"}, "discount_percent": {"N": "-1"}},
        {"price_cents": {"N": "100"}, "discount_percent": {"N": "101"}},
    ],
    ids=["negative-price", "negative-discount", "discount-over-100"],
)
def test_a_price_or_discount_out_of_range_is_corrupt(pricing, lambda_context, record):
    boto3.client("dynamodb").put_item(TableName="prices", Item={"product_id": {"S": "p"}, **record})
    with pytest.raises(ValueError, match="corrupt price record"):
        pricing.pricing({"product_id": "p"}, lambda_context)


@pytest.mark.parametrize(("available", "low_stock"), [(1, True), (6, False)])
def test_one_unit_is_in_stock_and_low_stock_is_1_to_the_threshold(
    inventory, lambda_context, available, low_stock
):
    boto3.client("dynamodb").put_item(
        TableName="stock", Item={"product_id": {"S": "p"}, "available": {"N": str(available)}}
    )
    assert inventory.inventory({"product_id": "p"}, lambda_context)["body"] == {
        "available": available,
        "in_stock": True,
        "low_stock": low_stock,
    }


def test_the_low_stock_threshold_is_5_unless_configured(aws, load_handler, lambda_context, monkeypatch):
    make_table("stock", {"product_id": {"S": "p"}, "available": {"N": "5"}})
    monkeypatch.delenv("LOW_STOCK_THRESHOLD", raising=False)
    module = load_handler("aggregator", "services", TABLE_NAME="stock")
    assert module.inventory({"product_id": "p"}, lambda_context)["body"]["low_stock"] is True
    module = load_handler("aggregator", "services", TABLE_NAME="stock", LOW_STOCK_THRESHOLD="4")
    assert module.inventory({"product_id": "p"}, lambda_context)["body"]["low_stock"] is False


@pytest.mark.parametrize(("length", "status"), [(64, 404), (65, 400)])
def test_a_product_id_has_up_to_64_characters(services, lambda_context, length, status):
    assert services.catalog({"product_id": "p" * length}, lambda_context)["statusCode"] == status
