"""The localhost server under requests a user or a fuzzer sends: malformed, huge, deep, slow,
binary and TLS. Each gets an HTTP answer (never one the local cloud makes by crashing), and while
one client stalls, the others are answered."""

from __future__ import annotations

import copy
import dataclasses
import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact, load_stack
from localcloud.core.front_doors import FrontDoor
from localcloud.lib.http import HttpRequest
from localcloud.listener import Listener
from localcloud.server import LocalServer

pytestmark = pytest.mark.e2e

#: Short, so a stalled client's 408 arrives quickly; the server's loop polls every 0.25 s.
READ_TIMEOUT = 0.3
#: The read timeout while a test shows that stalled clients hold no other: a served answer must come
#: before any of them is answered (or hung up on), which a server held by them could only do after it.
STALL_TIMEOUT = 60.0
#: The first bytes of a TLS 1.2 ClientHello, as `curl https://` sends them to a plain-HTTP port.
CLIENT_HELLO = bytes.fromhex("16030100c4010000c00303") + bytes(range(32)) + b"\x00\x00\x02\x13\x01\x01\x00"
FUZZ = settings(max_examples=25, deadline=None, derandomize=True)
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def seen() -> list[HttpRequest]:
    """The requests the server handed to the cloud, as it handed them."""
    return []


@pytest.fixture(scope="module")
def served(cloud_assembly, seen) -> Iterator[LocalServer]:
    artifact = load_stack(cloud_assembly.directory, "SimpleWebServiceStack")
    with LocalCloud(_unthrottled(artifact)) as cloud:
        server = LocalServer(
            cloud, real_time=False, read_timeout=READ_TIMEOUT, on_request=lambda r, *_: r and seen.append(r)
        )
        with server:
            server.start()
            yield server


