"""The test client: ``cloud.websocket(api).connect(query={...})`` opens a connection in-process,
through the same gateway ``serve``'s real sockets use."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.errors import LocalCloudError
from localcloud.services.apigatewayv2.websocket.connections import MAX_FRAME, NORMAL, Connection
from localcloud.services.apigatewayv2.websocket.gateway import Refusal

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.websocket.gateway import WebSockets
    from localcloud.services.apigatewayv2.websocket.model import WebSocketApi


class ConnectionRefused(LocalCloudError):
    """The handshake was refused: ``status`` is the HTTP status the client got, ``body`` its JSON."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"WebSocket handshake refused with {refusal.status}: {refusal.why}")
        self.status = refusal.status
        self.body = refusal.body
        self.why = refusal.why


class NothingReceived(LocalCloudError):
    """``receive()`` found no message waiting on the connection."""


class WebSocketClient:
    """Connects to one WebSocket API's stage (the only stage unless ``stage`` names one)."""

    def __init__(self, websockets: WebSockets, api: WebSocketApi, stage: str | None = None) -> None:
        if stage is None:
            if len(api.stages) != 1:
                raise LocalCloudError(f"{api.name} has stages {sorted(api.stages)}: name one with stage=")
            stage = next(iter(api.stages))
        self.websockets, self.api, self.stage = websockets, api, stage

    @property
    def url(self) -> str:
        return f"wss://{self.websockets.domain(self.api)}/{self.stage}"

    def connect(
        self,
        *,
        query: dict[str, str | list[str]] | None = None,
        headers: dict[str, str] | None = None,
        source_ip: str = "127.0.0.1",
    ) -> WebSocketConnection:
        """Open a connection, or raise :class:`ConnectionRefused` with the status the handshake got."""
        sent = {
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            **(headers or {}),
        }
        queries = {k: [v] if isinstance(v, str) else list(v) for k, v in (query or {}).items()}
        opened = self.websockets.connect(
            self.api, self.stage, {k: [v] for k, v in sent.items()}, queries, source_ip
        )
        if isinstance(opened, Refusal):
            raise ConnectionRefused(opened)
        return WebSocketConnection(self.websockets, opened)


class WebSocketConnection:
    """One open connection, as a client holds it: ``send``, ``receive``, ``close``."""

    def __init__(self, websockets: WebSockets, connection: Connection) -> None:
        self._websockets, self.connection = websockets, connection

    @property
    def id(self) -> str:
        return self.connection.id

    @property
    def closed(self) -> bool:
        return self.connection.state == "CLOSED"

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    def send(self, message: str | bytes | dict[str, Any] | list[Any]) -> None:
        """Send one message (a dict or list as JSON), in frames of at most 32 KB as AWS requires of
        clients; one over 128 KB closes the connection with 1009, as API Gateway does."""
        if self.closed:
            raise LocalCloudError(
                f"connection {self.id} is closed ({self.close_code} {self.connection.close_reason})"
            )
        data = json.dumps(message) if isinstance(message, dict | list) else message
        self._websockets.receive(self.connection, data)

    def receive(self) -> str | bytes:
        """The next message the gateway sent this connection (a route's answer, a post)."""
        if not self.connection.inbox:
            state = f"closed with {self.close_code}" if self.closed else "open"
            raise NothingReceived(f"nothing was sent to connection {self.id} ({state})")
        return self.connection.inbox.popleft()

    def receive_json(self) -> Any:
        return json.loads(self.receive())

    def pending(self) -> list[str | bytes]:
        """Every message waiting, read at once."""
        waiting = list(self.connection.inbox)
        self.connection.inbox.clear()
        return waiting

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Close from the client's side: ``$disconnect`` runs with this code and reason."""
        self._websockets.disconnect(self.connection, code, reason, by_client=True)


__all__ = ["MAX_FRAME", "ConnectionRefused", "NothingReceived", "WebSocketClient", "WebSocketConnection"]
