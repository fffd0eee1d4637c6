"""API Gateway WebSocket APIs served offline: connections on the virtual clock, routes to Lambda,
the ``$connect`` authorizer, and the management API handlers call (see ``docs/localcloud.md``).

``cloud.websocket(api).connect(...)`` is the test client; :mod:`.server` carries connections on
real sockets for ``serve``.
"""

from __future__ import annotations

from localcloud.core.service import Service
from localcloud.services.apigatewayv2.websocket import management, server
from localcloud.services.apigatewayv2.websocket.client import (
    ConnectionRefused,
    NothingReceived,
    WebSocketClient,
    WebSocketConnection,
)
from localcloud.services.apigatewayv2.websocket.gateway import Refusal, WebSockets
from localcloud.services.apigatewayv2.websocket.model import SERVICE_NAME

__all__ = [
    "SERVICE",
    "ConnectionRefused",
    "NothingReceived",
    "Refusal",
    "WebSocketClient",
    "WebSocketConnection",
    "WebSockets",
]

SERVICE = Service.of(
    SERVICE_NAME,
    state=WebSockets,
    answers={management.SERVICE: management.answer},
    self_authorized=frozenset({management.SERVICE}),
    front_doors=server.front_doors,
)
