"""shared/http.py: the light router answers as Powertools' resolver does, and the request checks
serve both."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http import BadRequest, HttpError, NotFound, Response, Router, key_parameter, validated_body
from shared.validation import Field, Schema
from tests.events import api_event

pytestmark = pytest.mark.unit

ITEM = Schema(name=Field(str, max_length=5))


def build(app):
    """The same routes on either router, raising each router's own errors through the shared checks."""

    @app.get("/items/<item_id>")
    def read(item_id):
        key_parameter(app, "id", item_id, max_bytes=8)
        return {"id": item_id, "price": Decimal("12"), "ratio": Decimal("0.5")}

    @app.post("/items")
    def create():
        return validated_body(app, ITEM, max_bytes=64), 201

    @app.get("/items/<item_id>/parts/<part>")
    def part(item_id, part):
        return {"item": item_id, "part": part}

    @app.get("/")
    def root():
        return {"root": True}

    return app


def answer(app, method, path, **kwargs):
    response = app.resolve(api_event(method, path, **kwargs), None)
    return int(response["statusCode"]), json.loads(response["body"]) if response["body"] else None


ROUTERS = pytest.mark.parametrize("app", [Router(), APIGatewayRestResolver()], ids=["router", "powertools"])


@ROUTERS
def test_both_routers_answer_the_same(app):
    app = build(app)
    assert answer(app, "GET", "/items/a1") == (200, {"id": "a1", "price": "12", "ratio": "0.5"})
    assert answer(app, "GET", "/items/a1/parts/p") == (200, {"item": "a1", "part": "p"})
    assert answer(app, "POST", "/items", body={"name": "lamp"}) == (201, {"name": "lamp"})
    assert answer(app, "POST", "/items", body={"name": "lamp!!"}) == (
        400,
        {"statusCode": 400, "message": "name: longer than 5"},
    )
    assert answer(app, "POST", "/items", body='{"name": "x"}' + " " * 64) == (
        413,
        {"statusCode": 413, "message": "body: larger than 64 bytes"},
    )
    assert answer(app, "GET", "/items/" + "k" * 9) == (
        400,
        {"statusCode": 400, "message": "id: longer than 8 bytes in UTF-8"},
    )
    assert answer(app, "DELETE", "/items/a1") == (404, {"statusCode": 404, "message": "Not found"})
    assert answer(app, "GET", "/nothing") == (404, {"statusCode": 404, "message": "Not found"})


#: Paths made of the routes' own words, any text, and empty segments, so that trailing, leading
#: and inner runs of "/" come up as often as the words do.
PATHS = st.lists(
    st.one_of(st.sampled_from(["items", "parts", "a1", "", ""]), st.text(min_size=1, max_size=4)),
    max_size=5,
).map("/".join)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(prefix=st.sampled_from(["", "/"]), path=PATHS, suffix=st.sampled_from(["", "/", "//"]))
def test_a_path_routes_the_same_under_both(prefix, path, suffix):
    ours, theirs = build(Router()), build(APIGatewayRestResolver())
    path = prefix + path + suffix
    for method in ("GET", "POST"):
        assert answer(ours, method, path) == answer(theirs, method, path)


@pytest.mark.parametrize("make", [Router, APIGatewayRestResolver], ids=["router", "powertools"])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/items/a1/", (200, {"id": "a1", "price": "12", "ratio": "0.5"})),
        ("/items/a1//", (200, {"id": "a1", "price": "12", "ratio": "0.5"})),
        ("/items/a1/parts/p/", (200, {"item": "a1", "part": "p"})),
        ("/", (200, {"root": True})),
        ("//", (200, {"root": True})),
        ("", (200, {"root": True})),
        ("/items//parts/p", (404, {"statusCode": 404, "message": "Not found"})),
        ("//items/a1", (404, {"statusCode": 404, "message": "Not found"})),
    ],
)
def test_trailing_slashes_are_ignored_and_inner_ones_are_not(make, path, expected):
    assert answer(build(make()), "GET", path) == expected


def test_errors_statuses_and_plain_responses():
    app = Router()

    @app.put("/a")
    def conflict():
        raise HttpError(409, "taken")

    @app.delete("/a")
    def gone():
        return Response(204)

    @app.get("/a")
    def missing():
        raise NotFound("no a")

    @app.post("/a")
    def bad():
        raise BadRequest("a: wrong")

    assert answer(app, "PUT", "/a") == (409, {"statusCode": 409, "message": "taken"})
    assert answer(app, "GET", "/a") == (404, {"statusCode": 404, "message": "no a"})
    assert answer(app, "POST", "/a") == (400, {"statusCode": 400, "message": "a: wrong"})
    deleted = app.resolve(api_event("DELETE", "/a"), None)
    assert (deleted["statusCode"], deleted["body"]) == (204, "")
    assert deleted["multiValueHeaders"] == {"Content-Type": ["application/json"]}


def test_an_unexpected_error_propagates_so_lambda_reports_it():
    app = Router()

    @app.get("/a")
    def broken():
        raise KeyError("secret")

    with pytest.raises(KeyError):
        app.resolve(api_event("GET", "/a"), None)


def test_the_current_event_and_context_are_the_invocations():
    app, seen = Router(), {}

    @app.get("/a")
    def read():
        seen.update(query=app.current_event.query_string_parameters, context=app.lambda_context)
        return {}

    app.resolve(api_event("GET", "/a", query={"limit": "2"}), "context")
    assert seen == {"query": {"limit": "2"}, "context": "context"}
