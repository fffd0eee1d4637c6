"""The secured SPA offline: anonymous calls refused by the Cognito authorizer, each signed-in user
reading and writing only their own notes (keyed by the token's sub, never by what the client
sends), the client SRP-only, and the security headers on every answer of the distribution: the
page, its assets, deep links, config, the API's answers and errors."""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError

from patterns.secured_spa import security_headers
from scenarios.secured_spa import SECURITY_HEADERS, missing_headers, sign_up_and_in
from tests.e2e.fuzz import pattern_cloud

pytestmark = pytest.mark.e2e
ASSET = re.compile(r"""["'](/[\w/-]+\.[0-9a-f]{8}\.\w+)["']""")
COGNITO = "https://cognito-idp.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "secured_spa")


@pytest.fixture(scope="module")
def site(cloud):
    return cloud.distribution()


@pytest.fixture(scope="module")
def users(cloud) -> dict[str, dict[str, str]]:
    return {name: {"Authorization": sign_up_and_in(cloud, f"{name}@example.com")} for name in ("ann", "bob")}


def sub(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def test_anonymous_and_forged_calls_get_401_before_any_code_runs(cloud, site, users):
    invoked = len(cloud.trace.find("invoke"))
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": users["ann"]["Authorization"] + "x"},
    ):
        for method, path in (("GET", "/api/notes"), ("POST", "/api/notes"), ("GET", "/api/notes/some-id")):
            answer = site.request(
                method, path, headers=headers, json={"text": "x"} if method == "POST" else None
            )
            assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"}), (
                method,
                path,
                headers,
            )
    assert len(cloud.trace.find("invoke")) == invoked, "the authorizer refused; the function never ran"


def test_each_user_reads_and_writes_only_their_own_notes(site, users):
    ann, bob = users["ann"], users["bob"]
    created = site.request("POST", "/api/notes", json={"text": "ann's secret"}, headers=ann)
    assert created.status == 201 and set(created.json()) == {"id", "text", "created_at"}, (
        "no owner in the answer"
    )
    note = created.json()
    assert site.get("/api/notes", headers=ann).json() == {"notes": [note]}
    assert site.get(f"/api/notes/{note['id']}", headers=ann).json() == note
    assert site.get("/api/notes", headers=bob).json() == {"notes": []}
    assert site.get(f"/api/notes?owner={sub(ann)}", headers=bob).json() == {"notes": []}, (
        "a query names no one"
    )
    spoofed = site.request("POST", "/api/notes", json={"text": "x", "owner": sub(ann)}, headers=bob)
    assert spoofed.status == 400, "the model refuses an owner in the body"
    for method in ("GET", "DELETE"):
        answer = site.request(method, f"/api/notes/{note['id']}", headers=bob)
        assert (answer.status, answer.json()["message"]) == (404, f"note {note['id']} not found"), method
    assert site.get(f"/api/notes/{note['id']}", headers=ann).status == 200, "bob's delete touched nothing"
    assert site.request("DELETE", f"/api/notes/{note['id']}", headers=ann).status == 204
    assert site.get("/api/notes", headers=ann).json() == {"notes": []}


def test_bad_input_is_a_400_naming_the_field(site, users):
    for body, field in (({}, "text"), ({"text": ""}, "text"), ({"text": "x" * 501}, "text")):
        answer = site.request("POST", "/api/notes", json=body, headers=users["ann"])
        assert answer.status == 400 and field in answer.json()["message"], (body, answer.text)


def test_the_page_client_takes_srp_only_and_the_pool_its_password_policy(cloud):
    idp, client = cloud.client("cognito-idp"), cloud.outputs["UserPoolClientId"]
    with pytest.raises(ClientError) as password_flow:
        idp.initiate_auth(
            ClientId=client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": "Correct-horse-battery-9"},
        )
    assert password_flow.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as weak:
        idp.sign_up(ClientId=client, Username="eve@example.com", Password="Short-pas1!")
    assert (
        weak.value.response["Error"]["Message"]
        == "Password did not conform with policy: Password not long enough"
    )


def test_every_answer_of_the_distribution_carries_the_security_headers(cloud, site, users):
    page = site.get("/")
    expected = security_headers(COGNITO)
    assert {name: page.header(name) for name in expected} == expected
    config = site.get("/config.json").json()
    assert config == {
        "region": "us-east-1",
        "userPoolId": cloud.outputs["UserPoolId"],
        "clientId": cloud.outputs["UserPoolClientId"],
        "cognitoEndpoint": f"{COGNITO}/",
    }
    answers = {
        "page": page,
        "index.html": site.get("/index.html"),
        "config": site.get("/config.json"),
        **{path: site.get(path) for path in ASSET.findall(page.text)},
        "deep link": site.get("/notes/0b1c"),
        "nested deep link": site.get("/a/b/c"),
        "missing asset (origin 403)": site.get("/app.00000000.js"),
        "API 200": site.get("/api/notes", headers=users["bob"]),
        "API 401": site.get("/api/notes"),
        "API 404": site.get("/api/notes/none", headers=users["bob"]),
    }
    assert len(answers) == 11
    for what, answer in answers.items():
        assert {name: answer.header(name) for name in expected} == expected, what
    assert answers["deep link"].body == page.body and answers["deep link"].status == 200
    assert answers["missing asset (origin 403)"].status == 403, "an asset's name has a dot: no rewrite"
    assert not missing_headers(answers["API 401"]) and len(SECURITY_HEADERS) == len(expected)


def test_a_token_is_refused_once_it_expires_an_hour_after_sign_in(cloud, site, users):
    """Last in the module: it moves the clock past every token's hour (IdTokenValidity)."""
    assert site.get("/api/notes", headers=users["bob"]).status == 200
    cloud.advance(3600 - 60)
    assert site.get("/api/notes", headers=users["bob"]).status == 200, "still within the hour"
    cloud.advance(120)
    expired = site.get("/api/notes", headers=users["bob"])
    assert (expired.status, expired.json()) == (401, {"message": "Unauthorized"})
