"""The HTTP plumbing under :class:`localcloud.server.LocalServer`, on waitress.

waitress reads every connection in one asynchronous loop, and a request is answered only once it
has arrived whole, so a client that stalls (an idle pre-connect, half a request line, a body
shorter than its ``Content-Length``, a TLS handshake) holds nobody else. The answers are made on
the loop's own thread (:class:`Ready`), one at a time, as the cloud needs. What it adds here:
the request as the client sent it (header names' case, repeated headers, the raw path), answers
as the local cloud's front doors make them (no WSGI rewriting), the server's refusals as JSON
``{"message": ...}`` like API Gateway's, and a deadline per request (:meth:`Channel.overdue`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE, TOKEN
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, Task
from waitress.utilities import BadRequest, Error, RequestEntityTooLarge, build_http_date

from localcloud.core.front_doors import FrontDoor
from localcloud.lib.http import HttpRequest, HttpResponse

log = logging.getLogger("localcloud.server")

#: The longest request line read, as the standard library's server reads (414 above).
MAX_LINE = 65536
#: The methods a front door answers; any other gets 501, as before a route is looked up.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: What a TLS connection sends first (a handshake record): a client that took http:// for https://.
TLS_HANDSHAKE = 0x16
#: Headers the server itself sets on the wire from the answer it sends.
FRAMING = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})

#: What HTTP allows as a header's name (RFC 7230), and a value without a control character but tab.
HEADER_NAME = re.compile(TOKEN)
HEADER_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")
#: API Gateway's answer when what an integration gave cannot be sent.
UNSENDABLE = HttpResponse.of_json(502, {"message": "Internal server error"})

Answer = Callable[[FrontDoor, HttpRequest], HttpResponse]


def wall_clock() -> float:
    """Seconds on the machine's monotonic clock, whatever the virtual clock's freezegun patches
    (it replaces ``time.monotonic`` and any module's reference to it)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def adjustments(host: str, port: int, max_body: int) -> Adjustments:
    """waitress's settings for one door: its own timeouts stay out of the way of the server's."""
    return Adjustments(
        host=host,
        port=port,
        ident="localcloud",
        # waitress refuses a body of max_request_body_size bytes or more; the limit itself is allowed.
        max_request_body_size=max_body + 1,
        channel_timeout=24 * 3600,
        cleanup_interval=24 * 3600,
        clear_untrusted_proxy_headers=False,
        asyncore_use_poll=True,
        # A task never waits for the loop to send what it wrote: the loop is the task's own thread.
        outbuf_high_watermark=1 << 40,
        log_socket_errors=False,
        expose_tracebacks=False,
    )


class UriTooLong(Error):
    code = 414
    reason = "URI Too Long"


class Timeout(Error):
    code = 408
    reason = "Request Timeout"


class Parser(HTTPRequestParser):
    """waitress's parser, keeping the headers as sent and refusing an endless request line."""

    raw_headers: list[tuple[str, str]] = []  # noqa: RUF012 - replaced per request, never mutated

    def received(self, data: bytes) -> int:
        if self.body_rcv is None and not self.completed:
            pending = self.header_plus + data
            if len(pending) > MAX_LINE and b"\n" not in pending[: MAX_LINE + 2]:
                self.parse_header(b"GET / HTTP/1.0\r\n")
                self.error = UriTooLong(f"the request line is longer than {MAX_LINE} bytes")
                self.completed = True
                return len(data)
        return super().received(data)

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        lines = get_header_lines(header_plus[header_plus.find(b"\r\n") + 2 :])
        fields = [HEADER_FIELD_RE.match(line) for line in lines]
        self.raw_headers = [
            (field["name"].decode("latin-1"), field["value"].strip(b" \t").decode("latin-1"))
            for field in fields
            if field is not None
        ]


class DoorTask(Task):
    """Answers one request from the listener's front door, headers and body in one write."""

    def execute(self) -> None:
        listener: Listener = self.channel.server
        parser: Parser = self.request
        if parser.command not in METHODS:
            answer = HttpResponse.of_json(501, {"message": f"method {parser.command} is not supported"})
            self.close_on_finish = True
        else:
            answer = _sendable(listener.answer(listener.door, _request(parser, self.channel.addr)))
        self.status = f"{answer.status} {_reason(answer.status)}"
        self.response_headers = [
            (name, value)
            for name, values in answer.headers.items()
            if name.lower() not in FRAMING
            for value in values
        ]
        # A HEAD answer tells the length of what a GET would send (S3's HeadObject reads it).
        head_length = answer.header("Content-Length") if parser.command == "HEAD" else None
        self.content_length = (
            int(head_length)
            if head_length and head_length.isascii() and head_length.isdigit()
            else len(answer.body)
        )
        self.complete = True
        # One send for the head and the body: a second would wake the client twice.
        head = self.build_response_header()
        self.wrote_header = True
        self.channel.write_soon(head if parser.command == "HEAD" else head + answer.body)

    def build_response_header(self) -> bytes:
        """The answer's own headers in its order and case, then the framing; Date and Server only
        if the answer has none (a proxied answer keeps its backend's)."""
        connection = self.request.headers.get("CONNECTION", "").lower()
        if connection == "close" or (self.version == "1.0" and connection != "keep-alive"):
            self.close_on_finish = True
        headers = list(self.response_headers)
        names = {name.lower() for name, _ in headers}
        if self.has_body:
            headers.append(("Content-Length", str(self.content_length)))
        if "date" not in names:
            headers.append(("Date", build_http_date(self.start_time)))
        if "server" not in names:
            headers.append(("Server", "localcloud"))
        if self.close_on_finish:
            headers.append(("Connection", "close"))
        elif self.version == "1.0":
            headers.append(("Connection", "keep-alive"))
        lines = [f"HTTP/{self.version} {self.status}", *(f"{name}: {value}" for name, value in headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


class RefusalTask(ErrorTask):
    """A request refused before any front door saw it, answered as JSON like API Gateway's errors."""

    def execute(self) -> None:
        self.version = "1.1"  # the request's own may be what could not be read
        body = _refusal_body(self.request)
        self.status = f"{self.request.error.code} {self.request.error.reason}"
        self.response_headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.complete = True
        head = self.build_response_header()
        self.wrote_header = True
        self.channel.write_soon(head + body)  # one send: a client reading once gets it whole


class Channel(HTTPChannel):
    """One connection: its request's deadline, and a plain-HTTP answer to a TLS handshake."""

    parser_class = Parser
    task_class = DoorTask
    error_task_class = RefusalTask
    began = 0.0
    """When the request being read started to arrive (its headers), then when its body started."""
    reading_body = False

    def received(self, data: bytes) -> bool:
        if self.request is None:
            if data and data[0] == TLS_HANDSHAKE:
                log.warning("a TLS handshake from %s: this server speaks plain HTTP (http://)", self.addr[0])
                self.refuse(BadRequest("this port speaks plain HTTP: use http://, not https://"))
                return False
            self.began, self.reading_body = wall_clock(), False
        done = super().received(data)
        request = self.request
        if request is not None and request.headers_finished and not self.reading_body:
            self.began, self.reading_body = wall_clock(), True
        return done

    def overdue(self, now: float, timeout: float) -> None:
        """Answer 408 to a request not read whole within ``timeout`` s of its start (then of its
        body's), and hang up on a connection idle that long; called from the loop's thread."""
        if self.requests or self.will_close or self.close_when_flushed:
            return
        request = self.request
        if request is None:
            if time.time() - self.last_activity > timeout:
                self.will_close = True
        elif now - self.began > timeout:
            if self.reading_body and request.content_length:
                what = f"the request body ({request.content_length} bytes declared)"
            elif self.reading_body:
                what = "the request body"
            else:
                what = "the request line and headers"
            self.refuse(Timeout(f"{what} did not arrive within {timeout:g} s"))

    def refuse(self, error: Error) -> None:
        """Answer ``error`` from the loop's thread, while no task is running, and close."""
        data = _refusal(error)
        with self.outbuf_lock:
            self.outbufs[-1].append(data)
            self.total_outbufs_len += len(data)
        self.request = None
        self.close_when_flushed = True


class Ready:
    """waitress's task dispatcher, without its threads: the serving loop answers each connection
    whose request has arrived whole, in order, on its own thread, which owns the cloud."""

    def __init__(self) -> None:
        self.channels: deque[Channel] = deque()

    def add_task(self, channel: Channel) -> None:
        self.channels.append(channel)

    def answer_all(self) -> None:
        while self.channels:
            self.channels.popleft().service()

    def set_thread_count(self, count: int) -> None:
        """No threads to start."""

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        self.channels.clear()
        return True


class Listener(TcpWSGIServer):
    """One front door's port: its connections share the serving loop."""

    channel_class = Channel

    def __init__(
        self, door: FrontDoor, answer: Answer, adj: Adjustments, *, map: dict, dispatcher: Any
    ) -> None:
        self.door, self.answer = door, answer
        super().__init__(None, map=map, dispatcher=dispatcher, adj=adj)

    @property
    def server_address(self) -> tuple[str, int]:
        return self.effective_host, int(self.effective_port)

    def overdue(self, now: float, timeout: float) -> None:
        for channel in list(self.active_channels.values()):
            channel.overdue(now, timeout)

    def pull_trigger(self) -> None:
        """Wake the serving loop's poll, unless this thread runs the loop (its dispatcher's
        ``loop``, see :mod:`localcloud.handoff`): it polls next anyway, with every connection's
        state read afresh. waitress pulls after each answered request; on the loop's own thread that
        was a pipe write, a read and one more turn of the loop per request, for nothing."""
        loop = getattr(self.task_dispatcher, "loop", None)
        if loop is not None and loop.owned():
            return
        super().pull_trigger()


def _refusal_body(parser: HTTPRequestParser) -> bytes:
    error = parser.error
    if isinstance(error, RequestEntityTooLarge):
        limit = parser.adj.max_request_body_size - 1
        size = f"of {parser.content_length} bytes " if parser.content_length else ""
        message = (
            f"request body {size}is larger than the local server's limit of {limit} bytes "
            "(API Gateway's 10 MB payload limit)"
        )
    else:
        message = f"{error.reason}: {error.body}"
    return json.dumps({"message": message}).encode()


def _refusal(error: Error) -> bytes:
    body = json.dumps({"message": error.body}).encode()
    head = (
        f"HTTP/1.1 {error.code} {error.reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nServer: localcloud\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _request(parser: Parser, addr: Any) -> HttpRequest:
    parts = urlsplit(parser.request_uri)
    headers: dict[str, list[str]] = {}
    for name, value in parser.raw_headers:
        headers.setdefault(name, []).append(value)
    if (
        parser.chunked
    ):  # waitress has read the chunks (and ignored any Content-Length): the body now has a length
        headers = {
            name: values
            for name, values in headers.items()
            if name.lower() not in ("transfer-encoding", "content-length")
        }
        headers["Content-Length"] = [parser.headers["CONTENT_LENGTH"]]
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    stream = parser.get_body_stream()
    body = stream.read() if parser.content_length or parser.chunked else b""
    return HttpRequest(parser.command, parts.path or "/", headers, query, body, addr[0])


def _sendable(answer: HttpResponse) -> HttpResponse:
    """``answer``, or a 502 if a header of it cannot go on the wire as given: a CR or LF in a value a
    function chose would split the response (waitress's own ``start_response`` refuses those too)."""
    for name, values in answer.headers.items():
        bad = not HEADER_NAME.fullmatch(name) or any(not HEADER_VALUE.fullmatch(str(v)) for v in values)
        if bad:
            log.warning("an answer's header %r cannot be sent as HTTP: answering 502 instead", name)
            return UNSENDABLE
    return answer


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
