"""shared/validation.py's rules at their edges: each bound taken at the limit and refused one past it,
the JSON type a message names, what counts as missing, partial updates, extra fields, and how much
of a caller's text a message quotes. Every handler's 400 message is built here."""

from __future__ import annotations

import dataclasses

import pytest

from shared.validation import (
    PARTITION_KEY_MAX_BYTES,
    SORT_KEY_MAX_BYTES,
    Field,
    InvalidInput,
    Schema,
    is_unicode,
    key_value,
    parse_json_body,
)

pytestmark = pytest.mark.unit


def refusal(schema: Schema, data, **options) -> str:
    with pytest.raises(InvalidInput) as refused:
        schema.validate(data, **options)
    return str(refused.value)


def test_the_key_limits_are_dynamodbs_and_the_default_is_the_partition_keys():
    """DynamoDB: a partition key value is at most 2,048 bytes, a sort key value at most 1,024."""
    assert (PARTITION_KEY_MAX_BYTES, SORT_KEY_MAX_BYTES) == (2048, 1024)
    with pytest.raises(InvalidInput, match=r"^id: longer than 2048 bytes in UTF-8$"):
        key_value("id", "a" * 2049)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (Field(str), 7, "n: expected string, got integer"),
        (Field(int), 1.5, "n: expected integer, got number"),
        (Field(int), True, "n: expected integer, got boolean"),
        (Field(str), {"a": 1}, "n: expected string, got object"),
        (Field(str), [1], "n: expected string, got array"),
        (Field((int, float)), "1", "n: expected integer or number, got string"),
        (Field(dict), "x", "n: expected object, got string"),
        (Field(list), (1,), "n: expected array, got tuple"),
        (Field(bool), 0, "n: expected boolean, got integer"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_named_with_both_types(field, value, expected):
    assert refusal(Schema(n=field), {"n": value}) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [(Field(bool), True), (Field((int, float)), 2), (Field((int, float)), 2.5), (Field(int), 0)],
)
def test_a_value_of_an_allowed_type_is_taken(field, value):
    assert Schema(n=field).validate({"n": value}) == {"n": value}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ab", "s: shorter than 3"),
        ("abc", None),
        ("abcde", None),
        ("abcdef", "s: longer than 5"),
    ],
)
def test_lengths_are_taken_at_both_bounds_and_refused_one_past(value, expected):
    schema = Schema(s=Field(str, min_length=3, max_length=5))
    if expected is None:
        assert schema.validate({"s": value}) == {"s": value}
    else:
        assert refusal(schema, {"s": value}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1, "n: less than 0"), (0, None), (10, None), (11, "n: greater than 10"), (10.5, "n: greater than 10")],
)
def test_numbers_are_taken_at_both_bounds_and_refused_past_them(value, expected):
    schema = Schema(n=Field((int, float), minimum=0, maximum=10))
    if expected is None:
        assert schema.validate({"n": value}) == {"n": value}
    else:
        assert refusal(schema, {"n": value}) == expected


def test_a_field_without_bounds_takes_any_length_and_size():
    schema = Schema(s=Field(str), n=Field(int), tags=Field(list))
    data = {"s": "", "n": -(10**30), "tags": []}
    assert schema.validate(data) == data


def test_choices_name_every_allowed_value():
    schema = Schema(colour=Field(str, choices=("red", "green")))
    assert schema.validate({"colour": "green"}) == {"colour": "green"}
    assert refusal(schema, {"colour": "blue"}) == "colour: must be one of red, green"


def test_every_problem_is_reported_at_once_in_field_order():
    schema = Schema(a=Field(str, max_length=1), b=Field(int, minimum=1, maximum=2), c=Field(str))
    assert refusal(schema, {"a": "xy", "b": 0, "z": 1}) == (
        "a: longer than 1; b: less than 1; c: required; z: unknown field"
    )


def test_a_missing_or_null_field_is_required_unless_optional():
    schema = Schema(name=Field(str), note=Field(str, required=False, max_length=2))
    assert refusal(schema, {}) == "name: required"
    assert refusal(schema, {"name": None}) == "name: required"
    assert schema.validate({"name": "a", "note": None}) == {"name": "a", "note": None}
    assert refusal(schema, {"name": "a", "note": "abc"}) == "note: longer than 2"


@pytest.mark.parametrize(("data", "kind"), [([], "array"), ("x", "string"), (None, "null"), (3, "integer")])
def test_a_body_that_is_not_an_object_is_refused_naming_its_type(data, kind):
    assert refusal(Schema(name=Field(str)), data) == f"body: expected a JSON object, got {kind}"


def test_a_partial_update_needs_one_known_field_and_checks_those_given():
    schema = Schema(name=Field(str, max_length=3), size=Field(int))
    assert schema.validate({"size": 1}, partial=True) == {"size": 1}
    assert refusal(schema, {"name": "long"}, partial=True) == "name: longer than 3"
    assert refusal(schema, {}, partial=True) == "body: give at least one of name, size"
    assert refusal(schema, {"x": 1}, partial=True) == (
        "x: unknown field; body: give at least one of name, size"
    )


def test_extra_fields_pass_only_where_allowed():
    open_schema = Schema(allow_extra=True, name=Field(str))
    assert open_schema.validate({"name": "a", "extra": 1}) == {"name": "a", "extra": 1}
    assert refusal(Schema(name=Field(str)), {"name": "a", "extra": 1}) == "extra: unknown field"


def test_ten_unknown_fields_are_all_named_and_no_more_is_said():
    message = refusal(Schema(name=Field(str)), {"name": "x", **{f"e{i}": i for i in range(10)}})
    assert message == "; ".join(f"e{i}: unknown field" for i in range(10))


def test_a_quoted_name_is_cut_after_64_characters_of_its_json_escape():
    at_limit, over = "k" * 64, "k" * 65
    assert refusal(Schema(), {at_limit: 1}) == f"{at_limit}: unknown field"
    assert refusal(Schema(), {over: 1}) == f"{at_limit}...: unknown field"
    assert refusal(Schema(), {'a"\n': 1}) == 'a\\"\\n: unknown field'


def test_fields_are_immutable_so_schemas_can_share_them():
    """saga's ORDER_IN_WORKFLOW is built from ORDER.fields: a field changed in one would change both."""
    field = Field(str)
    with pytest.raises(dataclasses.FrozenInstanceError):
        field.max_length = 3  # type: ignore[misc]
    assert Schema(a=field).fields == {"a": field}


def test_an_empty_body_is_required():
    for body in ("", None):
        with pytest.raises(InvalidInput, match=r"^body: required$"):
            parse_json_body(body)


def test_numbers_and_nesting_parse_as_json_does():
    assert parse_json_body('{"a": [1, 2.5, -0.0, 1e-5], "b": {"c": null}}') == {
        "a": [1, 2.5, -0.0, 1e-5],
        "b": {"c": None},
    }
    with pytest.raises(InvalidInput, match=r"^body: not valid JSON \(-1e999 is out of range\)$"):
        parse_json_body("-1e999")


def test_scalars_are_unicode_safe():
    assert is_unicode(3) is True and is_unicode(None) is True and is_unicode("é") is True
    assert is_unicode(["a", "\ud800"]) is False and is_unicode("\udfff") is False
