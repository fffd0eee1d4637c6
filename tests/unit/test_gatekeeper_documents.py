"""The gatekeeper's protected backend: everything keyed by the principal the authorizer passed on."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.events import api_event
from tests.unit.limits import case_id, length_limits

pytestmark = pytest.mark.unit


@pytest.fixture
def documents(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="documents",
        AttributeDefinitions=[
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "owner", "KeyType": "HASH"},
            {"AttributeName": "id", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("gatekeeper", "documents", DOCUMENTS_TABLE_NAME="documents")


def call(module, context, method, path, *, principal="alice", body=None):
    event = api_event(method, path, body=body)
    if principal is not None:
        event["requestContext"]["authorizer"] = {"principalId": principal, "principal": principal}
    response = module.handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def test_documents_belong_to_the_authorized_principal(documents, lambda_context):
    status, created = call(
        documents, lambda_context, "POST", "/documents", body={"title": "plan", "text": "x"}
    )
    assert status == 201 and created["owner"] == "alice" and created["title"] == "plan"

    status, listed = call(documents, lambda_context, "GET", "/documents")
    assert status == 200
    assert listed == {"owner": "alice", "documents": [created], "truncated": False}
    assert call(documents, lambda_context, "GET", f"/documents/{created['id']}") == (200, created)


def test_another_principal_neither_sees_nor_fetches_them(documents, lambda_context):
    _, created = call(documents, lambda_context, "POST", "/documents", body={"title": "plan"})
    assert call(documents, lambda_context, "GET", "/documents", principal="bob")[1]["documents"] == []
    status, body = call(documents, lambda_context, "GET", f"/documents/{created['id']}", principal="bob")
    assert status == 404 and created["id"] in body["message"]


def test_a_request_without_an_authorized_principal_is_401(documents, lambda_context):
    status, body = call(documents, lambda_context, "GET", "/documents", principal=None)
    assert status == 401 and "no authorized principal" in body["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "title: required"),
        ({"title": ""}, "title: shorter than 1"),
        ({"title": "t", "owner": "bob"}, "owner: unknown field"),
        ("[1]", "body: expected a JSON object"),
        ('{"title": "\\ud800"}', "title: not valid Unicode"),
        ('{"title": "t", "text": "a\\udfffb"}', "text: not valid Unicode"),
        ('{"title": "t", "text": -Infinity}', "body: not valid JSON"),
        ('{"title": "t"}' + " " * 256 * 1024, "body: larger than 262144 bytes"),
    ],
)
def test_a_bad_document_is_400_and_nothing_is_stored(documents, lambda_context, body, message):
    status, answer = call(documents, lambda_context, "POST", "/documents", body=body)
    assert status == (413 if "larger" in message else 400) and message in answer["message"]
    assert boto3.client("dynamodb").scan(TableName="documents")["Items"] == []


def test_a_document_id_over_the_sort_key_limit_is_400(documents, lambda_context):
    """Moto takes a GetItem with a 2 KB sort key; DynamoDB refuses it, which would be a 502."""
    status, body = call(documents, lambda_context, "GET", f"/documents/{'d' * 1025}")
    assert (status, body["message"]) == (400, "id: longer than 1024 bytes in UTF-8")
    assert call(documents, lambda_context, "GET", f"/documents/{'d' * 1024}")[0] == 404


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [*length_limits("title", 1, 200), *length_limits("text", 0, 10_000)],
    ids=case_id,
)
def test_a_document_has_a_title_of_1_to_200_characters_and_up_to_10000_of_text(
    documents, lambda_context, field, value, problem
):
    status, body = call(documents, lambda_context, "POST", "/documents", body={"title": "t", field: value})
    if problem:
        assert (status, body["message"]) == (400, problem)
    else:
        assert (status, body[field]) == (201, value)


def test_a_listing_shows_50_documents_and_says_when_there_are_more(documents, lambda_context):
    dynamodb = boto3.client("dynamodb")  # one client: each new one costs tens of milliseconds
    for number in range(51):
        dynamodb.put_item(
            TableName="documents", Item={"owner": {"S": "alice"}, "id": {"S": f"d-{number:02}"}}
        )
    status, listed = call(documents, lambda_context, "GET", "/documents")
    assert (status, len(listed["documents"]), listed["truncated"]) == (200, 50, True)


def test_each_created_document_is_counted(documents, lambda_context, emitted_metrics):
    call(documents, lambda_context, "POST", "/documents", body={"title": "plan"})
    assert emitted_metrics() == {"DocumentsCreated": 1}
    call(documents, lambda_context, "POST", "/documents", body={"title": ""})
    assert emitted_metrics() == {}
