"""The items handler: CRUD, pagination, and every way a request can be wrong."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.events import api_event

pytestmark = pytest.mark.unit


@pytest.fixture
def items(aws, load_handler):
    table = boto3.client("dynamodb").create_table(
        TableName="items",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert table["TableDescription"]["TableName"] == "items"
    return load_handler("simple_web_service", "items", TABLE_NAME="items")


def stored_items():
    return boto3.client("dynamodb").scan(TableName="items")["Items"]


def call(module, lambda_context, method, path, **kwargs):
    response = module.handler(api_event(method, path, **kwargs), lambda_context)
    body = json.loads(response["body"]) if response["body"] else None
    return response["statusCode"], body


def test_create_then_read_replace_delete(items, lambda_context):
    status, created = call(items, lambda_context, "POST", "/items", body={"name": "tea", "price_cents": 350})
    assert status == 201
    assert created["name"] == "tea" and created["price_cents"] == 350
    item_id = created["id"]

    status, fetched = call(items, lambda_context, "GET", f"/items/{item_id}")
    assert (status, fetched) == (200, created)

    status, replaced = call(
        items, lambda_context, "PUT", f"/items/{item_id}", body={"name": "green tea", "price_cents": 400}
    )
    assert status == 200
    assert replaced["name"] == "green tea" and replaced["created_at"] == created["created_at"]

    status, _ = call(items, lambda_context, "DELETE", f"/items/{item_id}")
    assert status == 204
    status, body = call(items, lambda_context, "GET", f"/items/{item_id}")
    assert status == 404 and item_id in body["message"]


def test_list_pages_through_every_item_once(items, lambda_context):
    created = {
        call(items, lambda_context, "POST", "/items", body={"name": f"n{i}", "price_cents": i})[1]["id"]
        for i in range(7)
    }
    seen: list[str] = []
    query = {"limit": "3"}
    pages = 0
    while True:
        status, page = call(items, lambda_context, "GET", "/items", query=query)
        assert status == 200 and len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if "next_token" not in page:
            break
        query = {"limit": "3", "next_token": page["next_token"]}
    assert sorted(seen) == sorted(created)
    assert pages >= 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"price_cents": 1}, "name: required"),
        ({"name": "", "price_cents": 1}, "name: shorter than 1"),
        ({"name": "x", "price_cents": -1}, "price_cents: less than 0"),
        ({"name": "x", "price_cents": "1"}, "price_cents: expected integer, got string"),
        ({"name": "x", "price_cents": True}, "price_cents: expected integer, got boolean"),
        ({"name": "x", "price_cents": 1, "colour": "red"}, "colour: unknown field"),
        ([1, 2], "body: expected a JSON object, got array"),
        ("{not json", "body: not valid JSON"),
        ("", "body: required"),
    ],
)
def test_bad_body_is_400_with_the_reason(items, lambda_context, body, message):
    status, response = call(items, lambda_context, "POST", "/items", body=body)
    assert status == 400
    assert message in response["message"]
    assert not stored_items(), "nothing is written for a bad request"


@pytest.mark.parametrize(
    ("query", "message"),
    [({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"next_token": "!!!"}, "next_token")],
)
def test_bad_paging_is_400(items, lambda_context, query, message):
    status, response = call(items, lambda_context, "GET", "/items", query=query)
    assert status == 400 and message in response["message"]


def test_unknown_ids_are_404_for_every_verb(items, lambda_context):
    good = {"name": "x", "price_cents": 1}
    assert call(items, lambda_context, "GET", "/items/nope")[0] == 404
    assert call(items, lambda_context, "PUT", "/items/nope", body=good)[0] == 404
    assert call(items, lambda_context, "DELETE", "/items/nope")[0] == 404
    assert not stored_items(), "PUT on an unknown id must not create it"


def test_unknown_route_is_404(items, lambda_context):
    assert call(items, lambda_context, "GET", "/widgets")[0] == 404
