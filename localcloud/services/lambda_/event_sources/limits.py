"""A stream mapping's whole-number settings held to Lambda's ranges, refused in Lambda's words."""

from __future__ import annotations

from typing import Any

from localcloud.errors import InvalidRequest


def setting_in_range(props: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """``props[key]`` (``default`` if absent) as an int, or the ValidationException Lambda answers
    when it is outside ``low`` to ``high`` (the message names the field in camel case)."""
    value = int(props.get(key, default))
    if not low <= value <= high:
        relation = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
        raise InvalidRequest(
            f"ValidationException: 1 validation error detected: Value '{value}' at "
            f"'{key[0].lower()}{key[1:]}' failed to satisfy constraint: Member must have value {relation}"
        )
    return value
