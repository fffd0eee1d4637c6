"""Small, fast validation of JSON request bodies with messages a caller can act on.

A pydantic model costs about 50 ms of cold start on this project's handlers; these checks cost
nothing measurable and give the same kind of message. Every problem is reported at once::

    ITEM = Schema(name=Field(str, max_length=100), quantity=Field(int, minimum=0, required=False))
    item = ITEM.validate(parse_json_body(body))   # raises InvalidInput("name: required; ...")
    key_value("id", path_id)                       # raises InvalidInput("id: longer than ...")

Besides each field's own rules, the checks refuse what DynamoDB would refuse after the handler
had taken the value: strings UTF-8 cannot carry (a lone surrogate such as ``"\\ud800"``), empty or
over-long key values, and ``NaN``/``Infinity`` or nesting too deep to parse in a body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: DynamoDB's limits on a key attribute's value, in UTF-8 bytes.
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
NOT_UNICODE = "not valid Unicode (a lone surrogate such as \\ud800), which DynamoDB cannot store"


class InvalidInput(ValueError):
    """The input breaks its schema; ``str(error)`` is safe to return to the caller."""


def key_value(name: str, value: Any, *, max_bytes: int = PARTITION_KEY_MAX_BYTES) -> str:
    """``value`` if DynamoDB can take it as a string key; else :class:`InvalidInput` naming ``name``.

    DynamoDB refuses an empty key and one over its size limit with a ``ValidationException``,
    which would reach the caller as a 5xx; ``max_bytes`` may be smaller, for a domain limit.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name}: required")
    if not is_unicode(value):
        raise InvalidInput(f"{name}: {NOT_UNICODE}")
    if len(value.encode("utf-8")) > max_bytes:
        raise InvalidInput(f"{name}: longer than {max_bytes} bytes in UTF-8")
    return value


#: DynamoDB's limits on an attribute's value: nesting, and the magnitude of a number (besides its
#: 38 significant digits, which boto3's serializer checks).
MAX_NESTING_LEVELS = 32
NUMBER_MIN_MAGNITUDE = Decimal("1E-130")
NUMBER_MAX_MAGNITUDE = Decimal("1E+126")


def storable(name: str, value: Any) -> Any:
    """``value`` if DynamoDB can store it as an attribute; else :class:`InvalidInput` naming where not.

    For free-form JSON (a request's payload) checked before anything is done with it: a number of
    more than 38 significant digits or outside 1E-130 to 1E+126 in magnitude, or nesting deeper than
    32 levels, would otherwise fail only at the write, after the work the write records.
    """
    from boto3.dynamodb.types import TypeSerializer  # imported by the handlers that store free-form JSON only

    serialize = TypeSerializer().serialize
    pending = [(name, value, 1)]
    while pending:
        path, member, level = pending.pop()
        if isinstance(member, dict | list):
            if level > MAX_NESTING_LEVELS:
                raise InvalidInput(f"{_shown(name)}: nested deeper than {MAX_NESTING_LEVELS} levels")
            children = member.items() if isinstance(member, dict) else enumerate(member)
            pending.extend(
                (f"{path}.{key}" if isinstance(member, dict) else f"{path}[{key}]", child, level + 1)
                for key, child in children
            )
        elif isinstance(member, int | float | Decimal) and not isinstance(member, bool):
            number = Decimal(str(member)) if isinstance(member, float) else Decimal(member)
            try:
                serialize(number)
            except ArithmeticError:
                raise InvalidInput(f"{_shown(path)}: more than 38 significant digits") from None
            if number and not NUMBER_MIN_MAGNITUDE <= number.copy_abs() < NUMBER_MAX_MAGNITUDE:
                raise InvalidInput(f"{_shown(path)}: out of DynamoDB's range, 1E-130 to 1E+126 in magnitude")
    return value


def is_unicode(value: Any) -> bool:
    """Whether every string in ``value`` (keys and members of objects and arrays too) is UTF-8-safe."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(is_unicode(k) and is_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_unicode(member) for member in value)
    return True


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = True
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def problems(self, name: str, value: Any) -> list[str]:
        expected = self.type if isinstance(self.type, tuple) else (self.type,)
        # bool is an int in Python but not in JSON.
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            names = " or ".join(_json_type(t) for t in expected)
            return [f"{name}: expected {names}, got {_json_type(type(value))}"]
        if not is_unicode(value):
            return [f"{name}: {NOT_UNICODE}"]
        found: list[str] = []
        if self.min_length is not None and len(value) < self.min_length:
            found.append(f"{name}: shorter than {self.min_length}")
        if self.max_length is not None and len(value) > self.max_length:
            found.append(f"{name}: longer than {self.max_length}")
        if self.minimum is not None and value < self.minimum:
            found.append(f"{name}: less than {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            found.append(f"{name}: greater than {self.maximum}")
        if self.choices is not None and value not in self.choices:
            found.append(f"{name}: must be one of {', '.join(map(str, self.choices))}")
        return found


class Schema:
    """An object schema: named fields, no unknown keys unless ``allow_extra``."""

    def __init__(self, *, allow_extra: bool = False, **fields: Field) -> None:
        self.fields = fields
        self.allow_extra = allow_extra

    def validate(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        """Return ``data`` if it fits, else raise :class:`InvalidInput` naming every problem.

        ``partial`` treats every field as optional, for updates that change some fields.
        """
        if not isinstance(data, dict):
            raise InvalidInput(f"body: expected a JSON object, got {_json_type(type(data))}")
        found: list[str] = []
        for name, field in self.fields.items():
            if name not in data or data[name] is None:
                if field.required and not partial:
                    found.append(f"{name}: required")
                continue
            found.extend(field.problems(name, data[name]))
        if not self.allow_extra:
            unknown = sorted(set(data) - set(self.fields))
            found.extend(f"{_shown(name)}: unknown field" for name in unknown[:MAX_NAMED_UNKNOWN])
            if len(unknown) > MAX_NAMED_UNKNOWN:
                found.append(f"body: {len(unknown) - MAX_NAMED_UNKNOWN} more unknown fields")
        if partial and not set(data) & set(self.fields):
            found.append(f"body: give at least one of {', '.join(self.fields)}")
        if found:
            raise InvalidInput("; ".join(found))
        return data


def parse_json_body(body: str | None) -> Any:
    """Decode a request body, turning an empty or malformed body into :class:`InvalidInput`.

    ``NaN`` and ``Infinity``, which Python's parser reads but JSON does not have, are malformed
    too, and so is nesting deeper than the parser can follow.
    """
    if not body:
        raise InvalidInput("body: required")
    try:
        return json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"body: not valid JSON ({error.msg} at position {error.pos})") from None
    except ValueError as error:  # NaN, Infinity, 1e400, an integer of more digits than Python reads
        raise InvalidInput(f"body: not valid JSON ({_shown(str(error))})") from None
    except RecursionError:
        raise InvalidInput("body: not valid JSON (nested too deeply)") from None


#: How many unknown field names a message lists, and how much of each, so it stays small.
MAX_NAMED_UNKNOWN = 10
MAX_SHOWN_CHARACTERS = 64


def _shown(text: str) -> str:
    """``text`` as a message may quote it: ASCII (escapes for the rest, lone surrogates too), cut short."""
    escaped = json.dumps(text)[1:-1]
    return escaped if len(escaped) <= MAX_SHOWN_CHARACTERS else escaped[:MAX_SHOWN_CHARACTERS] + "..."


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{_shown(text)} is out of range")
    return number


def _json_type(python_type: type) -> str:
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        dict: "object",
        list: "array",
        type(None): "null",
    }.get(python_type, python_type.__name__)
