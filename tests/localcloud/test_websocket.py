"""WebSocket APIs: the $connect authorizer and route, route selection, the Lambda events, route
responses, the management API (IAM-checked, 410 for a gone connection) and the connection's end on
the virtual clock (idle timeout, 2-hour limit, message size)."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from aws_cdk import Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk.aws_apigatewayv2_authorizers import WebSocketLambdaAuthorizer
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.core.front_doors import FrontDoor
from localcloud.errors import LocalCloudError
from localcloud.server import LocalServer
from localcloud.services.apigatewayv2.websocket.client import ConnectionRefused, NothingReceived
from localcloud.services.apigatewayv2.websocket.connections import Connection
from localcloud.services.apigatewayv2.websocket.gateway import _identity
from tests.localcloud.conftest import listening, pk_table, python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    events = pk_table(stack, "Events")
    env = {"EVENTS_TABLE": events.table_name}
    handler = python_function(stack, "Handler", "ws_handler", environment=env)
    stranger = python_function(stack, "Stranger", "ws_handler", environment=env)
    events.grant_read_write_data(handler)
    events.grant_read_write_data(stranger)
    authorizer = WebSocketLambdaAuthorizer(
        "Authz",
        python_function(stack, "Auth", "ws_authorizer"),
        identity_source=["route.request.querystring.token"],
    )

    def options(name: str, fn=handler, **kwargs) -> apigwv2.WebSocketRouteOptions:
        return apigwv2.WebSocketRouteOptions(integration=WebSocketLambdaIntegration(name, fn), **kwargs)

    chat = apigwv2.WebSocketApi(
        stack,
        "Chat",
        connect_route_options=options("OnConnect", authorizer=authorizer),
        disconnect_route_options=options("OnDisconnect"),
        default_route_options=options("OnDefault", return_response=True),
    )
    for key in ("echo", "whoami", "post", "fail"):
        chat.add_route(
            key, integration=WebSocketLambdaIntegration(f"On{key.title()}", handler), return_response=True
        )
    chat.add_route("kick", integration=WebSocketLambdaIntegration("OnKick", handler))
    prod = apigwv2.WebSocketStage(stack, "Prod", web_socket_api=chat, stage_name="prod", auto_deploy=True)
    prod.grant_management_api_access(handler)

    # No authorizer, no $default, and a function without ManageConnections.
    bare = apigwv2.WebSocketApi(stack, "Bare", connect_route_options=options("OnBareConnect"))
    bare.add_route(
        "post", integration=WebSocketLambdaIntegration("OnBarePost", stranger), return_response=True
    )
    apigwv2.WebSocketStage(stack, "Dev", web_socket_api=bare, stage_name="dev", auto_deploy=True)
    # A Lambda integration whose function has no permission for this API, and a MOCK integration.
    uri = f"arn:aws:apigateway:{stack.region}:lambda:path/2015-03-31/functions/{handler.function_arn}/invocations"
    unpermitted = apigwv2.CfnIntegration(
        stack, "Unpermitted", api_id=bare.api_id, integration_type="AWS_PROXY", integration_uri=uri
    )
    mock = apigwv2.CfnIntegration(stack, "Mock", api_id=bare.api_id, integration_type="MOCK")
    for key, integration in (("nopermission", unpermitted), ("mocked", mock)):
        apigwv2.CfnRoute(
            stack,
            key.title(),
            api_id=bare.api_id,
            route_key=key,
            target=f"integrations/{integration.ref}",
            route_response_selection_expression="$default",
        )


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("WebSockets", build), start=FIXED_START) as running:
        yield running


def recorded(cloud: LocalCloud, route: str, connection: str) -> dict | None:
    table = cloud.physical_id("Events")
    item = cloud.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": f"{route}#{connection}"}})
    return json.loads(item["Item"]["event"]["S"]) if "Item" in item else None


def test_connect_runs_the_authorizer_then_the_route_with_the_connect_event(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"}, headers={"User-Agent": "wscat"})
    event = recorded(cloud, "$connect", ws.id)
    context = event["requestContext"]
    api_id = cloud.physical_id("Chat")
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT"
    assert context["connectionId"] == ws.id and len(ws.id) == 16
    assert context["domainName"] == f"{api_id}.execute-api.us-east-1.amazonaws.com"
    assert (context["stage"], context["apiId"]) == ("prod", api_id)
    assert context["connectedAt"] == int(FIXED_START.timestamp() * 1000) + int(cloud.clock.elapsed() * 1000)
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "wscat"}
    assert context["authorizer"]["principalId"] == "ada" and context["authorizer"]["user"] == "ada"
    assert event["queryStringParameters"] == {"token": "ada"}
    assert event["headers"]["User-Agent"] == "wscat" and "requestId" in context
    assert event["headers"]["Host"] == context["domainName"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    ws.close()


@pytest.mark.parametrize(
    ("query", "status", "why"),
    [
        ({"token": "deny"}, 403, "denies"),
        ({}, 401, "identity source route.request.querystring.token is missing"),
        ({"token": "unauthorized"}, 401, "answered Unauthorized"),
        ({"token": "ok", "refuse": "401"}, 401, "statusCode 401"),
        ({"token": "ok", "boom": "1"}, 502, "connect blew up"),
    ],
)
def test_a_refused_handshake_opens_no_connection(cloud, query, status, why):
    before = len(cloud.websocket("Chat").websockets.connections.open_ones())
    with pytest.raises(ConnectionRefused) as refused:
        cloud.websocket("Chat").connect(query=query)
    assert refused.value.status == status and why in refused.value.why
    assert len(cloud.websocket("Chat").websockets.connections.open_ones()) == before


def test_the_selection_expression_picks_the_route_and_two_way_routes_answer(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"})
    ws.send({"action": "echo", "text": "hi"})
    posted = json.loads(ws.receive())  # the handler's post_to_connection came first
    assert ws.receive() == "ack"  # then the route response
    context = posted["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("echo", "MESSAGE")
    assert context["messageId"] and context["authorizer"]["principalId"] == "ada"
    assert json.loads(posted["body"]) == {"action": "echo", "text": "hi"}
    assert posted["isBase64Encoded"] is False
    ws.send("not json")
    assert ws.receive() == "default:not json"
    ws.send(b"\x00\x01")  # a binary frame: base64 in the event, and no route key to read
    assert ws.receive() == "default:AAE="
    ws.send({"action": "nosuchroute"})
    assert ws.receive() == 'default:{"action": "nosuchroute"}'
    deep = "[" * 30_000  # under the 32 KB frame, nested deeper than the parser goes: not JSON
    ws.send(deep)
    assert ws.receive() == f"default:{deep}"
    ws.send({"action": "kick", "id": "unknown"})  # a one-way route's failure is still told
    assert ws.receive_json()["message"] == "Internal server error"
    ws.close()


def test_a_failing_route_and_a_message_no_route_takes_answer_api_gateways_errors(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"})
    ws.send({"action": "fail"})
    failed = ws.receive_json()
    assert failed["message"] == "Internal server error" and failed["connectionId"] == ws.id
    bare = cloud.websocket("Bare").connect()
    bare.send({"action": "other"})
    assert bare.receive_json()["message"] == "Forbidden"
    for action, why in (("nopermission", "no Lambda permission"), ("mocked", "a MOCK integration")):
        bare.send({"action": action})
        assert bare.receive_json()["message"] == "Internal server error"
        assert why in cloud.trace.find("websocket")[-1].data["why"]
    ws.close()
    bare.close()


def test_the_management_api_posts_gets_and_deletes_connections(cloud):
    alice = cloud.websocket("Chat").connect(query={"token": "alice"}, headers={"User-Agent": "ua"})
    bob = cloud.websocket("Chat").connect(query={"token": "bob"})
    alice.send({"action": "post", "to": bob.id, "data": "hello bob"})
    assert alice.receive() == "sent" and bob.receive() == "hello bob"
    bob.send({"action": "whoami", "id": alice.id})
    found = json.loads(bob.receive())
    assert found["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "ua"}
    assert found["ConnectedAt"] and found["LastActiveAt"]
    alice.send({"action": "kick", "id": bob.id})  # DeleteConnection, on a one-way route
    with pytest.raises(NothingReceived):
        alice.receive()
    assert bob.closed and bob.close_code == 1000
    assert recorded(cloud, "$disconnect", bob.id)["requestContext"]["eventType"] == "DISCONNECT"
    alice.send({"action": "post", "to": bob.id, "data": "still there?"})
    assert alice.receive() == "GoneException"
    with pytest.raises(LocalCloudError, match="is closed"):
        bob.send("anything")
    alice.send({"action": "post", "to": alice.id, "data": "x", "stage": "staging"})
    assert alice.receive() == "ForbiddenException"  # the endpoint names no stage of the API
    alice.send({"action": "post", "to": alice.id, "size": 128 * 1024 + 1})
    assert alice.receive() == "PayloadTooLargeException"
    alice.close()


def test_a_connection_its_client_closed_is_gone_before_its_disconnect_has_run(cloud):
    """Under serve the close frame arrives on the socket's thread, which then waits for the cloud to
    run $disconnect: a post meanwhile must be 410 at once, as on AWS, not sent into the void."""
    alice = cloud.websocket("Chat").connect(query={"token": "alice"})
    bob = cloud.websocket("Chat").connect(query={"token": "bob"})
    sent: list[str | bytes] = []
    bob.connection.attach(sent.append, lambda code, reason: None, lambda: True)
    alice.send({"action": "post", "to": bob.id, "data": "are you there?"})
    assert alice.receive() == "GoneException"
    assert sent == []
    alice.close()


def test_a_connection_is_gone_to_the_management_api_until_connect_returns(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada", "selfpost": "1"})
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.physical_id("Events"), Key={"pk": {"S": f"$connect#{ws.id}"}}
    )["Item"]
    assert item["selfpost"] == {"S": "GoneException"}
    with pytest.raises(NothingReceived):
        ws.receive()
    ws.close()


def test_management_calls_need_manage_connections_on_the_connection(cloud):
    ws = cloud.websocket("Bare").connect()
    ws.send({"action": "post", "to": ws.id, "data": "x"})
    assert ws.receive() == "AccessDeniedException"
    denied = cloud.trace.find("denied")[-1]
    assert "execute-api:ManageConnections" in denied.detail
    assert f"{cloud.physical_id('Bare')}/dev/POST/@connections/{ws.id}" in denied.detail
    ws.close()


def test_an_idle_connection_closes_after_10_minutes_and_fires_disconnect(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"})
    cloud.advance(9 * 60)
    ws.send("still here")  # activity: the idle clock starts again
    ws.pending()
    cloud.advance(9 * 60)
    assert not ws.closed
    cloud.advance(61)
    assert ws.closed and ws.close_code == 1001
    context = recorded(cloud, "$disconnect", ws.id)["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Idle timeout")


def test_a_busy_connection_still_ends_after_2_hours(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"})
    for _ in range(23):
        cloud.advance(5 * 60)
        ws.send("ping")
    assert not ws.closed
    cloud.advance(5 * 60)
    assert ws.closed and ws.connection.close_reason == "Connection duration limit"


def test_a_message_over_128_kb_closes_the_connection_with_1009(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"})
    ws.send("x" * (128 * 1024))
    assert ws.receive().startswith("default:")
    ws.send("x" * (128 * 1024 + 1))
    assert ws.closed and ws.close_code == 1009


def test_the_trace_shows_connect_message_and_disconnect_under_their_cause(cloud):
    ws = cloud.websocket("Chat").connect(query={"token": "ada"})
    ws.send({"action": "echo"})
    ws.close(1000, "bye")
    tree = cloud.trace.tree()
    assert f"connect {ws.id} $connect" in tree and f"message {ws.id} echo" in tree
    assert f"disconnect {ws.id} $disconnect 1000" in tree and f"connection:{ws.id}" in tree
    assert "websocket: connect" in cloud.trace.mermaid()
    disconnect = recorded(cloud, "$disconnect", ws.id)["requestContext"]
    assert (disconnect["disconnectStatusCode"], disconnect["disconnectReason"]) == (1000, "bye")


def test_identity_sources_read_the_query_string_or_a_header_in_any_case():
    connection = Connection(
        "id",
        "api",
        "prod",
        FIXED_START,
        "127.0.0.1",
        "",
        {"X-Token": ["t1"]},
        {"token": ["q1"], "empty": [""]},
        FIXED_START,
    )
    assert _identity("route.request.header.x-token", connection) == "t1"
    assert _identity("route.request.querystring.token", connection) == "q1"
    assert _identity("route.request.querystring.empty", connection) is None
    assert _identity("route.request.header.Authorization", connection) is None
    assert _identity("$request.header.X-Token", connection) is None  # an HTTP API's form


def test_a_server_that_fails_to_start_or_closes_leaves_no_websocket_port_listening(cloud):
    """A WebSocket stage listens on a thread of its own, outside waitress's socket map: a server
    that fails on a later door (its port taken) or closes must still close that listener."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    blocked = FrontDoor("api", "blocked", "", lambda request: None, "x", port=taken.getsockname()[1])
    listening_before = set(_websocket_threads())
    try:
        with pytest.raises(OSError):
            LocalServer(cloud, real_time=False, extra_doors=[lambda _cloud: blocked])
    finally:
        taken.close()
    assert set(_websocket_threads()) == listening_before
    server = LocalServer(cloud, real_time=False)
    redeploy_retired = server._servers.pop(0)
    server.front_doors.pop(0)
    server._retired.append(redeploy_retired)
    ports = [redeploy_retired.server_address[1], *server.ports()]
    server.close()
    assert set(_websocket_threads()) == listening_before
    assert not any(listening(port) for port in ports)


def _websocket_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "localcloud-websocket" and t.is_alive()]


def test_a_request_that_is_no_websocket_handshake_is_refused_before_connect_runs(cloud):
    """API Gateway checks the upgrade before it runs $connect: a plain GET must not open a
    connection that no $disconnect would ever end."""
    websockets = cloud.websocket("Bare").websockets
    before = len(websockets.connections.open_ones())
    connects = len(cloud.trace.find("invoke", target=cloud.function("Handler").name))
    with LocalServer(cloud, real_time=False) as server:
        [door] = [d for d in server.front_doors if d.kind == "websocket" and d.base_path == "/dev"]
        host, port = door.url.removeprefix("ws://").split("/", 1)[0].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"GET /dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 4"), answer
    assert len(websockets.connections.open_ones()) == before
    assert len(cloud.trace.find("invoke", target=cloud.function("Handler").name)) == connects
