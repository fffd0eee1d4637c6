"""The gatekeeper offline, through API Gateway: 401, 403, 200, the principal reaching the backend,
the admin API behind the same authorizer, and the cache keeping a revoked principal in until its TTL."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

TTL = 300
READER = ["GET /documents", "GET /documents/*"]
WRITER = ["GET /documents", "GET /documents/*", "POST /documents"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("gatekeeper")


@pytest.fixture
def admin(cloud):
    """The first admin, made the only way there is: an operator invoking the admin function."""
    answer = cloud.invoke(
        cloud.outputs["AdminFunctionName"], {"principal_id": "ops", "permissions": ["* /admin/*"]}
    )["Payload"]
    assert answer["statusCode"] == 201, answer
    return bearer(answer["token"])


@pytest.fixture
def issue(cloud, admin):
    def add(principal_id: str, permissions: list[str]) -> dict[str, str]:
        answer = cloud.api().post(
            "/admin/principals",
            json={"principal_id": principal_id, "permissions": permissions},
            headers=admin,
        )
        assert answer.status == 201, answer.text
        return bearer(answer.json()["token"])

    return add


def message(response) -> str:
    """API Gateway's message on a refusal, whichever case its key has (AWS writes ``Message`` there)."""
    body = response.json()
    return body.get("Message", body.get("message"))


def authorizer_runs(cloud) -> int:
    name = cloud.function("Pattern/AuthorizerFunction").name
    return len([s for s in cloud.trace.find(kind="invoke") if s.target == name])


def test_no_token_or_an_unknown_one_is_401_and_nothing_behind_the_gate_runs(cloud, issue):
    api = cloud.api()
    issue("alice", READER)
    before = authorizer_runs(cloud)
    missing = api.get("/documents")
    malformed = api.get("/documents", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    assert malformed.status == 401
    assert authorizer_runs(cloud) == before, "API Gateway refuses these without running the authorizer"

    forged = api.get("/documents", headers=bearer("alice." + "A" * 43))
    assert forged.status == 401 and authorizer_runs(cloud) == before + 1
    backend = cloud.function("Pattern/DocumentsFunction").name
    assert [s for s in cloud.trace.find(kind="invoke") if s.target == backend] == []


def test_403_without_the_permission_200_with_it_and_the_principal_reaches_the_backend(cloud, issue):
    api = cloud.api()
    reader, writer = issue("reader", READER), issue("writer", WRITER)

    refused = api.post("/documents", json={"title": "plan"}, headers=reader)
    assert refused.status == 403
    assert message(refused) == "User is not authorized to access this resource"

    created = api.post("/documents", json={"title": "plan", "text": "v1"}, headers=writer)
    assert created.status == 201 and created.json()["owner"] == "writer"
    document = created.json()["id"]
    assert api.get(f"/documents/{document}", headers=writer).json()["title"] == "plan"

    listed = api.get("/documents", headers=reader)
    assert listed.status == 200 and listed.json() == {"owner": "reader", "documents": [], "truncated": False}
    assert api.get(f"/documents/{document}", headers=reader).status == 404, "another owner's document"


def test_the_admin_api_is_behind_the_same_authorizer_and_needs_the_admin_permission(cloud, admin, issue):
    api = cloud.api()
    writer = issue("writer", WRITER)
    new = {"principal_id": "mallory", "permissions": ["* /*"]}
    assert api.post("/admin/principals", json=new).status == 401
    assert api.post("/admin/principals", json=new, headers=writer).status == 403
    assert api.get("/admin/principals/writer", headers=writer).status == 403
    shown = api.get("/admin/principals/writer", headers=admin)
    assert shown.status == 200 and shown.json()["permissions"] == WRITER and "secret_hash" not in shown.json()
    bad = api.post("/admin/principals", json={"principal_id": "Bad Id", "permissions": []}, headers=admin)
    assert bad.status == 400, "API Gateway's model refuses it before the function runs"
    duplicate = api.post(
        "/admin/principals", json={"principal_id": "writer", "permissions": READER}, headers=admin
    )
    assert duplicate.status == 409


def test_a_policy_is_cached_per_token_for_every_route_it_allows(cloud, issue):
    api = cloud.api()
    writer = issue("writer", WRITER)
    runs = authorizer_runs(cloud)
    assert api.get("/documents", headers=writer).status == 200
    assert api.post("/documents", json={"title": "a"}, headers=writer).status == 201
    assert api.get("/documents", headers=writer).status == 200
    assert authorizer_runs(cloud) == runs + 1, "one authorizer run answers every route for the TTL"
    cloud.advance(TTL)
    assert api.get("/documents", headers=writer).status == 200
    assert authorizer_runs(cloud) == runs + 2, "after the TTL the authorizer runs again"


def test_a_revoked_principal_keeps_access_until_the_cache_ttl_passes_then_gets_403(cloud, admin, issue):
    """The valet-key trade-off, on the virtual clock."""
    api = cloud.api()
    writer = issue("writer", WRITER)
    assert api.get("/documents", headers=writer).status == 200  # the policy is cached now, at t0

    revoked = api.delete("/admin/principals/writer", headers=admin)
    assert revoked.status == 200 and revoked.json()["revoked_by"] == "ops"

    cloud.advance(TTL - 1)
    assert api.get("/documents", headers=writer).status == 200, "still inside the cached policy's TTL"
    assert api.post("/documents", json={"title": "late"}, headers=writer).status == 201

    cloud.advance(1)
    denied = api.get("/documents", headers=writer)
    assert denied.status == 403
    assert message(denied) == "User is not authorized to access this resource with an explicit deny"
    assert api.get("/admin/principals/writer", headers=admin).json()["revoked_at"]


def test_each_function_uses_exactly_the_table_grants_it_has(cloud, admin, issue):
    api = cloud.api()
    writer = issue("writer", WRITER)
    created = api.post("/documents", json={"title": "a"}, headers=writer).json()
    api.get("/documents", headers=writer)
    api.get(f"/documents/{created['id']}", headers=writer)
    api.get("/admin/principals/writer", headers=admin)
    api.delete("/admin/principals/writer", headers=admin)
    assert [line for line in cloud.unused_grants() if "dynamodb:" in line] == []
    assert cloud.trace.find("denied") == []
