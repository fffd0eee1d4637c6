"""EventBridge-style event patterns, as Lambda's filter criteria and EventBridge rules use them."""

from __future__ import annotations

from typing import Any


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether ``event`` matches ``pattern``: every key of the pattern must match."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(p, event) for p in expected):
                return False
            continue
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif not any(_matches_rule(rule, value, present) for rule in expected):
            return False
    return True


def _matches_rule(rule: Any, value: Any, present: bool) -> bool:
    values = value if isinstance(value, list) else [value]
    if not isinstance(rule, dict):
        return present and rule in values
    if "exists" in rule:
        return present == rule["exists"]
    if not present:
        return False
    if "prefix" in rule:
        return any(isinstance(v, str) and v.startswith(rule["prefix"]) for v in values)
    if "suffix" in rule:
        return any(isinstance(v, str) and v.endswith(rule["suffix"]) for v in values)
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return all(v not in excluded for v in values)
    if "equals-ignore-case" in rule:
        return any(isinstance(v, str) and v.lower() == rule["equals-ignore-case"].lower() for v in values)
    if "numeric" in rule:
        return any(isinstance(v, int | float) and _numeric(rule["numeric"], v) for v in values)
    raise ValueError(f"filter rule {rule} is not supported offline")


def _numeric(conditions: list[Any], value: float) -> bool:
    checks = {"<": float.__lt__, "<=": float.__le__, "=": float.__eq__, ">": float.__gt__, ">=": float.__ge__}
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(checks[op](float(value), float(bound)) for op, bound in pairs)
