"""The notes handler (the owner is the verified token's sub, nothing else), the two CloudFront
Functions run by node as CloudFront runs them, and the page's bundle build."""

from __future__ import annotations

import json
import shutil
import subprocess

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patterns.secured_spa import DEEP_LINKS, bundle, headers_function_code, security_headers
from tests.events import api_event

pytestmark = pytest.mark.unit
ANN, BOB = "0f1e-ann", "7c2d-bob"


@pytest.fixture
def notes(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="notes",
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
    return load_handler("secured_spa", "notes", TABLE_NAME="notes")


def call(module, lambda_context, method, path, sub=None, **kwargs):
    event = api_event(method, path, **kwargs)
    if sub is not None:
        event["requestContext"]["authorizer"] = {"claims": {"sub": sub, "email": f"{sub}@example.com"}}
    response = module.handler(event, lambda_context)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def test_each_owner_sees_only_their_notes_whatever_the_request_names(notes, lambda_context):
    status, note = call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": "tea"})
    assert status == 201 and set(note) == {"id", "text", "created_at"}
    assert call(notes, lambda_context, "GET", "/api/notes", ANN) == (200, {"notes": [note]})
    assert call(notes, lambda_context, "GET", "/api/notes", BOB, query={"owner": ANN}) == (200, {"notes": []})
    assert call(notes, lambda_context, "GET", f"/api/notes/{note['id']}", BOB)[0] == 404
    assert call(notes, lambda_context, "DELETE", f"/api/notes/{note['id']}", BOB)[0] == 404
    assert call(notes, lambda_context, "GET", f"/api/notes/{note['id']}", ANN) == (200, note)
    stored = boto3.client("dynamodb").scan(TableName="notes")["Items"]
    assert [(i["owner"]["S"], i["id"]["S"]) for i in stored] == [(ANN, note["id"])]
    assert call(notes, lambda_context, "DELETE", f"/api/notes/{note['id']}", ANN) == (204, None)
    assert boto3.client("dynamodb").scan(TableName="notes")["Items"] == []


def test_no_verified_sub_is_a_401_and_bad_input_a_400_naming_the_field(notes, lambda_context):
    for sub in (None, ""):
        assert call(notes, lambda_context, "GET", "/api/notes", sub) == (
            401,
            {"statusCode": 401, "message": "Unauthorized"},
        )
    for body in ({}, {"text": ""}, {"text": "x" * 501}, {"text": 5}, "not json"):
        status, answer = call(notes, lambda_context, "POST", "/api/notes", ANN, body=body)
        assert (status == 400 and "text" in answer["message"]) or "body" in answer["message"], (body, answer)
    assert call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": "x", "owner": BOB})[0] == 400
    status, answer = call(notes, lambda_context, "GET", "/api/notes/" + "x" * 1100, ANN)
    assert status == 400 and "id" in answer["message"]
    assert boto3.client("dynamodb").scan(TableName="notes")["Items"] == []


def run_functions(*runs: tuple[str, list[dict]]) -> list[list[dict]]:
    """Each CloudFront Function's answers to its events, run by node as the cloudfront-js runtime
    would: one process, each function in a scope of its own."""
    scopes = ",".join(
        f"(function () {{\n{code}\nreturn {json.dumps(events)}.map(handler);\n}})()" for code, events in runs
    )
    node = shutil.which("node")
    assert node is not None, "node runs the CDK CLI and CloudFront Functions offline"
    script = f"process.stdout.write(JSON.stringify([{scopes}]));"
    ran = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(ran.stdout)


def test_the_headers_function_sets_every_header_and_deep_links_are_the_page():
    headers = security_headers("https://cognito-idp.eu-west-1.amazonaws.com")
    response = {
        "statusCode": 200,
        "headers": {"x-frame-options": {"value": "SAMEORIGIN"}, "etag": {"value": "1"}},
    }
    served = {
        "/": "/index.html",
        "/notes/0b1c-42": "/index.html",
        "/a/b/": "/index.html",
        "/v1.2/notes": "/index.html",
        "/app.3f2a9c1b.js": "/app.3f2a9c1b.js",
        "/config.json": "/config.json",
    }
    [answer], links = run_functions(
        (headers_function_code(headers), [{"response": response}]),
        (DEEP_LINKS, [{"request": {"uri": uri, "headers": {}}} for uri in served]),
    )
    assert answer["headers"] == {"etag": {"value": "1"}, **{k: {"value": v} for k, v in headers.items()}}
    csp = headers["content-security-policy"]
    assert "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com;" in csp
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert {uri: link["uri"] for uri, link in zip(served, links, strict=True)} == served


def test_the_bundle_is_rebuilt_only_when_a_source_changes(tmp_path):
    source = tmp_path / "site"
    source.mkdir()
    (source / "index.html").write_text('<script src="/app.js"></script>')
    (source / "app.js").write_text("const greeting = 'hi'; console.log(greeting);")
    out = bundle(source, source / "dist")
    assert sorted(p.name for p in out.iterdir()) == ["app.js", "index.html"]
    assert (out / "app.js").read_text() == '(()=>{console.log("hi");})();\n', "bundled, minified"
    (out / "app.js").write_text("stale")
    assert (bundle(source, out) / "app.js").read_text() == "stale", "up to date: not rebuilt"
    (source / "app.js").write_text("console.log('bye');")
    assert (bundle(source, out) / "app.js").read_text() == '(()=>{console.log("bye");})();\n'
    shutil.rmtree(out)


def test_a_note_past_the_listed_limit_is_refused_not_hidden(notes, lambda_context, monkeypatch):
    """The list answers one page of MAX_NOTES; a note it could not show is refused at creation (409
    naming the limit), never created and then missing from the list."""
    monkeypatch.setattr(notes, "MAX_NOTES", 3)
    made = [call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": str(n)}) for n in range(3)]
    assert [status for status, _ in made] == [201, 201, 201]
    status, answer = call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": "fourth"})
    assert status == 409 and "3 notes" in answer["message"], answer
    assert call(notes, lambda_context, "POST", "/api/notes", BOB, body={"text": "bob's"})[0] == 201
    listed = call(notes, lambda_context, "GET", "/api/notes", ANN)[1]["notes"]
    assert sorted(n["text"] for n in listed) == ["0", "1", "2"]
    call(notes, lambda_context, "DELETE", f"/api/notes/{made[0][1]['id']}", ANN)
    assert call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": "fourth"})[0] == 201


def test_two_creates_racing_for_the_last_place_never_leave_a_note_the_list_hides(
    notes, lambda_context, monkeypatch
):
    """Two instances can both count MAX_NOTES - 1 before either writes. The one that finds more
    than MAX_NOTES after its write takes its note back (409), so the list still shows every note."""
    monkeypatch.setattr(notes, "MAX_NOTES", 3)
    for n in range(2):
        assert call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": str(n)})[0] == 201
    count, put = notes._count, notes.table.put_item

    def racing_put(item, **kwargs):
        """The other instance's note lands between this one's count and its write."""
        notes.table.put_item = put
        put({**item, "id": "0-racer", "text": "racer"}, **kwargs)
        put(item, **kwargs)

    monkeypatch.setattr(notes.table, "put_item", racing_put)
    status, answer = call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": "late"})
    assert status == 409 and "3 notes" in answer["message"], answer
    listed = call(notes, lambda_context, "GET", "/api/notes", ANN)[1]["notes"]
    assert sorted(n["text"] for n in listed) == ["0", "1", "racer"], "every stored note is listed"
    assert count(ANN) == 3


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=600),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


# One table for every example: each writes as a user of its own, so no example sees another's notes.
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=JSON | st.text(max_size=40) | st.just('{"text": "' + "[" * 2000 + '"}'),
    note_id=st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t),
    sub=st.uuids().map(str),
)
def test_hostile_input_is_a_4xx_naming_the_field_never_a_5xx(notes, lambda_context, body, note_id, sub):
    status, answer = call(notes, lambda_context, "POST", "/api/notes", sub, body=body)
    if status == 201:
        assert isinstance(body, dict) and set(body) == {"text"} and answer["text"] == body["text"]
    else:
        assert status == 400 and any(w in answer["message"] for w in ("text", "body")), (body, answer)
    for method in ("GET", "DELETE"):
        status, answer = call(notes, lambda_context, method, f"/api/notes/{note_id}", sub)
        assert (status == 400 and "id" in answer["message"]) or status == 404, (note_id, answer)


