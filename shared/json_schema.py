"""A small JSON Schema validator: the subset a message schema needs, with errors naming the field.

A full validator (``jsonschema``, or ``fastjsonschema`` through Powertools' ``validation``) is a
dependency to ship and a cost at cold start; a message contract needs only types, required and
unknown fields, enums, lengths, patterns, bounds and arrays. :data:`KEYWORDS` lists what is
checked; :func:`check_schema` refuses a schema using anything else, so a schema is never half
enforced. Every problem is reported at once, each with its field's path::

    validate(schema, {"order": {"total_cents": "12"}})
    # InvalidInput("event_id: required; order.total_cents: expected integer, got string")
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from shared.validation import InvalidInput

#: The keywords this validator enforces; ``ANNOTATIONS`` are allowed and change nothing.
KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
    }
)
ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "examples", "$comment"})
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


class SchemaError(ValueError):
    """The schema itself uses what this validator does not enforce, or is malformed."""


@lru_cache(maxsize=64)
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` (an ECMA-262 regular expression) compiled for Python's ``re``.

    In ECMA-262, ``$`` matches only at the end of the text; in Python it also matches before a
    final newline, so ``^[A-Z]{2}$`` would let ``"FR\\n"`` through. Each ``$`` outside a character
    class becomes ``\\Z``; the rest is the same in both for the patterns a schema uses.
    """
    translated, escaped, in_class = [], False, False
    for character in pattern:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif in_class:
            in_class = character != "]"
        elif character == "[":
            in_class = True
        elif character == "$":
            character = r"\Z"
        translated.append(character)
    return re.compile("".join(translated))


def check_schema(schema: Mapping[str, Any], path: str = "") -> None:
    """Raise :class:`SchemaError` naming the first keyword this validator would not enforce."""
    where = path or "the schema"
    unknown = sorted(set(schema) - KEYWORDS - ANNOTATIONS)
    if unknown:
        raise SchemaError(f"{where}: {unknown[0]} is not supported; use {', '.join(sorted(KEYWORDS))}")
    types = schema.get("type")
    for name in [types] if isinstance(types, str) else types or []:
        if name not in _TYPES:
            raise SchemaError(f"{where}: type {name!r} is not a JSON Schema type")
    if "additionalProperties" in schema and not isinstance(schema["additionalProperties"], bool):
        raise SchemaError(f"{where}: additionalProperties must be true or false here")
    if "pattern" in schema:
        try:
            ecma_pattern(schema["pattern"])
        except re.error as error:
            raise SchemaError(f"{where}: pattern does not compile: {error}") from None
    for name, child in schema.get("properties", {}).items():
        check_schema(child, _join(path, name))
    if "items" in schema:
        check_schema(schema["items"], f"{path}[]")


def validate(schema: Mapping[str, Any], instance: Any) -> Any:
    """``instance`` if it matches ``schema``; else :class:`InvalidInput` listing each problem by field."""
    problems = problems_of(schema, instance)
    if problems:
        raise InvalidInput("; ".join(problems))
    return instance


def problems_of(schema: Mapping[str, Any], instance: Any, path: str = "") -> list[str]:
    """Every way ``instance`` breaks ``schema``, as ``"field.path: what is wrong"``."""
    where = path or "message"
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(instance, name) for name in names):
            return [f"{where}: expected {' or '.join(names)}, got {_json_type(instance)}"]
    if "enum" in schema and not any(_same(instance, option) for option in schema["enum"]):
        return [f"{where}: must be one of {', '.join(map(_shown, schema['enum']))}"]
    found: list[str] = []
    if isinstance(instance, str):
        if "minLength" in schema and len(instance) < schema["minLength"]:
            found.append(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            found.append(f"{where}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not ecma_pattern(schema["pattern"]).search(instance):
            found.append(f"{where}: does not match {schema['pattern']}")
    if _is(instance, "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            found.append(f"{where}: less than {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            found.append(f"{where}: more than {schema['maximum']}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in instance:
                found.append(f"{_join(path, name)}: required")
        for name, value in instance.items():
            if name in properties:
                found.extend(problems_of(properties[name], value, _join(path, name)))
            elif schema.get("additionalProperties") is False:
                found.append(f"{_join(path, name)}: not a field of this message")
    if isinstance(instance, list):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            found.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            found.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(instance):
                found.extend(problems_of(schema["items"], item, f"{path}[{index}]"))
    return found


def _is(value: Any, name: str) -> bool:
    """JSON's types: a bool is not a number, and 1.0 is an integer (as JSON Schema says)."""
    if isinstance(value, bool):
        return name == "boolean"
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _same(value: Any, option: Any) -> bool:
    return value == option and isinstance(value, bool) == isinstance(option, bool)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: Any) -> str:
    return json.dumps(value)


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "object", "array"):
        if _is(value, name) and not (name == "integer" and isinstance(value, float)):
            return name
    return type(value).__name__
