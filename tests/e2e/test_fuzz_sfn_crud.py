"""Step Functions CRUD fuzzed through its front door: ids, bodies and query strings made from the
item model plus hostile values (lone surrogates, huge and non-finite numbers, deep nesting,
oversized strings, quotes that try to close the execution input) never get a 5xx from the pattern,
and every 4xx says what is wrong."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.sfn_crud import MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_PRICE

pytestmark = pytest.mark.e2e

FUZZ = settings(max_examples=50, deadline=None, derandomize=True)

HOSTILE_TEXT = st.sampled_from(
    [
        "\ud800",
        "\udfff\ud800",
        '","method":"DELETE',
        '\\",\\"method\\":\\"DELETE',
        '"}',
        "\\",
        "\u0000\n\t",
        "\U0001f600" * (MAX_NAME_LENGTH // 2 + 1),
        "x" * (MAX_NAME_LENGTH + 1),
        "x" * 5_000,
        "",
    ]
)
TEXT = st.one_of(st.text(max_size=40), HOSTILE_TEXT)
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=-(10**140), max_value=10**140).map(str),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e308",
            "1e400",
            "-0",
            "0." + "0" * 5000 + "1",
            "1" * 39,
            "1e-200",
            "5e-324",
            "1e-131",
            "1e-130",
            "9.9e-131",
            "1.1e-130",
            "-1e-200",
            "0.001",
            "0.01",
            f"{MAX_PRICE}",
        ]
    ),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT, lambda inner: st.lists(inner, max_size=3), max_leaves=6
)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    """JSON text shaped like the item model, or not quite, or not JSON at all."""
    kind = draw(st.sampled_from(["item", "item", "extra", "deep", "value", "garbage"]))
    name = json.dumps(draw(TEXT))
    price = draw(NUMBER_TEXT)
    if kind == "item":
        return f'{{"name": {name}, "price": {price}}}'
    if kind == "extra":
        return (
            f'{{"name": {name}, "price": {price}, {json.dumps(draw(TEXT))}: {json.dumps(draw(JSON_VALUE))}}}'
        )
    if kind == "deep":
        depth = draw(st.sampled_from([10, 999, 1001, 5000]))
        return f'{{"name": {name}, "price": {price}, "x": ' + "[" * depth + "]" * depth + "}"
    if kind == "value":
        return json.dumps(draw(JSON_VALUE))
    return draw(st.text(max_size=60))


EMOJI = "\U0001f600"
#: A URL cannot carry a lone surrogate as text: API Gateway decodes its bytes to U+FFFD.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
IDS = st.one_of(
    st.text(min_size=1, max_size=20),
    HOSTILE_TEXT.filter(bool),
    st.sampled_from(["a" * MAX_ID_LENGTH, "a" * (MAX_ID_LENGTH + 1), "\u00e9" * 2049, "x" * 270_000]),
    # Two UTF-16 units each, as API Gateway's Java VTL counts them: around the limit in both counts.
    st.sampled_from([EMOJI * n for n in (128, 129, 256, 257)] + [EMOJI * 128 + "AB", EMOJI * 255 + "AB"]),
)


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with LocalCloud(load_stack(cloud_assembly.directory, "SfnCrudStack"), start=FIXED_START) as started:
        yield started


def request(cloud: LocalCloud, method: str, path: str, **kwargs):
    """A request a moment after the last, so the stage's throttle (100 a second) lets it in."""
    cloud.advance(0.05)
    return cloud.api().request(method, path, **kwargs)


def assert_answered_by_the_pattern(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json().get("message"), response.text


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE"]),
    item_id=IDS,
    body=bodies(),
    query=st.dictionaries(st.text(min_size=1, max_size=5), TEXT, max_size=2),
)
def test_no_request_gets_a_5xx_and_every_4xx_says_why(cloud, method, item_id, body, query):
    path = "/items/" + quote(item_id.encode("utf-8", "surrogatepass"), safe="")
    response = request(
        cloud,
        method,
        path,
        body=body.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"},
        query=query,
    )
    assert_answered_by_the_pattern(response)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(price=NUMBER_TEXT)
def test_no_price_gets_a_5xx(cloud, price):
    """Prices alone, so the numbers at DynamoDB's edges (1E-130, 38 digits) are each tried."""
    body = f'{{"name": "cup", "price": {price}}}'
    response = request(cloud, "PUT", "/items/cup", body=body, headers={"Content-Type": "application/json"})
    assert_answered_by_the_pattern(response)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    item_id=IDS.filter(lambda i: 0 < len(i) <= MAX_ID_LENGTH and not LONE_SURROGATE.search(i)),
    name=st.text(min_size=1, max_size=MAX_NAME_LENGTH),
)
def test_a_valid_item_under_any_id_round_trips(cloud, item_id, name):
    path = "/items/" + quote(item_id.encode("utf-8", "surrogatepass"), safe="")
    stored = request(cloud, "PUT", path, json={"name": name, "price": 1.5})
    assert_answered_by_the_pattern(stored)
    assert stored.status_code == 200, stored.text
    assert stored.json()["id"] == item_id, "an id is stored as requested, never cut"
    assert request(cloud, "GET", path).json() == {"id": item_id, "name": name, "price": 1.5}
