"""The JSON path subset AWS services evaluate on events: ``$``, ``$.a.b``, ``$.a[0].b``.

EventBridge input paths and partition key paths and CloudWatch Logs JSON filter patterns use it.
Wildcards and filter expressions are not supported: they raise, naming the path.
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.errors import LocalCloudError

MISSING = object()
"""What a path that leads nowhere selects (distinct from a JSON ``null``)."""

_STEP = re.compile(r"\.([^.\[\]*]+)|\[(\d+)\]")


def select(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or :data:`MISSING`."""
    value = document
    for key, index in steps(path):
        if index is not None:
            if not isinstance(value, list) or index >= len(value):
                return MISSING
            value = value[index]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return MISSING
    return value


def steps(path: str) -> list[tuple[str | None, int | None]]:
    """``$.a[0]`` as ``[("a", None), (None, 0)]``; raises for what is not supported."""
    text = path.strip()
    if not text.startswith("$"):
        raise LocalCloudError(f"JSON path {path!r} must start with '$'")
    parsed: list[tuple[str | None, int | None]] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise LocalCloudError(
                f"JSON path {path!r}: only dot notation and array indexes are supported offline"
            )
        parsed.append((match[1], None) if match[1] is not None else (None, int(match[2])))
        position = match.end()
    return parsed
