"""The IAM policy a Lambda authorizer answers, read and decided as API Gateway does it for REST
methods, HTTP API routes and a WebSocket ``$connect``: one place for all three.

A policy API Gateway cannot read (no statements, a statement that is not an object, an ``Effect``
other than Allow or Deny, an ``Action`` or ``Resource`` that is not a string or a list of strings)
is the authorizer's configuration error, a 500 to the client. A readable one lets the request in
when a statement allows ``execute-api:Invoke`` on its ARN and none denies it.
"""

from __future__ import annotations

from typing import Any

from localcloud.core.iam import Statement

ACTION = "execute-api:Invoke"
_LISTS = ("Action", "NotAction", "Resource", "NotResource")


def problem(policy: Any) -> str:
    """Why ``policy`` is not a policy document API Gateway can use; empty when it is one."""
    if not isinstance(policy, dict) or not policy.get("Statement"):
        return "no policyDocument with statements"
    raw = policy["Statement"]
    for index, statement in enumerate([raw] if isinstance(raw, dict) else _as_list(raw)):
        if not isinstance(statement, dict):
            return f"Statement {index} is not an object"
        if str(statement.get("Effect", "")).lower() not in ("allow", "deny"):
            return f"Statement {index}'s Effect is {statement.get('Effect')!r}, not Allow or Deny"
        for key in _LISTS:
            value = statement.get(key)
            if value is not None and not all(isinstance(v, str) for v in _as_list(value)):
                return f"Statement {index}'s {key} is not a string or a list of strings"
    return ""


def effect(policy: dict[str, Any], arn: str) -> str | None:
    """``Deny`` when a statement denies ``execute-api:Invoke`` on ``arn``, else ``Allow`` when one
    allows it, else None; ``policy`` has passed :func:`problem`."""
    raw = policy["Statement"]
    found = None
    for statement in [raw] if isinstance(raw, dict) else raw:
        compiled = Statement(
            effect=str(statement["Effect"]),
            actions=_as_list(statement.get("Action")),
            resources=_as_list(statement.get("Resource")),
            not_actions=_as_list(statement.get("NotAction")),
            not_resources=_as_list(statement.get("NotResource")),
        )
        if compiled.covers_action(ACTION) is None or not compiled.covers_resource(arn):
            continue
        if compiled.effect.lower() == "deny":
            return "Deny"
        found = "Allow"
    return found


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) or not isinstance(value, list) else value
