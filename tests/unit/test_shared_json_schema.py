"""The shared JSON Schema validator's keywords at their limits: each bound holds at the limit and
refuses one past it, with the problem named by the field's path."""

from __future__ import annotations

import pytest

from shared.json_schema import SchemaError, check_schema, problems_of, validate
from shared.validation import InvalidInput

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("schema", "at_limit", "past_limit", "problem"),
    [
        ({"type": "string", "minLength": 2}, "ab", "a", "shorter than 2 characters"),
        ({"type": "string", "maxLength": 3}, "abc", "abcd", "longer than 3 characters"),
        ({"type": "integer", "minimum": 1}, 1, 0, "less than 1"),
        ({"type": "number", "minimum": 0.5}, 0.5, 0.49, "less than 0.5"),
        ({"type": "integer", "maximum": 10}, 10, 11, "more than 10"),
        ({"type": "number", "maximum": 2.5}, 2.5, 2.51, "more than 2.5"),
        ({"type": "array", "minItems": 2}, [1, 2], [1], "fewer than 2 items"),
        ({"type": "array", "maxItems": 2}, [1, 2], [1, 2, 3], "more than 2 items"),
        # ECMA-262's $ is the end of the text: Python's would match before a final newline.
        ({"type": "string", "pattern": "^[A-Z]{2}$"}, "FR", "FR\n", "does not match ^[A-Z]{2}$"),
        ({"type": "string", "pattern": "^a\\$$"}, "a$", "a$\n", "does not match ^a\\$$"),
        ({"type": "string", "pattern": "^[$]+$"}, "$$", "$$\n", "does not match ^[$]+$"),
    ],
)
def test_a_bound_holds_at_its_limit_and_refuses_one_past_it(schema, at_limit, past_limit, problem):
    message = {"type": "object", "properties": {"field": schema}}
    assert problems_of(message, {"field": at_limit}) == []
    assert problems_of(message, {"field": past_limit}) == [f"field: {problem}"]


def test_an_array_with_only_a_lower_bound_has_no_upper_one():
    assert problems_of({"type": "array", "minItems": 1}, list(range(1000))) == []


def test_a_whole_float_is_an_integer_and_a_fraction_is_not():
    schema = {"type": "object", "properties": {"count": {"type": "integer"}}}
    assert validate(schema, {"count": 3.0}) == {"count": 3.0}
    with pytest.raises(InvalidInput, match=r"^count: expected integer, got number$"):
        validate(schema, {"count": 3.5})
    with pytest.raises(InvalidInput, match=r"^count: expected integer, got boolean$"):
        validate(schema, {"count": True})


def test_a_value_json_cannot_hold_is_named_by_its_python_type():
    schema = {"type": "object", "properties": {"tags": {"type": "array"}}}
    assert problems_of(schema, {"tags": {"a", "b"}}) == ["tags: expected array, got set"]


def test_every_problem_is_reported_with_its_path():
    schema = {
        "type": "object",
        "required": ["event_id", "order"],
        "additionalProperties": False,
        "properties": {
            "event_id": {"type": "string", "pattern": "^[a-z]+$"},
            "order": {
                "type": "object",
                "properties": {
                    "status": {"enum": ["NEW", "PAID"]},
                    "lines": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                },
            },
        },
    }
    problems = problems_of(schema, {"order": {"status": "LOST", "lines": [1, 0]}, "extra": 1})
    assert problems == [
        "event_id: required",
        'order.status: must be one of "NEW", "PAID"',
        "order.lines[1]: less than 1",
        "extra: not a field of this message",
    ]


def test_a_schema_naming_keywords_it_would_not_enforce_is_refused_at_the_first():
    with pytest.raises(SchemaError, match=r"^the schema: allOf is not supported"):
        check_schema({"type": "object", "oneOf": [], "allOf": []})
    with pytest.raises(SchemaError, match=r"^tags\[\]: exclusiveMinimum is not supported"):
        check_schema(
            {"type": "object", "properties": {"tags": {"type": "array", "items": {"exclusiveMinimum": 0}}}}
        )
    check_schema({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}})
