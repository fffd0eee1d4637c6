"""What the serving path's shortcuts must keep: the console gets each span once, a function's log
lines land as PutLogEvents would put them, compiled request validators follow their models, and a
warm function left in place while serving is still cold, warm and isolated as without it, and
sessions that share botocore's model files keep their own credentials, hooks and data paths."""

from __future__ import annotations

import copy
import http.client
import json
import sys
import threading

import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.server import LocalServer
from localcloud.services.lambda_.function_logs import is_platform_line
from localcloud.services.lambda_.log_writer import put_log_events
from localcloud.services.lambda_.warm import in_place_while_serving
from tests.localcloud.test_apigateway import build as build_api
from tests.localcloud.test_core import build_twins
from tests.localcloud.test_logs_and_firehose import build_logs, lines, log_messages

pytestmark = pytest.mark.localcloud


# ---------------------------------------------------------------------------------------- console


def test_the_console_gets_each_span_once_in_order_as_the_trace_renders_it(synth, run):
    cloud = run(synth("ApiFrontDoor", build_api))
    reports: list[tuple[str, list[str]]] = []
    server = LocalServer(
        cloud,
        real_time=False,
        on_request=lambda request, _, new: reports.append((request and request.path, new)),
    )
    with server:
        server.start()
        port = server.front_doors[0].url.split(":")[2].split("/")[0]
        for path in ("/test/items", "/test/items/7", "/test/mock"):
            connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
            connection.request("GET", path)
            assert connection.getresponse().status == 200
            connection.close()
    assert [line for _, new in reports for line in new] == cloud.trace.lines()
    by_request = {path: new for path, new in reports if path}
    assert sum("invoke" in line for line in by_request["/test/items/7"]) == 1
    assert not any("invoke" in line for line in by_request["/test/mock"]), (
        "a mock integration invokes nothing"
    )
    assert cloud.trace.lines(since=2) == cloud.trace.lines()[2:]


def test_requests_answered_on_the_loops_thread_wake_no_poll_and_each_answer_arrives(synth, run, monkeypatch):
    """waitress wakes its loop (a pipe write) after each request; the serving loop answers on its
    own thread and polls next anyway, so only a wake from another thread may write the pipe."""
    import waitress.trigger

    pulls: list[str] = []
    physical_pull = waitress.trigger.trigger._physical_pull
    monkeypatch.setattr(
        waitress.trigger.trigger,
        "_physical_pull",
        lambda self: (pulls.append(threading.current_thread().name), physical_pull(self))[1],
    )
    cloud = run(synth("ApiFrontDoor", build_api))
    with LocalServer(cloud, real_time=False) as server:
        server.start()
        port = int(server.front_doors[0].url.split(":")[2].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for n in range(10):
            connection.request("GET", f"/test/items/{n}")
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())["event"]["pathParameters"]) == (
                200,
                {"id": str(n)},
            )
        assert pulls == [], "no wake-up from the loop's own thread"
        server._servers[0].pull_trigger()  # this thread does not run the loop: it must wake it
        assert pulls == [threading.current_thread().name]
        connection.request("GET", "/test/items/last")
        assert connection.getresponse().status == 200
        connection.close()


# ---------------------------------------------------------------------------------------- logs


@pytest.fixture
def logs_cloud(synth, run) -> LocalCloud:
    return run(synth("LogsSemantics", build_logs))


def test_log_lines_keep_their_order_and_the_moment_each_invocation_wrote_them(logs_cloud):
    group = logs_cloud.physical_id("ProducerLogs")
    start = int(logs_cloud.clock.now().timestamp() * 1000)
    logs_cloud.invoke("Producer", lines(("INFO", "first")))
    logs_cloud.advance(90)
    logs_cloud.invoke("Producer", lines(("INFO", "second")))
    logged = logs_cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    events = [e for e in logged if not is_platform_line(e["message"])]
    assert [e["message"] for e in events][1::2] == ["plain line: 1 logged"] * 2
    assert [json.loads(e["message"])["message"] for e in events[::2]] == ["first", "second"]
    assert [e["timestamp"] for e in events] == [start, start, start + 90_000, start + 90_000]


def test_a_subscription_delivery_hangs_under_the_invocation_whose_lines_it_carries(logs_cloud):
    logs_cloud.invoke("Producer", lines(("ERROR", "boom")))
    logs_cloud.drain()
    [invoke] = logs_cloud.trace.find("invoke", target=logs_cloud.function("Producer").name)
    [subscriber] = logs_cloud.trace.find("invoke", target=logs_cloud.function("Subscriber").name)
    parents = {span.id: span.parent for span in logs_cloud.trace.spans}
    chain, at = [], subscriber.id
    while at is not None:
        chain.append(at)
        at = parents[at]
    assert invoke.id in chain, logs_cloud.trace.tree()


