"""shared/http.py at its edges: a body of exactly ``max_bytes`` is read and one byte more is a 413, a
request without a body is a 400 naming it, an answer's body is never flagged base64 (API Gateway
would decode it), and a value JSON cannot hold fails loudly instead of answering null."""

from __future__ import annotations

import json

import pytest

from shared.http import HttpError, Router, error_answer, json_answer, validated_body
from shared.validation import Field, Schema
from tests.events import api_event

pytestmark = pytest.mark.unit

NOTE = Schema(text=Field(str))


@pytest.fixture(scope="module")
def app() -> Router:
    router = Router()

    @router.post("/notes")
    def create():
        return validated_body(router, NOTE, max_bytes=16), 201

    return router


def test_a_body_of_exactly_max_bytes_is_read_and_one_more_byte_is_a_413(app):
    edge = '{"text": "\u00e9ab"}'  # 16 bytes in UTF-8, 15 characters: the limit counts bytes
    assert (len(edge), len(edge.encode())) == (15, 16)
    answer = app.resolve(api_event("POST", "/notes", body=edge), None)
    assert (answer["statusCode"], json.loads(answer["body"])) == (201, {"text": "\u00e9ab"})
    over = '{"text": "\u00e9abc"}'
    answer = app.resolve(api_event("POST", "/notes", body=over), None)
    assert answer == error_answer(413, "body: larger than 16 bytes")


def test_a_request_without_a_body_is_a_400_naming_it(app):
    answer = app.resolve(api_event("POST", "/notes"), None)
    assert answer == {
        "statusCode": 400,
        "body": '{"statusCode":400,"message":"body: required"}',
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }


def test_answers_are_compact_json_never_flagged_base64():
    assert json_answer(202, {"accepted": "e-1"}) == {
        "statusCode": 202,
        "body": '{"accepted":"e-1"}',
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }


def test_a_value_json_cannot_hold_is_an_error_not_a_null():
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        json_answer(200, {"when": object()})


def test_a_route_stays_a_plain_function_and_an_error_says_its_message():
    router = Router()

    @router.get("/ping")
    def ping():
        return {"pong": True}

    assert ping() == {"pong": True}, "the decorator registers the function and gives it back"
    assert str(HttpError(409, "taken")) == "taken", "what Lambda reports when one escapes"


def test_before_any_request_the_current_event_is_empty():
    event = Router().current_event
    assert (event.path, event.body, event.query_string_parameters) == ("/", None, None)
