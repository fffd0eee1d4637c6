"""The gatekeeper's authorizer: who gets 401, and the whole policy of everyone else."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.unit

API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"


def token_event(header: str | None, route: str = "GET/documents") -> dict:
    event = {"type": "TOKEN", "methodArn": f"{API_ARN}/{route}"}
    if header is not None:
        event["authorizationToken"] = header
    return event


@pytest.fixture
def authorizer(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="principals",
        AttributeDefinitions=[{"AttributeName": "principal_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "principal_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("gatekeeper", "authorizer", PRINCIPALS_TABLE_NAME="principals")


@pytest.fixture
def issue(authorizer):
    """Store a principal the way the admin API does and give back its token."""
    from principals import new_token

    def store(principal_id: str, permissions: list[str], **extra: str) -> str:
        token, secret_hash = new_token(principal_id)
        item = {
            "principal_id": {"S": principal_id},
            "secret_hash": {"S": secret_hash},
            "permissions": {"L": [{"S": p} for p in permissions]},
            **{name: {"S": value} for name, value in extra.items()},
        }
        boto3.client("dynamodb").put_item(TableName="principals", Item=item)
        return token

    return store


def allowed(policy: dict) -> list[str]:
    return sorted(
        r for s in policy["policyDocument"]["Statement"] if s["Effect"] == "Allow" for r in s["Resource"]
    )


def denied(policy: dict) -> list[str]:
    return sorted(
        r for s in policy["policyDocument"]["Statement"] if s["Effect"] == "Deny" for r in s["Resource"]
    )


def test_a_known_token_gets_every_permission_of_its_principal_not_just_the_route_asked(
    authorizer, issue, lambda_context
):
    token = issue("alice", ["GET /documents", "POST /documents", "GET /documents/*"])
    policy = authorizer.handler(token_event(f"Bearer {token}"), lambda_context)
    assert policy["principalId"] == "alice"
    assert policy["context"] == {"principal": "alice"}
    assert allowed(policy) == [
        f"{API_ARN}/GET/documents",
        f"{API_ARN}/GET/documents/*",
        f"{API_ARN}/POST/documents",
    ]
    assert denied(policy) == []
    assert all(s["Action"] == "execute-api:Invoke" for s in policy["policyDocument"]["Statement"])


def test_a_wildcard_method_allows_every_method_under_the_path(authorizer, issue, lambda_context):
    token = issue("ops", ["* /admin/*"])
    policy = authorizer.handler(token_event(f"Bearer {token}", "DELETE/admin/principals/bob"), lambda_context)
    assert allowed(policy) == [f"{API_ARN}/*/admin/*"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer",
        "Bearer not-a-token",
        "bearer alice.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
    ids=["absent", "empty", "basic", "no-token", "no-secret", "lowercase-scheme"],
)
def test_no_bearer_token_is_unauthorized(authorizer, lambda_context, header):
    with pytest.raises(authorizer.Unauthorized, match=r"^Unauthorized$"):
        authorizer.handler(token_event(header), lambda_context)


def test_an_unknown_principal_and_a_wrong_secret_are_both_unauthorized(authorizer, issue, lambda_context):
    token = issue("alice", ["GET /documents"])
    forged = "alice." + ("A" * 43)
    stranger = "mallory." + token.split(".", 1)[1]
    for header in (f"Bearer {forged}", f"Bearer {stranger}"):
        with pytest.raises(authorizer.Unauthorized):
            authorizer.handler(token_event(header), lambda_context)


def test_the_table_never_holds_the_token(authorizer, issue):
    token = issue("alice", ["GET /documents"])
    [item] = boto3.client("dynamodb").scan(TableName="principals")["Items"]
    assert token not in str(item) and token.split(".", 1)[1] not in str(item)


def test_a_revoked_principal_is_denied_every_route(authorizer, issue, lambda_context):
    token = issue("bob", ["GET /documents"], revoked_at="2025-01-01T00:00:00+00:00")
    policy = authorizer.handler(token_event(f"Bearer {token}"), lambda_context)
    assert policy["principalId"] == "bob"
    assert allowed(policy) == []
    assert denied(policy) == [f"{API_ARN}/*/*"]


def test_a_principal_without_permissions_is_denied_rather_than_given_an_empty_policy(
    authorizer, issue, lambda_context
):
    token = issue("idle", [])
    policy = authorizer.handler(token_event(f"Bearer {token}"), lambda_context)
    assert denied(policy) == [f"{API_ARN}/*/*"]


def test_the_header_pattern_of_the_construct_is_the_one_the_handler_reads(authorizer):
    """API Gateway's validation expression must let through exactly the tokens the handler parses."""
    import re

    from patterns.gatekeeper import AUTHORIZATION_HEADER_PATTERN
    from principals import bearer_token, new_token

    token, _ = new_token("svc-1_a")
    for header in (f"Bearer {token}", f"Bearer {token}x", "Bearer a.b", f"Bearer {token.upper()}"):
        assert bool(re.match(AUTHORIZATION_HEADER_PATTERN, header)) == (bearer_token(header) is not None), (
            header
        )
    assert bearer_token(f"Bearer {token}") is not None


def test_issued_policies_and_unknown_tokens_are_counted(authorizer, issue, lambda_context, emitted_metrics):
    token = issue("alice", ["GET /documents"])
    authorizer.handler(token_event(f"Bearer {token}"), lambda_context)
    assert emitted_metrics() == {"PoliciesIssued": 1}
    with pytest.raises(authorizer.Unauthorized):
        authorizer.handler(token_event("Bearer alice." + "A" * 43), lambda_context)
    assert emitted_metrics() == {"UnknownTokens": 1}
    with pytest.raises(authorizer.Unauthorized):
        authorizer.handler(token_event(None), lambda_context)
    assert emitted_metrics() == {}, "no token at all is refused before the table is read"
