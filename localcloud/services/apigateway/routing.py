"""Which resource and method serve a request path, as API Gateway chooses.

At each level a literal path part wins over a ``{variable}``, which wins over a greedy
``{proxy+}`` (which takes the rest of the path, one part or more). When the most specific
resource has neither the request's method nor ``ANY``, the next most specific one that does
serves it; when none does, API Gateway answers 403 ``Missing Authentication Token``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from localcloud.services.apigateway.model import Method, Resource


@dataclass
class Match:
    method: Method
    path_parameters: dict[str, str]


def route(root: Resource, path: str, http_method: str) -> Match | None:
    """The method serving ``http_method`` on ``path`` (relative to the stage), with its path parameters."""
    parts = [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []
    for resource, parameters in _candidates(root, parts, {}):
        method = resource.methods.get(http_method.upper()) or resource.methods.get("ANY")
        if method is not None:
            return Match(method, parameters)
    return None


def _candidates(
    resource: Resource, parts: list[str], parameters: dict[str, str]
) -> Iterator[tuple[Resource, dict[str, str]]]:
    """Resources matching ``parts`` below ``resource``, most specific first."""
    if not parts:
        yield resource, parameters
        return
    head, rest = parts[0], parts[1:]
    ranked = sorted(resource.children, key=lambda child: (child.greedy, child.variable is not None))
    for child in ranked:
        if child.greedy:
            yield child, {**parameters, child.variable or "proxy": "/".join(parts)}
        elif child.variable is not None:
            if head:
                yield from _candidates(child, rest, {**parameters, child.variable: head})
        elif child.path_part == head:
            yield from _candidates(child, rest, parameters)


def methods_of(root: Resource) -> list[Method]:
    """Every method of an API, by path then method name."""
    found, pending = [], [root]
    while pending:
        resource = pending.pop()
        found.extend(resource.methods.values())
        pending.extend(resource.children)
    return sorted(found, key=lambda m: (m.resource.path, m.http_method))
