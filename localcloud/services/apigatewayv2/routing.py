"""Which route of an HTTP API serves a request, in AWS's order of priority.

The most specific route wins: a route whose path matches without a greedy variable (its literal
parts before its ``{variables}``, part by part) and whose method is the request's (before ``ANY``),
then a route ending in a greedy ``{proxy+}`` (the longest first), then ``$default``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from localcloud.services.apigatewayv2.model import Api, Route


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]


def route(api: Api, method: str, path: str) -> Match | None:
    """The route serving ``method path`` (``path`` below the stage), or None: a 404."""
    parts = [p for p in path.split("/")[1:]] if path != "/" else []
    ranked: list[tuple[tuple[int, ...], Match]] = []
    for candidate in api.routes.values():
        if candidate.path is None or candidate.method not in (method, "ANY"):
            continue
        found = _match(candidate.path, parts)
        if found is None:
            continue
        literal, greedy, parameters = found
        rank = (0 if greedy else 1, *literal, len(literal), 1 if candidate.method == method else 0)
        ranked.append((rank, Match(candidate, parameters)))
    if ranked:
        return max(ranked, key=lambda item: item[0])[1]
    default = api.routes.get("$default")
    return Match(default, {}) if default is not None else None


def _match(route_path: str, parts: list[str]) -> tuple[list[int], bool, dict[str, str]] | None:
    """Per route part whether it was literal, whether it ended greedy, and the captured values."""
    wanted = [] if route_path == "/" else route_path[1:].split("/")
    literal: list[int] = []
    parameters: dict[str, str] = {}
    for index, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            rest = parts[index:]
            if not rest or not "/".join(rest):
                return None
            parameters[part[1:-2]] = unquote("/".join(rest))
            return literal, True, parameters
        if index >= len(parts):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not parts[index]:
                return None
            parameters[part[1:-1]] = unquote(parts[index])
            literal.append(0)
        elif part == parts[index]:
            literal.append(1)
        else:
            return None
    if len(parts) != len(wanted):
        return None
    return literal, False, parameters
