"""The WebSocket chat (a plain CDK WebSocketApi: a connections table, $connect, $disconnect and a
broadcasting `sendmessage` route) run through `serve`'s WebSocket port with a real client from the
`websockets` library: each connection is stored, a message reaches every connection, a stored
connection that is gone is dropped on its 410, and a closed client is removed by $disconnect."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from localcloud.server import LocalServer
from localcloud.testing import cloud_for
from localcloud.try_lines import door_lines

pytestmark = pytest.mark.localcloud

STACK = "WsChatStack"


@pytest.fixture(scope="module")
def served(other_apps):
    with cloud_for(other_apps, STACK) as cloud, LocalServer(cloud, port=0, real_time=False) as server:
        server.start()
        yield server


def stored(server: LocalServer) -> set[str]:
    def scan() -> set[str]:
        table = server.cloud.outputs["TableName"]
        items = server.cloud.client("dynamodb").scan(TableName=table)["Items"]
        return {item["connectionId"]["S"] for item in items}

    return server.using_cloud(scan)


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait (in real time, bounded) for what the server's connection threads do after a close."""
    waited = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        waited.wait(0.01)
    raise AssertionError("the server did not get there in time")


def test_serve_prints_a_wscat_line_for_the_stage(served):
    door = next(door for door in served.front_doors if door.kind == "websocket")
    assert door.url.startswith("ws://127.0.0.1:") and door.url.endswith("/dev")
    assert door_lines(served.cloud, door) == [
        f'wscat -c "{door.url}"',
        '# then send a message per route, e.g. {"action": "sendmessage"}',
    ]


def test_a_message_is_broadcast_to_every_connection_and_gone_ones_are_dropped(served):
    url = next(door.url for door in served.front_doors if door.kind == "websocket")
    with connect(url) as alice, connect(url) as bob:
        assert len(stored(served)) == 2
        table = served.cloud.outputs["TableName"]
        served.using_cloud(
            lambda: served.cloud.client("dynamodb").put_item(
                TableName=table, Item={"connectionId": {"S": "R0neConnId0AA="}}
            )
        )
        alice.send(json.dumps({"action": "sendmessage", "data": "hello, all"}))
        assert alice.recv(timeout=5) == "hello, all"
        assert bob.recv(timeout=5) == "hello, all"
        assert "R0neConnId0AA=" not in stored(served)
        bob.close()
        eventually(lambda: len(stored(served)) == 1)
    eventually(lambda: stored(served) == set())
    spans = [span.detail.split(" ")[0] for span in served.cloud.trace.find("websocket")]
    assert spans.count("connect") == 2 and spans.count("message") == 1 and spans.count("disconnect") == 2


def test_a_path_that_is_not_the_stage_is_refused_at_the_handshake(served):
    url = next(door.url for door in served.front_doors if door.kind == "websocket")
    with pytest.raises(InvalidStatus) as refused:
        connect(url.removesuffix("/dev") + "/prod")
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body) == {"message": "Forbidden"}


def test_a_frame_over_32_kb_closes_the_connection_but_a_message_split_into_frames_is_taken(served):
    url = next(door.url for door in served.front_doors if door.kind == "websocket")
    with connect(url) as client:
        client.send([json.dumps({"note": "x" * 20_000})[:20_000], "y" * 20_000])  # two frames, 40 KB
        assert json.loads(client.recv(timeout=5))["message"] == "Forbidden"  # no route, but taken
        client.send("x" * (33 * 1024))
        with pytest.raises(ConnectionClosedError) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd.code == 1009
