"""The items handler: CRUD, pagination, and every way a request can be wrong."""

from __future__ import annotations

import base64
import json
import re

import boto3
import pytest

from tests.events import api_event
from tests.unit.limits import case_id, length_limits, number_limits, refused

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
        ('{"name": "\\ud800", "price_cents": 1}', "name: not valid Unicode"),
        ('{"name": "x", "description": "ok \\udfff", "price_cents": 1}', "description: not valid Unicode"),
        ('{"name": "x", "price_cents": NaN}', "body: not valid JSON (NaN is not a JSON value)"),
        ('{"name": "x", "price_cents": 1e400}', "body: not valid JSON (1e400 is out of range)"),
        ('{"name": "x", "price_cents": ' + "9" * 5000 + "}", "body: not valid JSON"),
        ('{"name": "x", "price_cents": 1, "n": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
        ('{"name": "x", "price_cents": 1, "\\ud800' + "k" * 500 + '": 1}', "\\ud800kkk"),
    ],
)
def test_bad_body_is_400_with_the_reason(items, lambda_context, body, message):
    status, response = call(items, lambda_context, "POST", "/items", body=body)
    assert status == 400
    assert message in response["message"]
    assert not stored_items(), "nothing is written for a bad request"


def token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "\N{SUPERSCRIPT TWO}"}, "limit"),  # a digit to str.isdigit, not to int()
        ({"limit": "9" * 5000}, "limit"),  # more digits than int() converts from text
        ({"limit": "0" * 5000}, "limit"),
        ({"next_token": "!!!"}, "next_token"),
        ({"next_token": token('{"id": ""}')}, "next_token"),  # DynamoDB refuses an empty start key
        ({"next_token": token(json.dumps({"id": "a" * 2049}))}, "next_token"),
        ({"next_token": token('{"id": "\\ud800"}')}, "next_token"),
        ({"next_token": token('{"id": 5}')}, "next_token"),
        ({"next_token": token('{"id": "a", "more": 1}')}, "next_token"),
        ({"next_token": token("[" * 50_000)}, "next_token"),
        ({"next_token": token("\udc80")}, "next_token"),  # not UTF-8 once decoded
        ({"next_token": token('["id"]')}, "next_token"),  # has an "id" member, is no key
        ({"next_token": token('"id"')}, "next_token"),
    ],
)
def test_bad_paging_is_400(items, lambda_context, query, message):
    status, response = call(items, lambda_context, "GET", "/items", query=query)
    assert status == 400 and message in response["message"]


def test_an_id_the_table_cannot_hold_is_400_for_every_verb(items, lambda_context):
    """Moto would answer a GetItem with such a key; DynamoDB refuses it, which would be a 502."""
    good = {"name": "x", "price_cents": 1}
    for method, body in (("GET", None), ("PUT", good), ("DELETE", None)):
        status, response = call(items, lambda_context, method, f"/items/{'a' * 2049}", body=body)
        assert (status, response["message"]) == (400, "id: longer than 2048 bytes in UTF-8"), method
        # Powertools routes only URL-safe characters: anything else is its 404, never a table call.
        for item_id in ("\N{GRINNING FACE}" * 513, "\ud800"):
            status, response = call(items, lambda_context, method, f"/items/{item_id}", body=body)
            assert (status, response["message"]) == (404, "Not found"), method


def test_a_body_over_the_limit_is_413_before_it_is_parsed(items, lambda_context):
    padded = '{"name": "x", "price_cents": 1}' + " " * (256 * 1024)
    status, response = call(items, lambda_context, "POST", "/items", body=padded)
    assert (status, response["message"]) == (413, "body: larger than 262144 bytes")
    assert call(items, lambda_context, "POST", "/items", body=padded[: 256 * 1024])[0] == 201


