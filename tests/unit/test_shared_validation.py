"""shared/validation.py: what every handler refuses before DynamoDB would, with a message naming it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared.validation import Field, InvalidInput, Schema, is_unicode, key_value, parse_json_body, storable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "max_bytes", "message"),
    [
        ("", 2048, "id: required"),
        (None, 2048, "id: required"),
        (7, 2048, "id: required"),
        ("a" * 2049, 2048, "id: longer than 2048 bytes in UTF-8"),
        ("\N{EURO SIGN}" * 342, 1024, "id: longer than 1024 bytes in UTF-8"),  # 1,026 bytes, 342 characters
        ("a\ud800", 2048, "id: not valid Unicode"),
    ],
)
def test_a_key_dynamodb_would_refuse_is_invalid_input_naming_it(value, max_bytes, message):
    with pytest.raises(InvalidInput) as refused:
        key_value("id", value, max_bytes=max_bytes)
    assert str(refused.value).startswith(message)


def test_a_key_at_the_limit_is_taken():
    assert key_value("id", "a" * 2048) == "a" * 2048
    assert key_value("id", "\N{EURO SIGN}" * 341, max_bytes=1024) == "\N{EURO SIGN}" * 341


def test_lone_surrogates_are_found_wherever_they_hide():
    assert is_unicode({"a": ["b", {"c": "\N{GRINNING FACE}"}], "n": 1})
    assert not is_unicode({"a": ["b", {"c": "\udfff"}]})
    assert not is_unicode({"\ud800": 1})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"n": NaN}', "NaN is not a JSON value"),
        ('{"n": Infinity}', "Infinity is not a JSON value"),
        ('{"n": -Infinity}', "-Infinity is not a JSON value"),
        ('{"n": 1e999}', "1e999 is out of range"),
        ('{"n": ' + "1" * 5000 + "}", "Exceeds the limit"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{", "Expecting property name"),
    ],
)
def test_what_is_not_json_is_invalid_input_not_a_crash(body, reason):
    with pytest.raises(InvalidInput) as refused:
        parse_json_body(body)
    assert str(refused.value).startswith("body: not valid JSON (") and reason in str(refused.value)


def test_large_finite_numbers_are_still_json():
    assert parse_json_body('{"n": 1e308, "m": -2.5}') == {"n": 1e308, "m": -2.5}


def test_unknown_field_names_are_quoted_escaped_and_short():
    schema = Schema(name=Field(str))
    with pytest.raises(InvalidInput) as refused:
        schema.validate({"name": "x", "\ud800" + "k" * 500: 1})
    message = str(refused.value)
    assert message.isascii() and len(message) < 100
    assert message.startswith("\\ud800kkk") and message.endswith("...: unknown field")

    with pytest.raises(InvalidInput) as refused:
        schema.validate({"name": "x", **{f"extra{i:02}": i for i in range(12)}})
    assert str(refused.value).endswith("extra09: unknown field; body: 2 more unknown fields")


def test_a_field_with_a_lone_surrogate_is_named():
    schema = Schema(name=Field(str, max_length=10), tags=Field(list, required=False))
    with pytest.raises(InvalidInput, match=r"^name: not valid Unicode.*; tags: not valid Unicode"):
        schema.validate({"name": "\ud800", "tags": ["ok", "\udc00"]})


def nested(levels: int) -> dict:
    """A map ``levels`` deep, counting itself."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"n": 12345678901234567890123456789012345678},  # 38 digits
        {"n": -(10**37), "z": 0, "f": 0.5, "flag": True},
        {"small": Decimal("1E-130"), "large": Decimal("9.9999999999999999999999999999999999999E+125")},
        nested(32),
        {"list": [[[1]]]},
    ],
)
def test_what_dynamodb_stores_is_storable(value):
    assert storable("payload", value) is value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"n": 123456789012345678901234567890123456789}, "payload.n: more than 38 significant digits"),
        ({"n": 10**40}, "payload.n: more than 38 significant digits"),
        ({"l": [1, Decimal("1E-131")]}, "payload.l[1]: out of DynamoDB's range"),
        ({"m": {"x": Decimal("1E+126")}}, "payload.m.x: out of DynamoDB's range"),
        (nested(33), "payload: nested deeper than 32 levels"),
        ({"l": json.loads("[" * 40 + "]" * 40)}, "payload: nested deeper than 32 levels"),
    ],
)
def test_what_dynamodb_refuses_is_invalid_input_naming_where(value, message):
    """DynamoDB refuses these at the write (boto3's serializer, the first two): a handler that
    checks first can refuse the input before it does the work the write records."""
    with pytest.raises(InvalidInput) as refused:
        storable("payload", value)
    assert str(refused.value).startswith(message)
