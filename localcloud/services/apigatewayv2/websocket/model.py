"""A WebSocket API as the gateway serves it: routes by key, their Lambda integrations and the
``$connect`` authorizer, read from the ``AWS::ApiGatewayV2::*`` resources of ``ProtocolType``
``WEBSOCKET``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from localcloud.errors import Unsupported

#: The name the WebSocket service's state is reached by: ``kernel.service(SERVICE_NAME)``.
SERVICE_NAME = "apigatewayv2-websocket"
#: An integration or authorizer URI naming a Lambda function (``.../functions/{arn}/invocations``).
FUNCTION_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")
#: ``$request.body.action`` (or ``${request.body.action}``): the JSON path the route key is read from.
BODY_SELECTION = re.compile(r"^\$\{?request\.body\.(?P<path>[A-Za-z0-9_.-]+)\}?$")
#: The integration timeout of a WebSocket API: 29 s unless ``TimeoutInMillis`` says less.
DEFAULT_TIMEOUT_MS = 29_000


@dataclass
class WsIntegration:
    id: str
    function_arn: str
    credentials: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS


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
            except ValueError:
                selected = None
            for part in match["path"].split("."):
                selected = selected.get(part) if isinstance(selected, dict) else None
        if isinstance(selected, str) and selected in self.routes and not selected.startswith("$"):
            return selected
        return "$default" if "$default" in self.routes else None

    def integration_of(self, route: WsRoute) -> WsIntegration | None:
        return self.integrations.get(route.target or "")


def integration(logical_id: str, integration_id: str, props: dict[str, Any]) -> WsIntegration:
    """A WebSocket integration; only Lambda proxy ones are served (anything else stops the stack)."""
    kind = props.get("IntegrationType")
    uri = str(props.get("IntegrationUri", ""))
    match = FUNCTION_URI.search(uri)
    if kind != "AWS_PROXY" or match is None:
        raise Unsupported(logical_id, f"WebSocket integration type {kind} to {uri or 'nothing'}")
    if props.get("TemplateSelectionExpression") or props.get("RequestTemplates"):
        raise Unsupported(logical_id, "WebSocket integration request templates")
    return WsIntegration(
        integration_id,
        match["arn"],
        props.get("CredentialsArn"),
        int(props.get("TimeoutInMillis", DEFAULT_TIMEOUT_MS)),
    )


def authorizer(logical_id: str, authorizer_id: str, props: dict[str, Any]) -> WsAuthorizer:
    match = FUNCTION_URI.search(str(props.get("AuthorizerUri", "")))
    if props.get("AuthorizerType") != "REQUEST" or match is None:
        raise Unsupported(logical_id, f"WebSocket authorizer type {props.get('AuthorizerType')}")
    return WsAuthorizer(
        authorizer_id,
        str(props.get("Name", logical_id)),
        match["arn"],
        list(props.get("IdentitySource") or []),
        props.get("AuthorizerCredentialsArn"),
    )


def route(route_id: str, props: dict[str, Any]) -> WsRoute:
    target = str(props.get("Target") or "")
    authorizer_id = props.get("AuthorizerId") if props.get("AuthorizationType") == "CUSTOM" else None
    return WsRoute(
        route_id,
        str(props["RouteKey"]),
        target.removeprefix("integrations/") or None,
        authorizer_id,
        bool(props.get("RouteResponseSelectionExpression")),
    )