def _unthrottled(artifact: StackArtifact) -> StackArtifact:
    """The stack with its stage's limits at the account's: a fuzzer outruns 100 requests a second,
    and time stands still here (the throttle's 429 has its own tests)."""
    template = copy.deepcopy(artifact.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Stage":
            for setting in resource["Properties"].get("MethodSettings", []):
                setting.update(ThrottlingRateLimit=10_000, ThrottlingBurstLimit=5_000)
    return dataclasses.replace(artifact, template=template)


@pytest.fixture(scope="module")
def port(served) -> int:
    return served.ports()[0]


def exchange(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a new connection and read until the server hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(data)
        chunks = []
        while True:
            try:
                chunk = client.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status_of(answer: bytes) -> int:
    assert answer.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), answer[:200]
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict:
    return json.loads(answer.partition(b"\r\n\r\n")[2])


def assert_not_made_by_the_cloud(answer: bytes) -> None:
    """A 5xx may come from a backend (a function's 502), never from the local cloud failing."""
    assert b"local cloud error" not in answer, answer[:500]
    assert status_of(answer) not in (500, 503), answer[:500]


def item(value: bytes) -> bytes:
    return b'{"name": ' + value + b', "price_cents": 1}'


def nested(depth: int, kind: str = "array", leaf: bytes = b"1") -> bytes:
    if kind == "array":
        return b"[" * depth + leaf + b"]" * depth
    return b'{"a": ' * depth + leaf + b"}" * depth


# ---------------------------------------------------------------------------------------- stalls


def open_stalled(port: int) -> list[socket.socket]:
    """Clients that stall: silent, half a request line, a short body, a TLS handshake's start."""
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
    _, half_line, short_body, tls = stalled
    half_line.sendall(b"GET /prod/ite")
    short_body.sendall(request("POST", "/prod/items", item(b'"lamp"'), JSON)[:-10])
    tls.sendall(CLIENT_HELLO[:20])
    return stalled


def still_waiting(client: socket.socket) -> bool:
    """Nothing (no answer, no hang-up) has reached ``client`` yet."""
    client.settimeout(0)
    try:
        client.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        client.settimeout(5)
    return False


def test_stalled_clients_hold_no_other(port, served, monkeypatch):
    """Each request is answered while four clients stall: its answer comes first, before the server
    times any of them out, however slowly the machine runs (no window of wall-clock time is assumed)."""
    monkeypatch.setattr(served, "read_timeout", STALL_TIMEOUT)
    stalled = open_stalled(port)
    silent, half_line, short_body, _ = stalled  # the TLS start is refused at once
    try:
        for _ in range(3):
            answer = exchange(port, request("GET", "/prod/items"), timeout=2 * STALL_TIMEOUT)
            assert status_of(answer) == 200
            assert all(map(still_waiting, (silent, half_line, short_body))), "answered while they stall"
    finally:
        for client in stalled:
            client.close()


def test_stalled_clients_get_408_or_are_hung_up_on(port):
    silent, half_line, short_body, tls = stalled = open_stalled(port)
    try:
        assert status_of(short_body.recv(1000)) == 408
        assert status_of(half_line.recv(1000)) == 408
        assert silent.recv(100) == b"", "a connection that sends nothing is hung up on"
        refused = tls.recv(1000)
        assert status_of(refused) == 400 and b"plain HTTP" in refused
    finally:
        for client in stalled:
            client.close()


def test_the_408_says_what_did_not_arrive(port):
    answer = exchange(port, request("POST", "/prod/items", b"x" * 100, JSON)[:-10])
    assert status_of(answer) == 408
    assert body_of(answer) == {"message": "the request body (100 bytes declared) did not arrive within 0.3 s"}
    answer = exchange(port, b"GET /prod/items HTTP/1.1\r\nHost: x\r\n")
    assert body_of(answer) == {"message": "the request line and headers did not arrive within 0.3 s"}


def test_a_header_sent_byte_by_byte_holds_no_other(port, served, monkeypatch):
    monkeypatch.setattr(served, "read_timeout", STALL_TIMEOUT)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as trickle:
        for byte in b"GET /prod/items HTTP/1.1\r\nX-Slow: ":
            trickle.sendall(bytes([byte]))
            if byte == ord("/"):
                answer = exchange(port, request("GET", "/prod/items"), timeout=2 * STALL_TIMEOUT)
                assert status_of(answer) == 200 and still_waiting(trickle)


def test_keep_alive_serves_several_requests_on_one_connection(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        for _ in range(3):
            client.sendall(b"GET /prod/items HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"}"):
                answer += client.recv(4096)
            assert status_of(answer) == 200


# ---------------------------------------------------------------------------------------- limits


def test_huge_request_lines_headers_and_bodies_get_http_refusals(port, served):
    assert status_of(exchange(port, b"GET /prod/" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n")) == 414
    huge_header = b"GET /prod/items HTTP/1.1\r\nX-Big: " + b"y" * 300_000 + b"\r\n\r\n"
    assert status_of(exchange(port, huge_header)) == 431
    declared = f"POST /prod/items HTTP/1.1\r\nContent-Length: {served.max_body + 1}\r\n\r\n".encode()
    too_big = exchange(port, declared)
    assert status_of(too_big) == 413
    assert f"limit of {served.max_body} bytes".encode() in too_big
    assert status_of(exchange(port, b"GET /prod/items HTTP/1.1\r\nContent-Length: lots\r\n\r\n")) == 400
    assert status_of(exchange(port, b"BREW /prod/items HTTP/1.1\r\n\r\n")) == 501


def test_a_chunked_body_arrives_whole(port):
    body = item(b'"chunked lamp"')
    chunked = request("POST", "/prod/items", headers={**JSON, "Transfer-Encoding": "chunked"})
    answer = exchange(port, chunked + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert status_of(answer) == 201
    assert body_of(answer)["name"] == "chunked lamp"


def test_headers_reach_the_cloud_as_sent(port, seen):
    exchange(
        port, request("GET", "/prod/items?x=1&x=2", headers={"x-lower": "1", "X-Twice": "a", "x-twice": "b"})
    )
    sent = seen[-1]
    assert (sent.path, sent.query) == ("/prod/items", {"x": ["1", "2"]})
    assert sent.headers["x-lower"] == ["1"]
    assert (sent.headers["X-Twice"], sent.headers["x-twice"]) == (["a"], ["b"])


def test_the_slashes_after_the_stage_collapse_as_on_aws(port):
    assert status_of(exchange(port, request("GET", "/prod//items"))) == 200


# ---------------------------------------------------------------------------------------- fuzz


@FUZZ
@given(
    method=st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=12),
    target=st.binary(max_size=200).filter(lambda b: b"\r" not in b and b"\n" not in b),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/x", b"", b"FTP/1.1"]),
)
def test_malformed_request_lines_get_http_answers(port, method, target, version):
    line = method.encode() + b" " + target + (b" " + version if version else b"")
    answer = exchange(port, line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_not_made_by_the_cloud(answer)


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=2000))
def test_binary_garbage_gets_an_http_answer_and_the_server_serves_on(port, garbage):
    answer = exchange(port, garbage + b"\r\n\r\n")
    if answer:  # blank lines alone are skipped, as between pipelined requests: then the client idles
        assert_not_made_by_the_cloud(answer)
    assert status_of(exchange(port, request("GET", "/prod/items"))) == 200


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=1100),
    kind=st.sampled_from(["array", "object"]),
    leaf=st.sampled_from([b"1", b"NaN", b"Infinity", b"-Infinity", b"1e400", b'"x"']),
)
@example(depth=998, kind="array", leaf=b"1")  # 1,000 levels with the item's object: API Gateway parses it
@example(depth=998, kind="object", leaf=b"1")
@example(depth=999, kind="array", leaf=b"1")
def test_deep_and_odd_json_bodies_are_400_invalid_request_body(port, depth, kind, leaf):
    answer = exchange(port, request("POST", "/prod/items", item(nested(depth, kind, leaf)), JSON))
    assert_not_made_by_the_cloud(answer)
    assert status_of(answer) == 400
    assert body_of(answer)["message"].startswith("Invalid request body")


@FUZZ
@given(name=st.binary(max_size=300))
def test_any_bytes_as_a_name_are_answered_by_the_pattern(port, name):
    answer = exchange(port, request("POST", "/prod/items", item(b'"' + name + b'"'), JSON))
    assert_not_made_by_the_cloud(answer)
    assert status_of(answer) in (201, 400)


def test_a_server_that_cannot_listen_on_every_port_holds_none(served, monkeypatch):
    """A front door whose port is taken fails the server, and the doors bound before it are freed.
    The server binds its own ports (port 0) and the test keeps the taken one bound throughout, so no
    other process can take a port between the test choosing it and the server binding it."""
    bound: list[socket.socket] = []

    class Recorded(Listener):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            bound.append(self.socket)

    monkeypatch.setattr("localcloud.server.Listener", Recorded)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        clash = FrontDoor("aws", "taken", "", lambda request: None, "x", port=taken.getsockname()[1])
        with pytest.raises(OSError):
            LocalServer(served.cloud, port=0, real_time=False, extra_doors=[lambda cloud: clash])
    assert bound, "the stack's own door was bound before the clash"
    assert [s.fileno() for s in bound] == [-1] * len(bound), "and its socket closed again"
