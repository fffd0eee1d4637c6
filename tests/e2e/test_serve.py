"""The simple web service served on localhost: what curl sees, and a server that survives bad requests."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from localcloud.__main__ import _host_note, main, stack_named
from localcloud.aws_endpoint.door import aws_door
from localcloud.server import MAX_BODY, LocalServer

pytestmark = pytest.mark.e2e


class Curl:
    """A bare HTTP client, one connection per request, as curl makes them."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.port, self.base = parts.port, parts.path.rstrip("/")

    def __call__(self, method: str, path: str, body: str | dict | None = None) -> tuple[int, dict | None]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            payload = json.dumps(body) if isinstance(body, dict) else body
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, self.base + path, payload, headers)
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            connection.close()


@pytest.fixture
def served(local_cloud):
    cloud = local_cloud("simple_web_service")
    with LocalServer(cloud, real_time=False) as server:
        server.start()
        yield server


def test_curl_does_crud(served):
    [door] = served.front_doors
    curl = Curl(door.url)
    status, created = curl("POST", "/items", {"name": "lamp", "price_cents": 1299})
    assert status == 201
    assert curl("GET", f"/items/{created['id']}") == (200, created)
    status, updated = curl("PUT", f"/items/{created['id']}", {"name": "desk lamp", "price_cents": 1499})
    assert (status, updated["name"]) == (200, "desk lamp")
    status, listing = curl("GET", "/items?limit=10")
    assert (status, [item["id"] for item in listing["items"]]) == (200, [created["id"]])
    assert curl("DELETE", f"/items/{created['id']}") == (204, None)
    assert curl("GET", f"/items/{created['id']}")[0] == 404


def test_bad_requests_get_aws_answers_and_the_server_lives_on(served):
    curl = Curl(served.front_doors[0].url)
    status, body = curl("POST", "/items", "{not json")
    assert status == 400 and "message" in body
    assert curl("GET", "/nowhere") == (403, {"message": "Missing Authentication Token"})
    for garbage, status in [
        (b"BREW /prod/items HTTP/1.1\r\n\r\n", b"501"),
        (b"POST /prod/items HTTP/1.1\r\nContent-Length: lots\r\n\r\n", b"400"),
        (b"GET /prod/items" + b"/x" * 40_000 + b" HTTP/1.1\r\n\r\n", b"414"),
    ]:
        with socket.create_connection(("127.0.0.1", curl.port), timeout=10) as raw:
            raw.sendall(garbage)
            assert raw.recv(100).split(b" ")[1] == status
    assert curl("GET", "/items")[0] == 200, "the server still answers"


def test_a_stalled_client_is_answered_408_and_holds_up_no_other_door(local_cloud):
    cloud = local_cloud("simple_web_service")
    with LocalServer(cloud, real_time=False, read_timeout=0.2, extra_doors=[aws_door(0)]) as server:
        server.start()
        api, aws = (Curl(door.url) for door in server.front_doors)
        with socket.create_connection(("127.0.0.1", aws.port), timeout=10) as stalled:
            stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this")
            with socket.create_connection(("127.0.0.1", api.port), timeout=10) as silent:
                started = time.monotonic()
                assert api("GET", "/items")[0] == 200, "the API answers while two clients stall"
                assert time.monotonic() - started < 5
                assert silent.recv(100) == b"", "a client that sends no request is hung up on"
            answer = stalled.recv(1000)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 0.2 s" in answer
        too_big = f"POST /prod/items HTTP/1.1\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()
        with socket.create_connection(("127.0.0.1", api.port), timeout=10) as raw:
            raw.sendall(too_big)
            answer = raw.recv(1000)
        assert answer.startswith(b"HTTP/1.1 413 ") and f"limit of {MAX_BODY} bytes".encode() in answer
        assert api("GET", "/items")[0] == 200


def test_the_aws_api_listens_on_loopback_whatever_the_host_and_serve_says_so(local_cloud):
    cloud = local_cloud("simple_web_service")
    # Another loopback address stands for 0.0.0.0: --host moves the API, never the AWS API.
    with LocalServer(cloud, host="127.0.0.2", real_time=False, extra_doors=[aws_door(0)]) as server:
        api, aws = server.front_doors
        assert [listener.server_address[0] for listener in server._servers] == ["127.0.0.2", "127.0.0.1"]
        assert api.url.startswith("http://127.0.0.2:") and aws.url.startswith("http://127.0.0.1:")
        assert _host_note("127.0.0.2", api) == ""
        assert _host_note("0.0.0.0", aws).startswith(" (this machine only, not 0.0.0.0")  # noqa: S104
        assert _host_note("127.0.0.1", aws) == ""
        server.start()
        assert Curl(aws.url)("POST", "", {})[0] == 403, "the AWS endpoint answers on loopback: unsigned"


