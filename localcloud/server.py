"""A real HTTP server on localhost for a running local cloud: curl, browsers and HTTP test tools.

Each front door a service offers (a REST API stage, a CloudFront distribution) gets its own port, so its URLs look
like the deployed ones: ``http://127.0.0.1:4566/prod/items`` for
``https://{id}.execute-api.{region}.amazonaws.com/prod/items``.

The cloud is not thread-safe, so one thread does everything: it serves one request at a time on
every port, and between requests it lets virtual time follow real time, so queued work, retries
and schedules happen while you watch. So that one stalled client cannot hold every door, a
connection has ``read_timeout`` seconds to send its request (408 after), and a body may not be
larger than ``max_body`` bytes (413).

Example::

    with LocalCloud.from_assembly("cdk.out", "SimpleWebServiceStack") as cloud:
        with LocalServer(cloud, port=4566) as server:
            print(server.front_doors[0].url)
            server.serve_forever()
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from localcloud.core.front_doors import FrontDoor
from localcloud.errors import LocalCloudError
from localcloud.lib.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.server")

#: The largest request body the server reads: API Gateway's 10 MB payload limit, above Lambda's
#: 6 MB invoke payload, SQS's 1 MiB message and the CLI's 8 MB multipart upload parts.
MAX_BODY = 10 * 1024 * 1024
#: Seconds a connection has to send its request line, headers and body (each) before a 408.
READ_TIMEOUT = 5.0


class NothingToServe(LocalCloudError):
    """The stack has no front door a server could serve."""


class LocalServer:
    """Serves every front door of ``cloud`` on consecutive ports from ``port`` (0: any free ports)."""

    def __init__(
        self,
        cloud: LocalCloud,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[HttpRequest, HttpResponse, list[str]], None] | None = None,
        real_time: bool = True,
        extra_doors: Sequence[Callable[[LocalCloud], FrontDoor]] = (),
        read_timeout: float = READ_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.read_timeout = read_timeout
        """Seconds of wall clock a connection has for its headers, then for its body."""
        self.max_body = max_body
        """The largest Content-Length answered; a larger one gets 413 unread."""
        self.on_request = on_request
        """Called after each request with the request, the response and the new trace lines."""
        self.real_time = real_time
        """Whether virtual time follows the wall clock between requests (off in tests)."""
        self.front_doors: list[FrontDoor] = []
        self._servers: list[HTTPServer] = []
        self._retired: list[HTTPServer] = []
        """Listeners of front doors a redeploy removed: the serving loop closes them."""
        self.lock = threading.RLock()
        """Held while a request or a tick uses the cloud: a redeploy (``localcloud.redeploy``) waits."""
        self._port = port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_spans = len(cloud.trace.spans)
        self._last_tick = os.times().elapsed
        self._door_makers = tuple(extra_doors)
        for door in self.doors_of(cloud):
            self.add_front_door(door)
        if not self._servers:
            raise NothingToServe(
                f"stack {cloud.stack_name} has no REST API or CloudFront distribution to serve; drive it "
                "from Python instead (LocalCloud, cloud.invoke, cloud.start_execution), through its AWS API "
                "(serve --aws-port) or play its scenario"
            )

    def doors_of(self, cloud: LocalCloud) -> list[FrontDoor]:
        """The front doors of ``cloud``'s resources, then the extra ones (the AWS endpoint), made
        again for each cloud a redeploy swaps in."""
        return [*_front_doors(cloud), *(make(cloud) for make in self._door_makers)]

    def add_front_door(self, door: FrontDoor) -> None:
        """Listen for ``door`` on its own port if it has one, else on the next port after the other
        doors' (any free one when the server was given port 0)."""
        if door.port is not None:
            port = door.port
        elif self._port == 0:
            port = 0
        else:
            taken = [p for p, other in zip(self.ports(), self.front_doors, strict=True) if other.port is None]
            port = max([self._port - 1, *taken]) + 1
        host = door.host or self.host
        server = _QuietHTTPServer((host, port), _handler(self, door))
        door.url = f"http://{host}:{server.server_address[1]}{door.base_path}/"
        self._servers.append(server)
        self.front_doors.append(door)

    def ports(self) -> list[int]:
        return [server.server_address[1] for server in self._servers]

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_forever(self, poll_interval: float = 0.25) -> None:
        """Serve until :meth:`shutdown`; between requests, let due work run. Warm functions keep
        their modules in place meanwhile (see :mod:`localcloud.services.lambda_.warm`)."""
        with selectors.DefaultSelector() as selector, _serving(self.cloud):
            while not self._stop.is_set():
                self._listen(selector)
                for key, _ in selector.select(poll_interval):
                    key.fileobj._handle_request_noblock()  # type: ignore[attr-defined]
                self._tick()

    def _listen(self, selector: selectors.BaseSelector) -> None:
        """Select on the current front doors' listeners, closing those a redeploy retired."""
        with self.lock:
            retired, self._retired = self._retired, []
            listening = set(self._servers)
        registered = {key.fileobj for key in selector.get_map().values()}
        for server in retired:
            if server in registered:
                selector.unregister(server)
            server.server_close()
        for server in listening - registered:
            selector.register(server, selectors.EVENT_READ)

    def start(self) -> LocalServer:
        """Serve from a background thread (for tests); the caller must not touch the cloud meanwhile."""
        self._thread = threading.Thread(target=self.serve_forever, name="localcloud-server", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.shutdown()
        for server in [*self._servers, *self._retired]:
            server.server_close()

    def _tick(self) -> None:
        """Let virtual time catch up with real time, delivering what falls due meanwhile."""
        with self.lock:
            now = os.times().elapsed
            elapsed, self._last_tick = now - self._last_tick, now
            try:
                if self.real_time and elapsed > 0:
                    self.cloud.advance(elapsed)
                else:
                    self.cloud.advance(0)
            except Exception:
                log.exception("background delivery failed")
            self._report(None, None)

    def _answer(self, door: FrontDoor, request: HttpRequest) -> HttpResponse:
        with self.lock:
            try:
                response = door.dispatch(request)
            except Exception as error:
                log.exception(
                    "%s %s on %s failed inside the local cloud", request.method, request.path, door.name
                )
                response = HttpResponse.of_json(500, {"message": f"local cloud error: {error}"})
            self._report(request, response)
            self._tick()
            return response

    def _report(self, request: HttpRequest | None, response: HttpResponse | None) -> None:
        """Hand the request and the spans recorded since the last report to ``on_request``; only
        those spans are rendered, so a report costs the same on the thousandth request as on the first."""
        trace = self.cloud.trace
        seen, self._seen_spans = self._seen_spans, len(trace.spans)
        if self.on_request is None:
            return
        new_lines = trace.lines(since=seen)
        if request is not None or new_lines:
            self.on_request(request, response, new_lines)  # type: ignore[arg-type]


class _QuietHTTPServer(HTTPServer):
    """Binds without ``socket.getfqdn``, which waits on DNS on a machine with no network."""

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not a traceback on stderr, when a client hangs up or sends garbage."""
        log.warning("connection from %s failed", client_address[0], exc_info=log.isEnabledFor(logging.DEBUG))


@contextlib.contextmanager
def _serving(cloud: LocalCloud) -> Iterator[None]:
    """What each service keeps in place while a server serves (Lambda: warm functions' modules)."""
    with contextlib.ExitStack() as stack:
        for service in cloud.kernel.registry.services.values():
            if service.serving is not None:
                stack.enter_context(service.serving())
        yield


def _front_doors(cloud: LocalCloud) -> list[FrontDoor]:
    """Every front door the stack's services offer, in the order of the list of services."""
    kernel = cloud.kernel
    return [
        door
        for service in kernel.registry.services.values()
        if service.front_doors is not None
        for door in service.front_doors(kernel)
    ]


def _handler(server: LocalServer, door: FrontDoor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "localcloud"
        wbufsize = 1 << 16
        """Buffered: the status line, headers and body leave in one send, not one per part."""
        timeout = server.read_timeout
        """On the socket: a client silent this long while sending headers is hung up on."""

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name, []).append(value)
            query: dict[str, list[str]] = {}
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                query.setdefault(name, []).append(value)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.send_error(400, "Content-Length is not a number")
                return
            if length > server.max_body:
                self._refuse(
                    413,
                    f"request body of {length} bytes is larger than the local server's limit of "
                    f"{server.max_body} bytes (API Gateway's 10 MB payload limit)",
                )
                return
            body = self._read_body(length)
            if body is None:
                return
            request = HttpRequest(
                self.command, parts.path or "/", headers, query, body, self.client_address[0]
            )
            response = server._answer(door, request)
            self.send_response(response.status)
            for name, values in response.headers.items():
                if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                    for value in values:
                        self.send_header(name, value)
            # A HEAD answer tells the length of what a GET would send (S3's HeadObject reads it).
            head_length = response.header("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", head_length or str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.close_connection = True

        def _read_body(self, length: int) -> bytes | None:
            """The declared body, read within ``read_timeout`` of wall clock (a client that sends a
            byte now and then cannot hold the one thread); None once answered 408 or hung up."""
            deadline = time.monotonic() + server.read_timeout
            chunks, left = [], length
            while left > 0:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise TimeoutError
                    self.connection.settimeout(remaining)
                    chunk = self.rfile.read1(min(left, 1 << 16))
                except TimeoutError:
                    self._refuse(
                        408,
                        f"the request body ({length} bytes declared) did not arrive within "
                        f"{server.read_timeout:g} s",
                    )
                    return None
                if not chunk:
                    self.close_connection = True
                    return None
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        def _refuse(self, status: int, message: str) -> None:
            """Answer without the cloud, and close: the rest of the request is never read."""
            body = json.dumps({"message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    return Handler
