"""The orders and users services' handlers: each reads and writes its own table, routes on the API's
resource so the domain's base path in the event's path changes nothing, and refuses bad input."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.events import api_event

pytestmark = pytest.mark.unit


@pytest.fixture
def services(aws, load_handler):
    for name in ("orders", "users"):
        boto3.client("dynamodb").create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return {
        "orders": load_handler("hosting_microservices", "orders", TABLE_NAME="orders"),
        "users": load_handler("hosting_microservices", "users", TABLE_NAME="users"),
    }


def call(module, context, method, path, *, resource, item_id=None, body=None):
    """A proxy event as API Gateway sends it through the domain: ``path`` carries the base path."""
    event = api_event(method, path, resource=resource, body=body)
    event["pathParameters"] = {"id": item_id} if item_id is not None else None
    answer = module.handler(event, context)
    return answer["statusCode"], json.loads(answer["body"])


def test_an_order_is_placed_and_read_back_under_the_base_path_or_without_it(services, lambda_context):
    orders = services["orders"]
    status, order = call(
        orders, lambda_context, "POST", "/orders", resource="/", body={"sku": "TEA", "quantity": 3}
    )
    assert (status, order["sku"], order["quantity"], order["status"]) == (201, "TEA", 3, "placed")
    mounted = call(
        orders, lambda_context, "GET", f"/orders/{order['id']}", resource="/{id}", item_id=order["id"]
    )
    direct = call(orders, lambda_context, "GET", f"/{order['id']}", resource="/{id}", item_id=order["id"])
    assert mounted == direct == (200, order)
    assert boto3.client("dynamodb").scan(TableName="users")["Items"] == [], (
        "orders write their own table only"
    )


def test_a_user_is_registered_and_read_back(services, lambda_context):
    users = services["users"]
    status, user = call(
        users, lambda_context, "POST", "/users", resource="/", body={"name": "Ada", "email": "a@b.io"}
    )
    assert status == 201
    assert call(
        users, lambda_context, "GET", f"/users/{user['id']}", resource="/{id}", item_id=user["id"]
    ) == (
        200,
        user,
    )


BAD_INPUT = [
    ("orders", {"sku": "TEA"}, "quantity: required"),
    ("orders", {"sku": "TEA", "quantity": 1001}, "quantity: greater than 1000"),
    ("orders", {"sku": "TEA", "quantity": True}, "quantity: expected integer, got boolean"),
    ("orders", {"sku": "TEA", "quantity": 1, "price": 2}, "price: unknown field"),
    ("users", {"name": "Ada", "email": "ab"}, "email: shorter than 3"),
    ("users", {"name": "Ada", "email": "ada@localhost"}, "email: expected an address like name@example.com"),
    ("users", {"name": "", "email": "a@b.io"}, "name: shorter than 1"),
    ("users", "not json", "body: not valid JSON (Expecting value at position 0)"),
]


def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(services, lambda_context):
    for service, body, message in BAD_INPUT:
        status, answer = call(
            services[service], lambda_context, "POST", f"/{service}", resource="/", body=body
        )
        assert (status, answer["message"]) == (400, message), body
    for service in services:
        assert boto3.client("dynamodb").scan(TableName=service)["Items"] == []


def test_an_unknown_id_is_a_404_and_an_unknown_route_too(services, lambda_context):
    status, answer = call(
        services["users"], lambda_context, "GET", "/users/nobody", resource="/{id}", item_id="nobody"
    )
    assert (status, answer["message"]) == (404, "user nobody not found")
    assert (
        call(services["orders"], lambda_context, "DELETE", "/orders/1", resource="/{id}", item_id="1")[0]
        == 404
    )
