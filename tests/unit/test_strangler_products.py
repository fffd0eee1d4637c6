"""The new products service behind the strangler facade, against moto."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.events import api_event

pytestmark = pytest.mark.unit


@pytest.fixture
def products(aws, load_handler):
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="products",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for product_id, name, price in (("p-2", "kettle", 2500), ("p-1", "teapot", 1800)):
        client.put_item(
            TableName="products",
            Item={"id": {"S": product_id}, "name": {"S": name}, "price_cents": {"N": str(price)}},
        )
    return load_handler("strangler", "products", PRODUCTS_TABLE_NAME="products")


def call(module, context, method, path, resource=None):
    response = module.handler(api_event(method, path, resource=resource), context)
    return response["statusCode"], json.loads(response["body"])


def test_a_product_is_read_from_the_new_service_table(products, lambda_context):
    assert call(products, lambda_context, "GET", "/products/p-1", "/products/{id}") == (
        200,
        {"id": "p-1", "name": "teapot", "price_cents": 1800},
    )


def test_an_unknown_product_is_404_naming_it(products, lambda_context):
    status, body = call(products, lambda_context, "GET", "/products/p-9", "/products/{id}")
    assert status == 404 and body["message"] == "product p-9 not found"


@pytest.mark.parametrize(
    ("product_id", "status"), [("x" * 2048, 404), ("x" * 2049, 400), ("\u00e9" * 1025, 400)]
)
def test_an_id_over_dynamodbs_key_limit_is_400_naming_it(products, lambda_context, product_id, status):
    answer = call(products, lambda_context, "GET", f"/products/{product_id}", "/products/{id}")
    assert answer[0] == status
    if status == 400:
        assert answer[1]["message"] == "product_id: longer than 2048 bytes in UTF-8"


def test_other_numbers_of_an_item_are_json_numbers(products, lambda_context):
    boto3.client("dynamodb").put_item(
        TableName="products",
        Item={"id": {"S": "p-3"}, "price_cents": {"N": "10"}, "weight_kg": {"N": "0.5"}, "stock": {"N": "7"}},
    )
    assert call(products, lambda_context, "GET", "/products/p-3", "/products/{id}") == (
        200,
        {"id": "p-3", "price_cents": 10, "weight_kg": 0.5, "stock": 7},
    )


def test_the_list_is_sorted_by_id(products, lambda_context):
    status, body = call(products, lambda_context, "GET", "/products")
    assert status == 200 and [p["id"] for p in body["products"]] == ["p-1", "p-2"]
    assert body["truncated"] is False


def test_a_route_the_service_does_not_serve_is_a_404_naming_it_not_a_crash(products, lambda_context):
    status, body = call(products, lambda_context, "DELETE", "/products/p-1", "/products/{id}")
    assert (status, body) == (404, {"statusCode": 404, "message": "Not found"})


def test_a_list_holds_50_products_and_says_when_there_are_more(products, lambda_context):
    client = boto3.client("dynamodb")
    for number in range(49):
        client.put_item(TableName="products", Item={"id": {"S": f"q-{number:02}"}})
    status, body = call(products, lambda_context, "GET", "/products")
    assert (status, len(body["products"]), body["truncated"]) == (200, 50, True)
