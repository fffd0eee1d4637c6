"""WebSocket stages on ``serve``'s ports, spoken with the ``websockets`` library.

Each stage of a WebSocket API is a front door with a port of its own (``ws://127.0.0.1:4581/prod``).
The library's server reads each connection on a thread of its own; every use of the cloud (the
handshake's ``$connect``, each message, the close) runs under the local server's lock, as an HTTP
request's answer does, and its trace lines are printed as a request's are. Messages the gateway
sends (route answers, ``PostToConnection``) go out on the socket from whichever thread made them;
a close the gateway decides (idle timeout, 2-hour limit, ``DeleteConnection``) closes the socket
from a thread of its own, so the close handshake never holds the cloud.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, CloseCode, Frame
from websockets.protocol import State
from websockets.sync.server import ServerConnection, serve

from localcloud.core.front_doors import FrontDoor
from localcloud.lib.http import HttpResponse
from localcloud.services.apigatewayv2.websocket.connections import MAX_FRAME, MAX_MESSAGE, Connection
from localcloud.services.apigatewayv2.websocket.gateway import Refusal, WebSockets
from localcloud.services.apigatewayv2.websocket.model import BODY_SELECTION, SERVICE_NAME

if TYPE_CHECKING:
    from websockets.http11 import Request, Response

    from localcloud.core.kernel import Kernel

log = logging.getLogger("localcloud.server")
#: The shell variable a ``$connect`` behind an authorizer reads its token from (as serve's curl lines).
TOKEN = "TOKEN"  # noqa: S105 - a variable name, not a secret
#: A connection whose close code the client did not send (the socket just ended).
ABNORMAL = 1006


def front_doors(kernel: Kernel) -> list[FrontDoor]:
    """One door per stage of each WebSocket API, at the path its ``wss://`` URL has (``/prod``)."""
    websockets: WebSockets = kernel.service(SERVICE_NAME)
    return [
        FrontDoor(
            "websocket",
            f"{api.logical_id} ({api.id}) stage {stage}",
            "",
            _plain_http,
            api.id,
            base_path=f"/{stage}",
            listen=WebSocketListener,
        )
        for api in websockets.apis.values()
        for stage in api.stages
    ]


def try_lines(kernel: Kernel, door: FrontDoor) -> list[str]:
    """A ``wscat`` line for a WebSocket stage (the token in the query or header the ``$connect``
    authorizer reads), then, as a comment, a message per route the selection expression picks."""
    websockets: WebSockets = kernel.service(SERVICE_NAME)
    api = websockets.apis[door.resource_id]
    url, headers = door.url, []
    connect = api.routes.get("$connect")
    authorizer = api.authorizers.get(connect.authorizer_id or "") if connect else None
    for source in authorizer.identity_sources if authorizer else []:
        if source.startswith("route.request.querystring."):
            name = source.removeprefix("route.request.querystring.")
            url += f"{'&' if '?' in url else '?'}{name}=${TOKEN}"
        elif source.startswith("route.request.header."):
            headers.append(f' -H "{source.removeprefix("route.request.header.")}: ${TOKEN}"')
    lines = [f'wscat -c "{url}"{"".join(headers)}']
    match = BODY_SELECTION.match(api.selection_expression)
    keys = sorted(key for key in api.routes if not key.startswith("$"))
    if match is not None and keys:
        examples = []
        for key in keys:
            message: Any = key
            for part in reversed(match["path"].split(".")):
                message = {part: message}
            examples.append(json.dumps(message))
        lines.append(f"# then send a message per route, e.g. {'  '.join(examples)}")
    if "$default" in api.routes:
        lines.append("# any other message takes the $default route")
    return lines


def _plain_http(_request: Any) -> HttpResponse:
    return HttpResponse.of_json(426, {"message": "Upgrade Required"})