def test_unknown_ids_are_404_for_every_verb(items, lambda_context):
    good = {"name": "x", "price_cents": 1}
    assert call(items, lambda_context, "GET", "/items/nope")[0] == 404
    assert call(items, lambda_context, "PUT", "/items/nope", body=good)[0] == 404
    assert call(items, lambda_context, "DELETE", "/items/nope")[0] == 404
    assert not stored_items(), "PUT on an unknown id must not create it"


def test_unknown_route_is_404(items, lambda_context):
    assert call(items, lambda_context, "GET", "/widgets")[0] == 404


def test_a_name_may_have_100_characters_not_101(items, lambda_context):
    status, created = call(
        items, lambda_context, "POST", "/items", body={"name": "n" * 100, "price_cents": 1}
    )
    assert (status, created["name"]) == (201, "n" * 100)
    status, response = call(
        items, lambda_context, "POST", "/items", body={"name": "n" * 101, "price_cents": 1}
    )
    assert (status, response["message"]) == (400, "name: longer than 100")
    status, response = call(
        items, lambda_context, "PUT", f"/items/{created['id']}", body={"name": "n" * 101, "price_cents": 1}
    )
    assert (status, response["message"]) == (400, "name: longer than 100")
    assert len(stored_items()) == 1


def test_each_created_item_is_counted_and_nothing_else(items, lambda_context, emitted_metrics):
    for n in range(2):
        call(items, lambda_context, "POST", "/items", body={"name": f"n{n}", "price_cents": n})
    assert emitted_metrics() == {"ItemsCreated": 2}
    call(items, lambda_context, "POST", "/items", body={"name": "", "price_cents": 1})
    call(items, lambda_context, "GET", "/items")
    assert emitted_metrics() == {}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *refused(length_limits("name", 1, 100)),
        *length_limits("description", 0, 1000),
        *number_limits("price_cents", minimum=0, maximum=10**9),
    ],
    ids=case_id,
)
def test_an_item_has_the_limits_its_page_documents(items, lambda_context, field, value, problem):
    body = {"name": "n", "price_cents": 1, field: value}
    status, response = call(items, lambda_context, "POST", "/items", body=body)
    if problem:
        assert (status, response["message"]) == (400, problem)
    else:
        assert (status, response[field]) == (201, value)


def test_a_description_is_optional(items, lambda_context):
    status, created = call(items, lambda_context, "POST", "/items", body={"name": "n", "price_cents": 0})
    assert status == 201 and "description" not in created


@pytest.mark.parametrize(("limit", "expected"), [(None, 20), ("1", 1), ("100", 100)])
def test_a_page_holds_20_items_unless_asked_for_1_to_100(items, lambda_context, limit, expected):
    dynamodb = boto3.client("dynamodb")  # one client: each new one costs tens of milliseconds
    for number in range(101):
        dynamodb.put_item(TableName="items", Item={"id": {"S": f"i-{number:03}"}, "name": {"S": "n"}})
    query = {} if limit is None else {"limit": limit}
    status, page = call(items, lambda_context, "GET", "/items", query=query)
    assert (status, len(page["items"])) == (200, expected) and "next_token" in page
    status, response = call(items, lambda_context, "GET", "/items", query={"limit": "101"})
    assert (status, response["message"]) == (400, "limit: expected an integer from 1 to 100")


def test_an_item_deleted_while_it_is_replaced_is_404_not_recreated(items, lambda_context, monkeypatch):
    monkeypatch.setattr(items.table, "get_item", lambda key, **kwargs: {"created_at": "2026-01-01T00:00:00Z"})
    status, body = call(items, lambda_context, "PUT", "/items/gone", body={"name": "n", "price_cents": 1})
    assert (status, body["message"]) == (404, "item gone not found")
    assert stored_items() == []


def test_an_item_is_stamped_in_utc_to_the_millisecond(items, lambda_context):
    _, created = call(items, lambda_context, "POST", "/items", body={"name": "n", "price_cents": 1})
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"
    assert re.fullmatch(stamp, created["created_at"]) and created["updated_at"] == created["created_at"]