def test_serve_prints_its_front_doors_and_answers(cloud_assembly, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "localcloud", "serve", "simple_web_service"]
    command += ["--assembly", cloud_assembly.directory, "--port", "0", "--aws-port", "0"]
    command += ["--report", str(tmp_path / "serve.html")]
    with subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        try:
            printed = []
            for line in process.stdout:
                printed.append(line)
                if "Ctrl-C" in line:
                    break
            text = "".join(printed)
            [url] = re.findall(r"^  api .*: (http://\S+)$", text, flags=re.MULTILINE)
            assert "curl -i -X POST" in text and "/items" in text
            [aws_url] = re.findall(r"^  aws AWS API endpoint: (http://\S+)$", text, flags=re.MULTILINE)
            assert f"aws --endpoint-url {aws_url.rstrip('/')} --region us-east-1 dynamodb scan" in text
            assert Curl(aws_url)("POST", "", {})[0] == 403, "the AWS endpoint answers: unsigned"
            status, created = Curl(url)("POST", "/items", {"name": "cli", "price_cents": 1})
            assert status == 201
            served_at = datetime.fromisoformat(created["created_at"])
            assert abs(served_at - datetime.now(UTC)) < timedelta(hours=1), "serve keeps the caller's time"
            for line in process.stdout:
                printed.append(line)
                if "-> Pattern/ItemsFunction" in line:
                    break
        finally:
            process.terminate()
    text = "".join(printed)
    assert "POST /prod/items -> 201" in text, "the request is streamed with its trace"
    assert "    - [t=" in text and "-> Pattern/ItemsFunction: ok" in text, "named by construct path"
    assert '{"_aws":' not in text and '"level":"INFO"' not in text, (
        "the function's lines stay in its log group"
    )
    assert "participant A3 as Pattern/ItemsFunction" in (tmp_path / "serve.html").read_text()


def test_a_pattern_id_names_its_stack(cloud_assembly):
    assert stack_named(cloud_assembly.directory, "simple_web_service") == "SimpleWebServiceStack"
    assert stack_named(cloud_assembly.directory, "SimpleWebServiceStack") == "SimpleWebServiceStack"
    with pytest.raises(LookupError, match=r"its stacks are: .*ScalableWebhookStack"):
        stack_named(cloud_assembly.directory, "no_such_pattern")


NO_REGION_SCRIPT = """
import json, sys
import boto3
from localcloud import LocalCloud

# A default session made before any function ran, as a shell's own code or a library may make.
boto3.client("s3", region_name="eu-west-1")
with LocalCloud.from_assembly(sys.argv[1], "StateMachineStack") as cloud:
    execution = cloud.start_execution(cloud.outputs["StateMachineArn"], {"order_id": "o-1", "zone": "north"})
    cloud.drain()
    answer = cloud.invoke("Pattern/ConfirmDelivery", {"order_id": "o-1", "delivered": True})
    print(json.dumps({"execution": execution.status, "answer": answer}, default=str))
"""


def test_a_function_creates_clients_in_its_region_in_a_shell_that_names_none(cloud_assembly, tmp_path):
    """Lambda sets AWS_REGION for every function: a module creating a client at import must not
    depend on the shell's environment (serve, the demo and a user's own process often set none)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env["PYTHONPATH"] = os.getcwd()
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", NO_REGION_SCRIPT, str(cloud_assembly.directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NoRegionError" not in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize("option", ["--port", "--aws-port"])
def test_a_port_in_use_is_named_with_what_to_do(cloud_assembly, capsys, option):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        ports = {"--port": "0", "--aws-port": "0"} | {option: port}
        args = ["serve", "simple_web_service", "--assembly", cloud_assembly.directory]
        assert main([*args, *(word for pair in ports.items() for word in pair)]) == 2
    error = capsys.readouterr().err
    assert f"{option} {port}" in error and "taken" in error and "another serve" in error, error
