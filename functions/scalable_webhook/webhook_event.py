"""The webhook contract, read from ``webhook_contract.json``: the one source the construct reads too.

The construct turns ``event_schema`` into API Gateway's request model; this module turns it into the
handlers' :class:`Schema`, so the API and the functions refuse the same bodies. ``max_body_bytes``
and ``signature`` describe what a sender must respect and send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.json_schema import ecma_pattern
from shared.validation import Field, InvalidInput, Schema

CONTRACT: dict[str, Any] = json.loads(Path(__file__).with_name("webhook_contract.json").read_text())
SIGNATURE: dict[str, Any] = CONTRACT["signature"]
#: Largest webhook accepted, raw and as queued: under SQS's message size and DynamoDB's item size.
MAX_BODY_BYTES: int = CONTRACT["max_body_bytes"]

_TYPES: dict[str, type] = {"string": str, "object": dict, "integer": int, "boolean": bool, "array": list}


class _PatternField(Field):
    """A string field that must also match a regular expression (JSON schema's ``pattern``, read as
    ECMA-262 reads it: ``$`` is the end of the text, never before a final newline)."""

    def __init__(self, pattern: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        object.__setattr__(self, "pattern", ecma_pattern(pattern))
        object.__setattr__(self, "source", pattern)

    def problems(self, name: str, value: Any) -> list[str]:
        found = super().problems(name, value)
        if not found and not self.pattern.search(value):  # type: ignore[attr-defined]
            found.append(f"{name}: must match {self.source}")  # type: ignore[attr-defined]
        return found


def schema_from_json(schema: dict[str, Any]) -> Schema:
    """The handlers' :class:`Schema` for a flat JSON-schema object; an unknown keyword is an error,
    so the contract never says more than the handlers enforce."""
    known = {"type", "minLength", "maxLength", "minimum", "maximum", "pattern", "enum"}
    fields: dict[str, Field] = {}
    for name, rules in schema["properties"].items():
        if set(rules) - known:
            raise ValueError(f"webhook contract: {name}: unsupported keywords {sorted(set(rules) - known)}")
        options: dict[str, Any] = {
            "type": _TYPES[rules["type"]],
            "required": name in schema.get("required", ()),
            "min_length": rules.get("minLength"),
            "max_length": rules.get("maxLength"),
            "minimum": rules.get("minimum"),
            "maximum": rules.get("maximum"),
            "choices": tuple(rules["enum"]) if "enum" in rules else None,
        }
        fields[name] = _PatternField(rules["pattern"], **options) if "pattern" in rules else Field(**options)
    return Schema(allow_extra=schema.get("additionalProperties", True) is not False, **fields)


WEBHOOK_EVENT = schema_from_json(CONTRACT["event_schema"])


def parse_webhook(body: bytes) -> dict[str, Any]:
    """The webhook in ``body`` if it is strict JSON that fits the contract; else :class:`InvalidInput`.

    Stricter than ``json.loads``: ``NaN`` and ``Infinity`` are not JSON, and neither is a number too
    large for a float (``1e400``, which Python reads as infinity and would queue as ``Infinity``);
    nesting deeper than Python can parse and integers longer than it converts are refused rather
    than raised.
    """
    try:
        return WEBHOOK_EVENT.validate(json.loads(body, parse_constant=_not_json, parse_float=_finite))
    except json.JSONDecodeError as error:
        raise InvalidInput(f"body: not valid JSON ({error.msg} at position {error.pos})") from None
    except UnicodeDecodeError:
        raise InvalidInput("body: not UTF-8") from None
    except RecursionError:
        raise InvalidInput("body: nested too deeply") from None
    except ValueError as error:  # InvalidInput included; also ints over Python's digit limit
        raise InvalidInput(
            str(error) if isinstance(error, InvalidInput) else "body: number too long"
        ) from None


def _not_json(constant: str) -> Any:
    raise InvalidInput(f"body: {constant} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise InvalidInput(f"body: {text[:20]} is out of range for a JSON number")
    return number
