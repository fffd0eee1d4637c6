"""An HTTP API's CORS configuration, applied as API Gateway applies it.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered by API
Gateway itself, 204, before any route or authorizer: with the allow headers when the origin,
method and requested headers are allowed, without them otherwise. Any other request with an
``Origin`` gets ``Access-Control-Allow-Origin`` (and the credentials and expose headers) when the
origin is allowed; CORS headers a backend sent are dropped either way, as API Gateway ignores them
once the API has a CORS configuration. Origins may be ``*``, exact, or ``https://*``/``http://*``.
"""

from __future__ import annotations

import fnmatch

from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.services.apigatewayv2.model import Cors


def is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS"
        and bool(request.header("Origin"))
        and bool(request.header("Access-Control-Request-Method"))
    )


def preflight(cors: Cors, request: HttpRequest, request_id: str) -> HttpResponse:
    headers: dict[str, list[str]] = {"apigw-requestid": [request_id]}
    origin = request.header("Origin") or ""
    method = (request.header("Access-Control-Request-Method") or "").upper()
    asked = [
        h.strip().lower()
        for h in (request.header("Access-Control-Request-Headers") or "").split(",")
        if h.strip()
    ]
    allowed_origin = _allowed_origin(cors, origin)
    method_ok = "*" in cors.allow_methods or method in cors.allow_methods
    headers_ok = "*" in cors.allow_headers or all(h in cors.allow_headers for h in asked)
    if allowed_origin is not None and method_ok and headers_ok:
        headers["access-control-allow-origin"] = [allowed_origin]
        headers["access-control-allow-methods"] = [",".join(cors.allow_methods)]
        if cors.allow_headers:
            shown = asked if "*" in cors.allow_headers and asked else cors.allow_headers
            headers["access-control-allow-headers"] = [",".join(shown)]
        if cors.allow_credentials:
            headers["access-control-allow-credentials"] = ["true"]
        if cors.max_age is not None:
            headers["access-control-max-age"] = [str(cors.max_age)]
        if allowed_origin != "*":
            headers["vary"] = ["origin"]
    return HttpResponse(204, headers, b"")


def decorate(cors: Cors, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """``response`` with the backend's CORS headers replaced by the configuration's."""
    kept = {
        name: values
        for name, values in response.headers.items()
        if not name.lower().startswith("access-control-")
    }
    allowed_origin = _allowed_origin(cors, request.header("Origin") or "")
    if allowed_origin is not None:
        kept["access-control-allow-origin"] = [allowed_origin]
        if cors.allow_credentials:
            kept["access-control-allow-credentials"] = ["true"]
        if cors.expose_headers:
            kept["access-control-expose-headers"] = [",".join(cors.expose_headers)]
        if allowed_origin != "*":
            kept["vary"] = ["origin"]
    return HttpResponse(response.status, kept, response.body)


def _allowed_origin(cors: Cors, origin: str) -> str | None:
    """What ``Access-Control-Allow-Origin`` says for ``origin``: ``*``, the origin, or None (not allowed)."""
    if not origin:
        return None
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials else "*"
    for pattern in cors.allow_origins:
        if (pattern.endswith("://*") and origin.startswith(pattern[:-1])) or pattern.rstrip(
            "/"
        ) == origin.rstrip("/"):
            return origin
        if "*" in pattern and fnmatch.fnmatchcase(origin, pattern):
            return origin
    return None
