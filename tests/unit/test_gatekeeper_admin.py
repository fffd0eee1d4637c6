"""The gatekeeper's admin API: add, read and revoke principals; the operator's first principal."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import boto3
import pytest

from tests.events import api_event

pytestmark = pytest.mark.unit


@pytest.fixture
def admin(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="principals",
        AttributeDefinitions=[{"AttributeName": "principal_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "principal_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("gatekeeper", "admin", PRINCIPALS_TABLE_NAME="principals", CACHE_TTL_SECONDS="300")


def call(module, context, method, path, *, body=None, caller="ops"):
    event = api_event(method, path, body=body)
    event["requestContext"]["authorizer"] = {"principalId": caller, "principal": caller}
    response = module.handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def stored(principal_id):
    item = boto3.client("dynamodb").get_item(
        TableName="principals", Key={"principal_id": {"S": principal_id}}
    )
    return item.get("Item")


def test_adding_a_principal_answers_its_token_once_and_stores_only_a_hash(admin, lambda_context):
    status, body = call(
        admin,
        lambda_context,
        "POST",
        "/admin/principals",
        body={"principal_id": "alice", "permissions": ["GET /documents"]},
    )
    assert status == 201
    assert body["principal_id"] == "alice" and body["permissions"] == ["GET /documents"]
    assert body["created_by"] == "ops"
    principal, secret = body["token"].split(".", 1)
    assert principal == "alice" and len(secret) == 43
    item = stored("alice")
    assert item["secret_hash"]["S"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(item)
    assert "secret_hash" not in body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"permissions": ["GET /documents"]}, "principal_id: required"),
        ({"principal_id": "Alice", "permissions": ["GET /documents"]}, "principal_id: lowercase letters"),
        ({"principal_id": "a.b", "permissions": ["GET /documents"]}, "principal_id: lowercase letters"),
        ({"principal_id": "alice", "permissions": []}, "permissions: shorter than 1"),
        (
            {"principal_id": "alice", "permissions": ["GET documents"]},
            "permissions[0]: 'GET documents' is not",
        ),
        ({"principal_id": "alice", "permissions": ["FETCH /documents"]}, "permissions[0]"),
        ({"principal_id": "alice", "permissions": [7]}, "permissions[0]: 7 is not a permission"),
        ({"principal_id": "alice", "permissions": ["GET /x"] * 51}, "permissions: at most 50"),
        ({"principal_id": "alice", "permissions": ["GET /x"], "admin": True}, "admin: unknown field"),
        ({"principal_id": "alice\n", "permissions": ["GET /x"]}, "principal_id: lowercase letters"),
        ({"principal_id": "alice", "permissions": ["GET /x\n"]}, "permissions[0]: 'GET /x\\n' is not"),
        ({"principal_id": "alice", "permissions": ["GET /" + "x" * 200]}, "permissions[0]: longer than 200"),
        ({"principal_id": "alice", "permissions": ["GET /\ud800"]}, "permissions: not valid Unicode"),
        ('{"principal_id": "alice", "permissions": NaN}', "body: not valid JSON"),
    ],
)
def test_a_bad_principal_is_400_naming_the_problem_and_stores_nothing(admin, lambda_context, body, message):
    status, answer = call(admin, lambda_context, "POST", "/admin/principals", body=body)
    assert status == 400 and message in answer["message"]
    assert boto3.client("dynamodb").scan(TableName="principals")["Items"] == []


def test_a_taken_principal_id_is_409_and_keeps_the_first_token(admin, lambda_context):
    new = {"principal_id": "alice", "permissions": ["GET /documents"]}
    assert call(admin, lambda_context, "POST", "/admin/principals", body=new)[0] == 201
    before = stored("alice")
    status, body = call(admin, lambda_context, "POST", "/admin/principals", body=new)
    assert status == 409 and "alice already exists" in body["message"]
    assert stored("alice") == before


def test_reading_a_principal_shows_its_permissions_never_its_hash(admin, lambda_context):
    call(
        admin,
        lambda_context,
        "POST",
        "/admin/principals",
        body={"principal_id": "bob", "permissions": ["GET /documents"]},
    )
    status, body = call(admin, lambda_context, "GET", "/admin/principals/bob")
    assert status == 200
    assert set(body) == {"principal_id", "permissions", "created_at", "created_by"}
    assert call(admin, lambda_context, "GET", "/admin/principals/nobody")[0] == 404


def test_revoking_keeps_the_principal_and_says_when_cached_access_ends(admin, lambda_context):
    call(
        admin,
        lambda_context,
        "POST",
        "/admin/principals",
        body={"principal_id": "bob", "permissions": ["GET /documents"]},
    )
    status, body = call(admin, lambda_context, "DELETE", "/admin/principals/bob", caller="root")
    assert status == 200
    assert body["revoked_by"] == "root"
    revoked = datetime.fromisoformat(body["revoked_at"])
    assert (datetime.fromisoformat(body["access_ends_by"]) - revoked).total_seconds() == 300
    assert stored("bob")["revoked_at"]["S"] == body["revoked_at"]

    status, again = call(admin, lambda_context, "DELETE", "/admin/principals/bob", caller="other")
    assert status == 200 and (again["revoked_at"], again["revoked_by"]) == (body["revoked_at"], "root")


@pytest.mark.parametrize("principal_id", ["a" * 3000, "Alice", "alice%0A"])
def test_a_principal_id_no_principal_can_have_is_400_before_the_table_is_read(
    admin, lambda_context, principal_id
):
    """Moto takes a 3 KB key; DynamoDB refuses it, which would be a 502."""
    for method in ("GET", "DELETE"):
        status, body = call(admin, lambda_context, method, f"/admin/principals/{principal_id}")
        assert (status, body["message"].split(":")[0]) == (400, "principal_id"), method


def test_revoking_an_unknown_principal_is_404_and_creates_nothing(admin, lambda_context):
    status, body = call(admin, lambda_context, "DELETE", "/admin/principals/ghost")
    assert status == 404 and "ghost" in body["message"]
    assert stored("ghost") is None


def test_the_operator_creates_the_first_admin_by_invoking_the_function(admin, lambda_context):
    answer = admin.handler({"principal_id": "root", "permissions": ["* /admin/*"]}, lambda_context)
    assert answer["statusCode"] == 201 and answer["created_by"] == "operator"
    assert answer["token"].startswith("root.")
    assert (
        admin.handler({"principal_id": "root", "permissions": ["* /admin/*"]}, lambda_context)["statusCode"]
        == 409
    )
    bad = admin.handler({"principal_id": "root2", "permissions": ["everything"]}, lambda_context)
    assert bad["statusCode"] == 400 and "permissions[0]" in bad["message"]
    assert admin.handler({"principal_id": "x"}, lambda_context) == {
        "statusCode": 400,
        "message": "permissions: required",
    }


@pytest.mark.parametrize("event", [None, 5, "ops", ["ops"]], ids=["null", "number", "string", "array"])
def test_an_operator_payload_that_is_not_an_object_is_400_not_a_function_error(admin, lambda_context, event):
    """``aws lambda invoke --payload 'null'`` reaches the handler as None: a stack trace back to the
    operator would say nothing a 400 does not say better."""
    assert admin.handler(event, lambda_context)["statusCode"] == 400


@pytest.mark.parametrize(
    ("principal_id", "permissions", "problem"),
    [
        ("", ["GET /documents"], "principal_id: shorter than 1"),
        ("a" * 64, ["GET /documents"], None),
        ("a" * 65, ["GET /documents"], "principal_id: longer than 64"),
        ("alice", ["GET /documents"] * 50, None),
        ("alice", ["GET /documents"] * 51, "permissions: at most 50"),
        ("alice", ["GET /" + "d" * 195], None),
        ("alice", ["GET /" + "d" * 196], "permissions[0]: longer than 200"),
    ],
    ids=["id-0", "id-64", "id-65", "50-permissions", "51-permissions", "permission-200", "permission-201"],
)
def test_a_principal_has_an_id_of_up_to_64_and_up_to_50_permissions_of_200_characters(
    admin, lambda_context, principal_id, permissions, problem
):
    body = {"principal_id": principal_id, "permissions": permissions}
    status, answer = call(admin, lambda_context, "POST", "/admin/principals", body=body)
    if problem:
        assert status == 400 and problem in answer["message"]
        assert principal_id == "" or stored(principal_id) is None
    else:
        assert (status, answer["permissions"]) == (201, permissions)


def test_added_and_revoked_principals_are_counted(admin, lambda_context, emitted_metrics):
    body = {"principal_id": "bob", "permissions": ["GET /documents"]}
    call(admin, lambda_context, "POST", "/admin/principals", body=body)
    assert emitted_metrics() == {"PrincipalsAdded": 1}
    call(admin, lambda_context, "POST", "/admin/principals", body=body)
    assert emitted_metrics() == {}, "a taken id adds no one"
    call(admin, lambda_context, "DELETE", "/admin/principals/bob")
    assert emitted_metrics() == {"PrincipalsRevoked": 1}
    call(admin, lambda_context, "DELETE", "/admin/principals/nobody")
    assert emitted_metrics() == {}


def test_a_permission_over_200_characters_is_named_once_for_its_length(admin, lambda_context):
    body = {"principal_id": "alice", "permissions": ["x" * 201]}
    status, answer = call(admin, lambda_context, "POST", "/admin/principals", body=body)
    assert (status, answer["message"]) == (400, "permissions[0]: longer than 200")
