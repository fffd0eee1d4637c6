"""The ``Try:`` lines ``serve`` prints: a curl line per route of each served API, in an order that
works when pasted one after another.

Each line must work as printed (tests/e2e/test_try_lines.py replays every registered pattern's):
``ANY`` routes are shown as ``GET`` (curl would send a method called ``ANY``), a path parameter is
filled with :data:`EXAMPLE` (``{proxy+}`` with ``example/path``) rather than left as ``{id}``, which
curl would expand as a glob, a body comes from the method's request model, and a route behind a
Lambda or Cognito authorizer sends the token from ``$TOKEN`` (what ``serve`` prints under
``Outputs:`` says how to get one); a route whose requests are signed (a webhook's HMAC) gets a line
that signs in the shell (:mod:`localcloud.signed_lines`). Creating methods come first, deleting ones last, so an id a
``PUT`` chooses is there for the ``GET`` that follows.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import TYPE_CHECKING

from localcloud.signed_lines import signed_curl, signing

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.core.front_doors import FrontDoor
    from localcloud.services.apigateway.gateway import Route

#: What a path parameter is filled with.
EXAMPLE = "example"
#: The shell variable a route behind an authorizer reads its token from.
TOKEN_VARIABLE = "TOKEN"  # noqa: S105 - a variable name, not a secret
#: The order methods are shown in: what creates before what reads, what deletes last.
_ORDER = {"POST": 0, "PUT": 1, "PATCH": 2, "GET": 3, "HEAD": 4, "DELETE": 5}
_WITH_BODY = {"POST", "PUT", "PATCH"}
_PARAMETER = re.compile(r"\{([^}/]+)\}")


def door_lines(cloud: LocalCloud, door: FrontDoor) -> list[str]:
    """Lines for one front door: curl lines for an API, the AWS CLI for the AWS endpoint, a plain
    curl for a distribution."""
    if door.kind == "aws":
        from localcloud.aws_endpoint.door import aws_examples

        return aws_examples(cloud, door.url)
    if door.kind == "http-api":
        from localcloud.services.apigatewayv2.examples import curl_lines

        return curl_lines(cloud.service("apigatewayv2"), door.resource_id, door.url)
    if door.kind == "cognito":
        from localcloud.services.cognito.door import try_lines as cognito_lines

        return cognito_lines(cloud.kernel, door)
    if door.kind == "websocket":
        from localcloud.services.apigatewayv2.websocket.server import try_lines

        return try_lines(cloud.kernel, door)
    if door.kind != "api":
        return [f"curl -i {door.url}"]
    return api_lines(cloud, door.resource_id, door.url)


def api_lines(cloud: LocalCloud, api_id: str, url: str) -> list[str]:
    """One curl line per (method, path) of the API, ``ANY`` as ``GET``, OPTIONS left out."""
    shown: dict[tuple[str, str], Route] = {}
    for route in cloud.apigateway.routes(api_id):
        method = "GET" if route.method == "ANY" else route.method
        if method != "OPTIONS":
            shown.setdefault((method, route.path), route)
    ordered = sorted(shown.items(), key=lambda item: (_ORDER.get(item[0][0], 3), item[0][1]))
    return [_curl(cloud, method, url.rstrip("/") + filled(path), route) for (method, path), route in ordered]


def filled(path: str) -> str:
    """``/items/{id}`` as a client would call it: ``/items/example``."""
    return _PARAMETER.sub(lambda found: "example/path" if found[1].endswith("+") else EXAMPLE, path)


def _curl(cloud: LocalCloud, method: str, url: str, route: Route) -> str:
    parts = [f"curl -i -X {method} {url}"]
    header = _token_header(route)
    if header:
        parts.append(f'-H "{header}"')
    key = _api_key(cloud, route)
    if key:
        parts.append(f"-H {shlex.quote(f'x-api-key: {key}')}")
    if method in _WITH_BODY:
        body = json.dumps(route.example_body())
        signed = _signing(cloud, route)
        if signed is not None:
            return signed_curl(signed, " ".join(parts), "application/json", body)
        parts.append(f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")
    return " ".join(parts)


def _token_header(route: Route) -> str | None:
    """``Authorization: Bearer $TOKEN`` for a route behind a Lambda or Cognito authorizer: the
    header its identity source names, with the prefix its validation expression asks for."""
    method = _method(route)
    if method is None or method.authorization_type not in {"CUSTOM", "COGNITO_USER_POOLS"}:
        return None
    authorizer = route.api.authorizers.get(method.authorizer_id or "")
    name = "Authorization"
    prefix = ""
    if authorizer is not None:
        headers = [s.rsplit(".", 1)[-1] for s in authorizer.identity_sources if ".header." in s]
        name = headers[0] if headers else name
        expression = authorizer.validation_expression or ""
        if expression.startswith("^Bearer "):
            prefix = "Bearer "
    if authorizer is not None and authorizer.type == "COGNITO_USER_POOLS":
        prefix = ""
    return f"{name}: {prefix}${TOKEN_VARIABLE}"


def _signing(cloud: LocalCloud, route: Route) -> dict | None:
    """How the route's requests are signed, if its method says (:mod:`localcloud.signed_lines`)."""
    method = _method(route)
    return signing(cloud, method.logical_id) if method is not None else None


def _api_key(cloud: LocalCloud, route: Route) -> str | None:
    """The value of an API key of the stack, for a method that requires one."""
    method = _method(route)
    if method is None or not method.api_key_required:
        return None
    for resource_type, props in cloud.apigateway.definitions.values():
        if resource_type == "AWS::ApiGateway::ApiKey" and "Value" in props:
            return str(props["Value"])
    return None


def _method(route: Route):
    from localcloud.services.apigateway.routing import methods_of

    for method in methods_of(route.api.root):
        if method.http_method == route.method and method.resource.path == route.path:
            return method
    return None


def output_lines(cloud: LocalCloud) -> list[str]:
    """``Name = value``, with the output's description, for each output of the stack."""
    outputs = cloud.artifact.template.get("Outputs", {})
    lines = []
    for name, value in cloud.outputs.items():
        description = outputs.get(name, {}).get("Description")
        lines.append(f"{name} = {value}" + (f"\n      {description}" if description else ""))
    return lines
