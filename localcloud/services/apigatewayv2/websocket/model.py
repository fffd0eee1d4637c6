"""A WebSocket API as the gateway serves it: routes by key, their Lambda integrations and the
``$connect`` authorizer, read from the ``AWS::ApiGatewayV2::*`` resources of ``ProtocolType``
``WEBSOCKET``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: The name the WebSocket service's state is reached by: ``kernel.service(SERVICE_NAME)``.
SERVICE_NAME = "apigatewayv2-websocket"
#: An integration or authorizer URI naming a Lambda function (``.../functions/{arn}/invocations``).
FUNCTION_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")
#: ``$request.body.action`` (or ``${request.body.action}``): the JSON path the route key is read from.
BODY_SELECTION = re.compile(r"^\$\{?request\.body\.(?P<path>[A-Za-z0-9_.-]+)\}?$")
#: The integration timeout of a WebSocket API: 29 s at most.
DEFAULT_TIMEOUT_MS = 29_000


@dataclass
class WsIntegration:
    id: str
    function_arn: str
    credentials: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    unserved: str = ""
    """What the local cloud does not serve of it (a type other than Lambda proxy): its routes answer 500."""


@dataclass
class WsAuthorizer:
    id: str
    name: str
    function_arn: str
    identity_sources: list[str]
    credentials: str | None = None


@dataclass
class WsRoute:
    id: str
    key: str
    target: str | None
    """The integration's id (``integrations/{id}`` in the template)."""
    authorizer_id: str | None = None
    two_way: bool = False
    """A ``RouteResponseSelectionExpression``: the integration's answer goes back to the client."""
    authorization_type: str = "NONE"


@dataclass
class WebSocketApi:
    id: str
    logical_id: str
    name: str
    selection_expression: str
    routes: dict[str, WsRoute] = field(default_factory=dict)
    integrations: dict[str, WsIntegration] = field(default_factory=dict)
    authorizers: dict[str, WsAuthorizer] = field(default_factory=dict)
    stages: dict[str, dict[str, str]] = field(default_factory=dict)
    """Stage name -> its stage variables."""

    def route_key(self, body: str | bytes) -> str | None:
        """The route a message takes: the key its body selects, else ``$default``, else None."""
        import json

        match = BODY_SELECTION.match(self.selection_expression)
        selected: Any = None
        if match is not None and isinstance(body, str):
            try:
                selected = json.loads(body)
            except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
                selected = None
            for part in match["path"].split("."):
                selected = selected.get(part) if isinstance(selected, dict) else None
        if isinstance(selected, str) and selected in self.routes and not selected.startswith("$"):
            return selected
        return "$default" if "$default" in self.routes else None

    def integration_of(self, route: WsRoute) -> WsIntegration | None:
        return self.integrations.get(route.target or "")


def from_shared(api: Any) -> WebSocketApi:
    """The served view of a WebSocket API of the shared ``apigatewayv2`` model (which the
    ``AWS::ApiGatewayV2::*`` provisioners fill, for both protocols)."""
    served = WebSocketApi(api.id, api.logical_id, api.name, api.route_selection_expression)
    for integration in api.integrations.values():
        match = FUNCTION_URI.search(integration.uri or "")
        unserved = ""
        if integration.type != "AWS_PROXY" or match is None:
            unserved = f"a {integration.type} integration to {integration.uri or 'nothing'}"
        elif integration.request_templates or integration.template_selection_expression:
            unserved = "an integration with request templates"
        served.integrations[integration.id] = WsIntegration(
            integration.id,
            match["arn"] if match and not unserved else "",
            integration.credentials,
            min(integration.timeout_ms, DEFAULT_TIMEOUT_MS),
            unserved,
        )
    for authorizer in api.authorizers.values():
        match = FUNCTION_URI.search(authorizer.uri or "")
        served.authorizers[authorizer.id] = WsAuthorizer(
            authorizer.id,
            authorizer.name,
            match["arn"] if match else "",
            list(authorizer.identity_sources),
            authorizer.credentials,
        )
    for key, route in api.routes.items():
        served.routes[key] = WsRoute(
            route.id,
            key,
            route.integration_id,
            route.authorizer_id if route.authorization_type == "CUSTOM" else None,
            bool(route.route_response_selection_expression),
            route.authorization_type,
        )
    served.stages = {name: dict(stage.variables) for name, stage in api.stages.items()}
    return served