class WebSocketListener:
    """A WebSocket stage's port: the handshake, the messages and the close of each connection.

    It finds the cloud through the local server each time (``server.cloud``), so a redeploy that
    keeps the door serves the new cloud on the same port."""

    def __init__(self, door: FrontDoor, host: str, port: int, server: Any) -> None:
        self.door, self.server = door, server
        self._opened: dict[ServerConnection, Connection] = {}
        self._server = serve(
            self._handle,
            host,
            port,
            process_request=self._handshake,
            max_size=MAX_MESSAGE,
            ping_interval=None,  # API Gateway sends no pings: the client keeps the connection busy
            compression=None,
            server_header="localcloud",
            create_connection=FrameLimited,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localcloud-websocket", daemon=True
        )
        self._thread.start()

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._server.socket.getsockname()[:2]
        return host, int(port)

    def overdue(self, now: float, timeout: float) -> None:
        """Nothing to time out: the library closes a handshake that stalls (``open_timeout``)."""

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def _websockets(self) -> WebSockets:
        return self.server.cloud.kernel.service(SERVICE_NAME)

    def _handshake(self, socket: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") != self.door.base_path:
            return _refused(socket, Refusal(403, {"message": "Forbidden"}, f"no stage at {parts.path}"))
        upgrade = socket.protocol.accept(request)
        if upgrade.status_code != 101:
            # Not a WebSocket handshake: refused before $connect runs, as API Gateway does (the
            # library would refuse it only after, leaving a connection no $disconnect ends).
            log.info("WebSocket handshake refused with %s: not a valid upgrade", upgrade.status_code)
            return upgrade
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.raw_items():
            headers.setdefault(name, []).append(value)
        query = parse_qs(parts.query, keep_blank_values=True)
        source_ip = str(socket.remote_address[0])

        def connect() -> Connection | Refusal:
            websockets = self._websockets()
            api = websockets.apis[self.door.resource_id]
            return websockets.connect(api, self.door.base_path.lstrip("/"), headers, query, source_ip)

        opened = self.server.using_cloud(connect)
        if isinstance(opened, Refusal):
            return _refused(socket, opened)
        self._opened[socket] = opened
        return None

    def _handle(self, socket: ServerConnection) -> None:
        connection = self._opened.pop(socket)

        def send(data: str | bytes) -> None:
            with contextlib.suppress(ConnectionClosed):  # the client is gone: its thread runs $disconnect
                socket.send(data)

        def close(code: int, reason: str) -> None:
            threading.Thread(target=socket.close, args=(code, reason[:120]), daemon=True).start()

        def client_gone() -> bool:
            return socket.protocol.state is not State.OPEN

        self.server.using_cloud(lambda: connection.attach(send, close, client_gone))
        try:
            for message in socket:
                self.server.using_cloud(
                    lambda message=message: self._websockets().receive(connection, message)
                )
        except ConnectionClosed:
            pass
        frame = socket.protocol.close_rcvd or socket.protocol.close_sent
        code, reason = (frame.code, frame.reason) if frame is not None else (ABNORMAL, "")
        self.server.using_cloud(
            lambda: self._websockets().disconnect(connection, code, reason, by_client=True)
        )


class FrameLimited(ServerConnection):
    """A connection that fails on a frame over API Gateway's 32 KB, with 1009 as API Gateway closes
    it; a larger message split into frames of 32 KB or less is taken (up to 128 KB)."""

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES and len(event.data) > MAX_FRAME:
            with self.protocol_mutex:
                self.protocol.fail(
                    CloseCode.MESSAGE_TOO_BIG, f"Frame of {len(event.data)} bytes is over 32 KB"
                )
                self.send_data()
            return
        super().process_event(event)


def _refused(socket: ServerConnection, refusal: Refusal) -> Response:
    log.info("WebSocket handshake refused with %s: %s", refusal.status, refusal.why)
    response = socket.respond(refusal.status, json.dumps(refusal.body))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