def test_the_direct_write_refuses_what_put_log_events_refuses(logs_cloud):
    group = logs_cloud.physical_id("ProducerLogs")
    now = int(logs_cloud.clock.now().timestamp() * 1000)
    with pytest.raises(ClientError) as missing:
        put_log_events(logs_cloud.kernel, group, "no-such-stream", [{"timestamp": now, "message": "x"}])
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    logs_cloud.client("logs").create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(ClientError) as unordered:
        put_log_events(
            logs_cloud,
            group,
            "s",
            [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
        )
    assert unordered.value.response["Error"]["Code"] == "InvalidParameterException"
    assert put_log_events(logs_cloud.kernel, group, "s", [{"timestamp": now, "message": "ok"}])[
        "nextSequenceToken"
    ]
    assert log_messages(logs_cloud, group) == ["ok"]


# ---------------------------------------------------------------------------------------- validators


def test_a_compiled_validator_follows_a_changed_model(synth, run):
    cloud = run(synth("ApiFrontDoor", build_api))
    shop = cloud.api("Shop")

    def post(body: dict) -> int:
        headers = {"X-Trace": "t", "Content-Type": "application/json"}
        return shop.post("/validated", json=body, headers=headers, query={"q": "1"}).status_code

    assert post({"sku": "tea", "qty": 1}) == 200
    api = cloud.apigateway.find("Shop")
    [name] = api.models
    original = copy.deepcopy(api.models[name])
    api.models[name]["required"].append("gift")
    assert post({"sku": "tea", "qty": 1}) == 400, "the stricter model applies at once"
    assert post({"sku": "tea", "qty": 1, "gift": False}) == 200
    api.models[name] = original
    assert post({"sku": "tea", "qty": 1}) == 200


# ---------------------------------------------------------------------------------------- warm


def test_a_warm_function_left_in_place_while_serving_is_still_cold_warm_and_isolated(synth, run):
    cloud = run(synth("Twins", build_twins))
    names = {"handler", "models"}

    def process_modules() -> dict:
        return {n: m for n, m in sys.modules.items() if n.split(".")[0] in names}

    modules, path = process_modules(), sys.path[:]
    with in_place_while_serving():
        assert [cloud.invoke("TwinA")["Payload"]["invocations_since_cold_start"] for _ in range(2)] == [1, 2]
        assert sys.modules["models"].NAME == "twin-a", "left in place between its invocations"
        b = cloud.invoke("TwinB")["Payload"]
        assert (b["name"], b["who"], b["invocations_since_cold_start"]) == ("twin-b", "b", 1)
        a = cloud.invoke("TwinA")["Payload"]
        assert (a["name"], a["who"], a["invocations_since_cold_start"]) == ("twin-a", "a", 3), "init ran once"
        cloud.function("TwinA").reset()
        assert cloud.invoke("TwinA")["Payload"]["invocations_since_cold_start"] == 1, "cold after reset"
    assert process_modules() == modules and sys.path == path, "the process's own modules and path are back"
    assert [s.data["cold_start"] for s in cloud.trace.find("invoke")] == [True, False, True, False, True]
    assert cloud.invoke("TwinA")["Payload"]["invocations_since_cold_start"] == 2, "still warm after serving"


# ---------------------------------------------------------------------------------------- model files


def _session(**config: str) -> botocore.session.Session:
    session = botocore.session.Session()
    for name, value in config.items():
        session.set_config_variable(name, value)
    return session


def test_sessions_decode_the_model_files_once_but_keep_their_own_models_credentials_and_hooks(
    logs_cloud, monkeypatch
):
    first = _session()
    first.set_credentials("AKIAFIRST", "first-secret")
    first.create_client("dynamodb", region_name="us-east-1")
    decoded: list[str] = []
    load = botocore.loaders.JSONFileLoader._load_file

    def decoding(self, path, open_method):
        data = load(self, path, open_method)
        if data is not None:
            decoded.append(path)
        return data

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "_load_file", decoding)
    second = _session()
    second.set_credentials("AKIASECOND", "second-secret")
    client = second.create_client("dynamodb", region_name="us-east-1")
    assert decoded == []
    # botocore edits some models in place per session (S3's request URIs): the copies are separate.
    first.get_service_data("dynamodb")["metadata"]["lcprobe"] = "first only"
    assert "lcprobe" not in second.get_service_data("dynamodb")["metadata"]
    assert "lcprobe" not in _session().get_service_data("dynamodb")["metadata"]
    assert client._request_signer._credentials.access_key == "AKIASECOND"
    assert first.get_credentials().access_key == "AKIAFIRST"
    seen: list[str] = []
    first.register("lcprobe.dynamodb", lambda **_: seen.append("first"))
    client.meta.events.emit("lcprobe.dynamodb.GetItem")
    assert seen == []
    first.emit("lcprobe.dynamodb.GetItem")
    assert seen == ["first"]


def test_a_session_with_its_own_data_path_reads_its_own_models(logs_cloud, tmp_path):
    model = tmp_path / "lcprobe" / "2020-01-01"
    model.mkdir(parents=True)
    (model / "service-2.json").write_text("{}")
    assert "lcprobe" not in _session().get_available_services()
    assert "lcprobe" in _session(data_path=str(tmp_path)).get_available_services()
    assert "lcprobe" not in _session().get_available_services()
