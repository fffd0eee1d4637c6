"""``serve`` with a slow backend: while a request waits on an HTTP_PROXY backend (a strangler's
legacy server answering slowly), other clients are answered; the waiting request then completes,
and a backend slower than the integration's timeout still gets API Gateway's answer.

The backend is a real HTTP server on loopback whose slow path waits on an event the test sets, so
"in flight" is a state the test holds, not a race it hopes to win."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from aws_cdk import CfnParameter, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as v2
from aws_cdk import aws_apigatewayv2_integrations as integrations

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.handoff import CloudLock
from localcloud.server import LocalServer
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

#: How long a client waits for an answer that must come while another request waits on its backend.
PROMPT = 5.0
#: The integration timeout of the hurried routes: short, so a timeout costs little wall clock.
HURRIED = Duration.millis(300)


def build(stack: Stack) -> None:
    backend = CfnParameter(stack, "BackendUrl", default="http://127.0.0.1:9").value_as_string
    api = apigw.RestApi(
        stack, "Rest", cloud_watch_role=False, deploy_options=apigw.StageOptions(stage_name="prod")
    )
    api.root.add_resource("hello").add_method(
        "GET", apigw.LambdaIntegration(python_function(stack, "RestHello", "apigw_echo"))
    )
    for name, timeout in (("legacy", None), ("hurried", HURRIED)):
        api.root.add_resource(name).add_resource("{proxy+}").add_method(
            "ANY",
            apigw.HttpIntegration(
                f"{backend}/{{proxy}}",
                proxy=True,
                http_method="ANY",
                options=apigw.IntegrationOptions(
                    request_parameters={"integration.request.path.proxy": "method.request.path.proxy"},
                    timeout=timeout,
                ),
            ),
            request_parameters={"method.request.path.proxy": True},
        )
    http = v2.HttpApi(stack, "Http")
    http.add_routes(
        path="/hello",
        methods=[v2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration(
            "Hello", python_function(stack, "HttpHello", "http_echo")
        ),
    )
    for name, timeout in (("legacy", None), ("hurried", HURRIED)):
        http.add_routes(
            path=f"/{name}/{{proxy+}}",
            methods=[v2.HttpMethod.ANY],
            integration=integrations.HttpUrlIntegration(
                name.title(), f"{backend}/{{proxy}}", timeout=timeout
            ),
        )


@dataclass
class Backend:
    """A legacy server on loopback: ``/slow`` answers once ``release`` is set, anything else at once."""

    url: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/slow":
                backend.arrived.set()
                backend.release.wait(PROMPT * 2)
            data = json.dumps({"legacy": self.path}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the gateway timed out and hung up first

    return Handler


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    found = Backend()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def reports() -> list[tuple[str | None, list[str]]]:
    """What the server reported after each request: its path and its trace lines."""
    return []


@pytest.fixture(scope="module")
def server(synth, backend, reports) -> Iterator[LocalServer]:
    artifact = synth("ServeSlowBackend", build)
    with LocalCloud(artifact, start=FIXED_START, parameters={"BackendUrl": backend.url}) as cloud:
        on_request = lambda request, _, lines: reports.append((request and request.path, lines))  # noqa: E731
        with LocalServer(cloud, real_time=False, on_request=on_request) as serving:
            serving.start()
            yield serving


@pytest.fixture
def gate(backend) -> Iterator[Backend]:
    """The backend with its slow path closed; opened again whatever the test's outcome."""
    backend.arrived.clear()
    backend.release.clear()
    yield backend
    backend.release.set()


def url_of(server: LocalServer, kind: str) -> str:
    [door] = [door for door in server.front_doors if door.kind == kind]
    return door.url.rstrip("/")


def fetch(url: str, timeout: float = PROMPT) -> tuple[int, dict]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def in_flight(url: str) -> tuple[threading.Thread, list]:
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(fetch(url, timeout=PROMPT * 2)), daemon=True)
    thread.start()
    return thread, answers


@pytest.mark.parametrize("kind", ["api", "http-api"])
def test_a_request_waiting_on_a_slow_backend_holds_no_other_client(server, gate, reports, kind):
    base = url_of(server, kind)
    first, answers = in_flight(f"{base}/legacy/slow")
    assert gate.arrived.wait(PROMPT), "the slow request reached the backend"
    reports.clear()
    status, body = fetch(f"{base}/hello")
    assert status == 200, body
    assert first.is_alive() and answers == [], "the first request still waits on its backend"
    gate.release.set()
    first.join(PROMPT)
    assert answers == [(200, {"legacy": "/slow"})]
    # Each request's report carries its own spans: the Lambda call under the second, the backend
    # call under the first, though the first began before the second.
    [(path_b, lines_b), (path_a, lines_a)] = [(path, lines) for path, lines in reports if path]
    assert path_b.endswith("/hello") and path_a.endswith("/legacy/slow")
    assert any(" invoke " in line for line in lines_b) and not any("integrate" in line for line in lines_b)
    assert any("integrate" in line and "GET /slow: 200" in line for line in lines_a)
    assert not any(" invoke " in line for line in lines_a)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("api", (504, {"message": "Endpoint request timed out"})),
        ("http-api", (503, {"message": "Service Unavailable"})),
    ],
)
def test_a_backend_slower_than_the_integration_timeout_gets_api_gateways_answer(server, gate, kind, expected):
    """REST APIs answer 504 past their integration timeout (29 s unless less is set), HTTP APIs 503
    (30 s): the wait with the cloud let go keeps the socket's timeout."""
    base = url_of(server, kind)
    first, answers = in_flight(f"{base}/hurried/slow")
    assert gate.arrived.wait(PROMPT)
    assert fetch(f"{base}/hello")[0] == 200
    first.join(PROMPT)
    assert answers == [expected]
    assert fetch(f"{base}/hurried/fast") == (200, {"legacy": "/fast"}), "the server serves on"


def test_a_redeploy_waits_for_the_requests_away_on_a_backend():
    """The swap holds the lock once no request is away, so a request that let the cloud go finishes
    on the stack it began on."""
    lock, order = CloudLock(), []
    went, back = threading.Event(), threading.Event()

    def request() -> None:
        with lock:
            assert lock.held_once()
            with lock.let_go():
                went.set()
                back.wait(PROMPT)
            order.append("request finished")

    def swap() -> None:
        with lock:
            lock.settle()
            order.append("swapped")

    threads = [threading.Thread(target=request), threading.Thread(target=swap)]
    threads[0].start()
    assert went.wait(PROMPT)
    threads[1].start()
    back.set()
    for thread in threads:
        thread.join(PROMPT)
    assert order == ["request finished", "swapped"]


def test_only_a_thread_holding_the_lock_once_may_let_go():
    lock = CloudLock()
    with lock, lock:
        assert not lock.held_once()
        with pytest.raises(RuntimeError, match="holding the lock once"), lock.let_go():
            pass
