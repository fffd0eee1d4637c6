"""The ``Try:`` lines ``serve`` prints for an HTTP API: a curl line per route of each stage, in the
same rules as a REST API's (:mod:`localcloud.try_lines`): ``ANY`` as ``GET``, ``{id}`` filled with
``example`` (``{proxy+}`` with ``example/path``), creating methods first and deleting ones last, a
JSON body for methods that take one, and ``$TOKEN`` in the header a JWT or Lambda authorizer reads.
``$default`` is shown as a ``GET`` of the stage's root when no route serves it."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.gateway import ApiGatewayV2
    from localcloud.services.apigatewayv2.model import Api, Route

_ORDER = {"POST": 0, "PUT": 1, "PATCH": 2, "GET": 3, "HEAD": 4, "DELETE": 5}
_WITH_BODY = {"POST", "PUT", "PATCH"}
_PARAMETER = re.compile(r"\{([^}/]+)\}")
TOKEN_VARIABLE = "TOKEN"  # noqa: S105 - a variable name, not a secret


def curl_lines(gateway: ApiGatewayV2, api_id: str, url: str) -> list[str]:
    api = gateway.apis[api_id]
    base = url.rstrip("/")
    lines = []
    for stage in sorted(api.stages, key=lambda name: (name != "$default", name)):
        prefix = "" if stage == "$default" else f"/{stage}"
        shown: dict[tuple[str, str], Route] = {}
        for route in api.routes.values():
            if route.path is None:
                continue
            method = "GET" if route.method == "ANY" else str(route.method)
            if method != "OPTIONS":
                shown.setdefault((method, route.path), route)
        if "$default" in api.routes and ("GET", "/") not in shown:
            shown[("GET", "/")] = api.routes["$default"]
        ordered = sorted(shown.items(), key=lambda item: (_ORDER.get(item[0][0], 3), item[0][1]))
        lines.extend(
            _curl(api, method, f"{base}{prefix}{_filled(path)}", route) for (method, path), route in ordered
        )
    return lines


def _filled(path: str) -> str:
    return _PARAMETER.sub(lambda found: "example/path" if found[1].endswith("+") else "example", path)


def _curl(api: Api, method: str, url: str, route: Route) -> str:
    parts = [f"curl -i -X {method} {url}"]
    authorizer = api.authorizers.get(route.authorizer_id or "")
    if authorizer is not None:
        headers = [
            s.removeprefix("$request.header.")
            for s in authorizer.identity_sources
            if s.startswith("$request.header.")
        ]
        name = headers[0] if headers else "Authorization"
        prefix = "Bearer " if authorizer.type == "JWT" else ""
        parts.append(f'-H "{name}: {prefix}${TOKEN_VARIABLE}"')
    if method in _WITH_BODY:
        parts.append(f"-H 'Content-Type: application/json' -d {shlex.quote('{}')}")
    return " ".join(parts)
