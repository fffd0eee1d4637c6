"""A stream mapping's whole-number settings held to Lambda's ranges, refused in Lambda's words."""

from __future__ import annotations

from typing import Any

from localcloud.errors import InvalidRequest, out_of_range


def setting_in_range(props: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """``props[key]`` (``default`` if absent) as an int, or the ValidationException Lambda answers
    when it is outside ``low`` to ``high`` (the message names the field in camel case)."""
    value = int(props.get(key, default))
    problem = out_of_range(f"{key[0].lower()}{key[1:]}", value, low, high)
    if problem:
        raise InvalidRequest(f"ValidationException: 1 validation error detected: {problem}")
    return value