def test_a_note_of_1_to_500_characters_is_created_stamped_and_counted_and_a_list_is_one_page_of_100(
    notes, lambda_context, emitted_metrics
):
    from datetime import UTC, datetime, timedelta

    created = [
        call(notes, lambda_context, "POST", "/api/notes", ANN, body={"text": t}) for t in ("x", "y" * 500)
    ]
    assert [status for status, _ in created] == [201, 201]
    for _, note in created:
        stamp = datetime.fromisoformat(note["created_at"])
        assert stamp.utcoffset() == timedelta(0) and stamp.microsecond == 0
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    assert emitted_metrics().get("NotesCreated") == 2

    older = [
        {
            "PutRequest": {
                "Item": {
                    "owner": {"S": BOB},
                    "id": {"S": f"{n:03d}"},
                    "text": {"S": "t"},
                    "created_at": {"S": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00"},
                }
            }
        }
        for n in range(notes.MAX_NOTES + 1)
    ]
    for start in range(0, len(older), 25):
        boto3.client("dynamodb").batch_write_item(RequestItems={"notes": older[start : start + 25]})
    status, listed = call(notes, lambda_context, "GET", "/api/notes", BOB)
    assert status == 200 and len(listed["notes"]) == 100
    assert [n["id"] for n in listed["notes"]] == [f"{n:03d}" for n in range(100)], "oldest first"
