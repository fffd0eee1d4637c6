"""The listener under :class:`localcloud.server.LocalServer`, driven with a front door of the test's
own making: what it writes on the wire whatever a front door's answer holds."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from waitress import wasyncore

from localcloud.core.front_doors import FrontDoor
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.listener import Listener, Ready, adjustments


@pytest.fixture(scope="module")
def answers() -> dict[str, HttpResponse]:
    """The answer the door gives, by request path."""
    return {}


@pytest.fixture(scope="module")
def seen() -> list[HttpRequest]:
    """The requests the door got, as the listener handed them over."""
    return []


@pytest.fixture(scope="module")
def port(answers, seen) -> Iterator[int]:
    def dispatch(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return answers[request.path]

    door = FrontDoor("api", "test", "", dispatch, "door")
    sockets: dict = {}
    ready = Ready()
    listener = Listener(door, _through, adjustments("127.0.0.1", 0, 1024), map=sockets, dispatcher=ready)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.02, use_poll=True, map=sockets, count=1)
            ready.answer_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.server_address[1]
    stop.set()
    thread.join()
    wasyncore.close_all(sockets)


def _through(door: FrontDoor, request: HttpRequest) -> HttpResponse:
    return door.dispatch(request)


def exchange(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := client.recv(1 << 16):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Note": ["a\r\nSet-Cookie: session=forged"]},
        {"X-Note": ["a\nSet-Cookie: session=forged"]},
        {"X-Note\r\nSet-Cookie": ["session=forged"]},
        {"Bad Name": ["x"]},
    ],
    ids=["crlf-in-value", "lf-in-value", "crlf-in-name", "space-in-name"],
)
def test_an_answer_header_http_forbids_is_never_written(port, answers, headers) -> None:
    """A header a function's proxy response (or a mapped body field) puts CR/LF into must not split
    the response: the client gets API Gateway's 502, and no header of the function's choosing."""
    path = f"/{len(answers)}"
    answers[path] = HttpResponse(200, headers, b"ok")
    head, _, body = exchange(port, path).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 "), head
    assert b"Set-Cookie" not in head and b"X-Note" not in head and b"Bad Name" not in head
    assert body == b'{"message": "Internal server error"}'


def test_well_formed_headers_are_written_as_answered(port, answers) -> None:
    answers["/fine"] = HttpResponse(201, {"X-Note": ["a: b; c=d"], "Set-Cookie": ["a=1", "b=2"]}, b"ok")
    head, _, body = exchange(port, "/fine").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 Created")
    assert b"\r\nX-Note: a: b; c=d\r\n" in head
    assert b"\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n" in head
    assert body == b"ok"


def test_a_nul_in_a_header_value_is_not_written(port, answers) -> None:
    answers["/nul"] = HttpResponse(200, {"X-Note": ["a\x00b"]}, b"ok")
    assert exchange(port, "/nul").startswith(b"HTTP/1.1 502 ")


def test_a_chunked_body_reaches_the_door_with_one_content_length(port, answers, seen) -> None:
    """A Content-Length beside ``Transfer-Encoding: chunked`` is ignored by the server (RFC 9112),
    so the door must not see it either: only the length of the body it gets."""
    answers["/echo"] = HttpResponse(200, {}, b"ok")
    request = (
        b"POST /echo HTTP/1.1\r\nHost: test\r\ncontent-length: 1\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request)
        assert client.recv(1 << 16).startswith(b"HTTP/1.1 200 ")
    lengths = [values for name, values in seen[-1].headers.items() if name.lower() == "content-length"]
    assert lengths == [["5"]]
    assert seen[-1].body == b"hello"


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "\u00b2"])
def test_a_head_answer_with_a_length_that_is_no_number_is_not_a_crash(port, answers, length) -> None:
    """The answer's own length of a HEAD (what a GET would send) is used only if it is one."""
    path = f"/head-{len(answers)}"
    answers[path] = HttpResponse(200, {"Content-Length": [length]}, b"")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(f"HEAD {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        head = client.recv(1 << 16)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"\r\nContent-Length: 0\r\n" in head


def test_a_header_value_that_is_a_number_is_written_as_one(port, answers) -> None:
    answers["/number"] = HttpResponse(200, {"X-Count": [3]}, b"ok")
    head, _, _ = exchange(port, "/number").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"\r\nX-Count: 3\r\n" in head
