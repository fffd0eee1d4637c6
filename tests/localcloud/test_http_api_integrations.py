"""HTTP API integrations beyond Lambda: HTTP_PROXY with request and response parameter mapping and
its timeout; AWS service integrations by subtype, each made as its credentials role; and AWS_IAM
routes, whose callers sign with keys STS issued."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aws_cdk import CfnParameter, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

INTERNAL = {"message": "Internal Server Error"}
BAD_REQUEST = {"message": "Bad Request"}
FORBIDDEN = {"message": "Forbidden"}


def build(stack: Stack) -> None:
    backend = CfnParameter(stack, "BackendUrl").value_as_string
    api = apigwv2.HttpApi(stack, "Api")

    def route(name: str, key: str, authorization: str = "NONE", **props: Any) -> None:
        integration = apigwv2.CfnIntegration(stack, f"{name}Integration", api_id=api.api_id, **props)
        apigwv2.CfnRoute(
            stack,
            f"{name}Route",
            api_id=api.api_id,
            route_key=key,
            target=f"integrations/{integration.ref}",
            authorization_type=authorization,
        )

    route(
        "Proxy",
        "ANY /proxy/{proxy+}",
        integration_type="HTTP_PROXY",
        integration_method="ANY",
        integration_uri=f"{backend}/backend/{{proxy}}",
        payload_format_version="1.0",
        request_parameters={
            "overwrite:header.x-route": "$context.routeKey",
            "append:querystring.tag": "$request.header.x-tag",
            "remove:header.x-secret": "''",
            "overwrite:header.authorization": "Bearer $request.querystring.token",
        },
        response_parameters={
            "201": {
                "overwrite:header.x-backend": "renamed-$response.header.x-backend",
                "overwrite:statuscode": "202",
            },
            "404": {"remove:header.x-backend": "''"},
        },
    )
    route(
        "Renamed",
        "GET /renamed/{id}",
        integration_type="HTTP_PROXY",
        integration_method="GET",
        integration_uri=f"{backend}/ignored",
        payload_format_version="1.0",
        request_parameters={"overwrite:path": "/items/$request.path.id"},
    )
    route(
        "Slow",
        "GET /slow",
        integration_type="HTTP_PROXY",
        integration_method="GET",
        integration_uri=f"{backend}/slow",
        payload_format_version="1.0",
        timeout_in_millis=50,
    )

    queue = sqs.Queue(stack, "Queue")
    api.add_routes(
        path="/queue",
        methods=[apigwv2.HttpMethod.POST],
        integration=integrations.HttpSqsIntegration(
            "SendIntegration",
            queue=queue,
            parameter_mapping=apigwv2.ParameterMapping()
            .custom("QueueUrl", queue.queue_url)
            .custom("MessageBody", "$request.body.message")
            .custom("DelaySeconds", "$request.querystring.delay"),
        ),
    )
    refused = iam.Role(stack, "RefusedRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    route(
        "Refused",
        "POST /refused",
        integration_type="AWS_PROXY",
        integration_subtype="SQS-SendMessage",
        credentials_arn=refused.role_arn,
        payload_format_version="1.0",
        request_parameters={"QueueUrl": queue.queue_url, "MessageBody": "$request.body"},
    )

    bus = events.EventBus(stack, "Bus")
    seen = sqs.Queue(stack, "Seen")
    events.Rule(
        stack,
        "Rule",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[targets.SqsQueue(seen)],
    )
    api.add_routes(
        path="/events",
        methods=[apigwv2.HttpMethod.POST],
        integration=integrations.HttpEventBridgeIntegration(
            "EventsIntegration",
            event_bus_ref=bus.event_bus_ref,
            parameter_mapping=apigwv2.ParameterMapping()
            .custom("EventBusName", bus.event_bus_name)
            .custom("Source", "shop")
            .custom("DetailType", "$request.header.x-kind")
            .custom("Detail", "$request.body"),
        ),
    )

    flow = sfn.StateMachine(
        stack,
        "Flow",
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_chainable(
            sfn.Pass(stack, "Stamp", result_path="$.stamped", result=sfn.Result.from_boolean(True))
        ),
    )
    for path, subtype in (
        ("/flows", None),
        ("/flows/sync", apigwv2.HttpIntegrationSubtype.STEPFUNCTIONS_START_SYNC_EXECUTION),
    ):
        api.add_routes(
            path=path,
            methods=[apigwv2.HttpMethod.POST],
            integration=integrations.HttpStepFunctionsIntegration(
                f"Flow{'Sync' if subtype else ''}Integration",
                state_machine=flow,
                subtype=subtype,
                parameter_mapping=apigwv2.ParameterMapping()
                .custom("StateMachineArn", flow.state_machine_arn)
                .custom("Input", "$request.body"),
            ),
        )

    stream = kinesis.Stream(stack, "Stream", shard_count=1)
    writer = iam.Role(stack, "WriterRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    stream.grant_write(writer)
    route(
        "Records",
        "POST /records",
        integration_type="AWS_PROXY",
        integration_subtype="Kinesis-PutRecord",
        credentials_arn=writer.role_arn,
        payload_format_version="1.0",
        request_parameters={
            "StreamName": stream.stream_name,
            "Data": "$request.body.data",
            "PartitionKey": "$request.body.key",
        },
    )

    application = appconfig.CfnApplication(stack, "Flags", name="flags")
    environment = appconfig.CfnEnvironment(stack, "Live", application_id=application.ref, name="live")
    profile = appconfig.CfnConfigurationProfile(
        stack, "Features", application_id=application.ref, name="features", location_uri="hosted"
    )
    reader = iam.Role(stack, "ConfigRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    reader.add_to_policy(
        iam.PolicyStatement(
            actions=["appconfig:GetConfiguration"],
            resources=[
                stack.format_arn(
                    service="appconfig",
                    resource="application",
                    resource_name=f"{application.ref}/environment/{environment.ref}/configuration/{profile.ref}",
                )
            ],
        )
    )
    route(
        "Config",
        "GET /config",
        integration_type="AWS_PROXY",
        integration_subtype="AppConfig-GetConfiguration",
        credentials_arn=reader.role_arn,
        payload_format_version="1.0",
        request_parameters={
            "Application": "flags",
            "Environment": "live",
            "Configuration": "features",
            "ClientId": "$request.header.x-client",
        },
    )

    echo = python_function(stack, "Echo", "apigw_echo")
    api.add_routes(
        path="/signed",
        methods=[apigwv2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration("EchoIntegration", echo),
        authorizer=authorizers.HttpIamAuthorizer(),
    )
    route(
        "SignedProxy",
        "GET /signed-proxy",
        "AWS_IAM",
        integration_type="HTTP_PROXY",
        integration_method="GET",
        integration_uri=f"{backend}/whoami",
        payload_format_version="1.0",
        request_parameters={"overwrite:header.x-caller": "$context.identity.userArn"},
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    caller.add_to_policy(
        iam.PolicyStatement(
            actions=["execute-api:Invoke"],
            resources=[api.arn_for_execute_api(method="GET", path="/signed*")],
        )
    )
    iam.Role(stack, "Stranger", assumed_by=iam.AccountRootPrincipal())


class Backend:
    def __init__(self) -> None:
        self.url = ""
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()


def _handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/slow":
                backend.release.wait(2)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            backend.received.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode(),
                }
            )
            status = 404 if parts.path.endswith("/missing") else 201
            data = json.dumps({"seen": parts.path}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Backend", "legacy")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    return Handler


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    found = Backend()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cloud(synth, backend) -> Iterator[LocalCloud]:
    running = LocalCloud(
        synth("HttpApiIntegrations", build), start=FIXED_START, parameters={"BackendUrl": backend.url}
    )
    running.start()
    yield running
    running.stop()


def messages(cloud: LocalCloud, name: str) -> list[dict]:
    queue = cloud.physical_id(name)
    return cloud.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])


# ---------------------------------------------------------------------------------------- HTTP_PROXY


def test_the_proxy_passes_the_request_on_with_its_mapped_headers_and_query(cloud, backend):
    backend.received.clear()
    response = cloud.http_api().post(
        "/proxy/orders/7?token=abc&keep=1",
        json={"id": "7"},
        headers={"x-tag": "blue", "x-secret": "s3cr3t", "X-Route": "client's"},
    )
    assert response.status == 202, response.text
    assert response.header("x-backend") == "renamed-legacy"
    assert response.json() == {"seen": "/backend/orders/7"}
    sent = backend.received[-1]
    assert (sent["method"], sent["path"]) == ("POST", "/backend/orders/7")
    assert sent["query"] == {"token": ["abc"], "keep": ["1"], "tag": ["blue"]}
    assert sent["headers"]["x-route"] == "ANY /proxy/{proxy+}"
    assert sent["headers"]["authorization"] == "Bearer abc"
    assert "x-secret" not in sent["headers"]
    assert json.loads(sent["body"]) == {"id": "7"}


def test_a_mapped_header_value_http_cannot_carry_is_a_500_not_a_crash(cloud, backend):
    sent = len(backend.received)
    response = cloud.http_api().get("/proxy/x", query={"token": "a\r\nX-Injected: yes"})
    assert (response.status, response.json()) == (500, {"message": "Internal Server Error"})
    assert len(backend.received) == sent


def test_response_mapping_applies_to_its_status_only(cloud):
    response = cloud.http_api().get("/proxy/missing")
    assert response.status == 404
    assert response.header("x-backend") is None


def test_the_path_can_be_overwritten_from_a_path_parameter(cloud, backend):
    response = cloud.http_api().get("/renamed/42")
    assert response.status == 201, response.text
    assert backend.received[-1]["path"] == "/items/42"


def test_a_backend_slower_than_the_integration_timeout_is_a_503(cloud):
    response = cloud.http_api().get("/slow")
    assert response.status == 503
    assert response.json() == {"message": "Service Unavailable"}


# ---------------------------------------------------------------------------------------- AWS services


def test_sqs_send_message_sends_the_mapped_body_as_its_role(cloud):
    response = cloud.http_api().post("/queue", json={"message": "hello"})
    assert response.status == 200, response.text
    assert response.json()["MessageId"]
    assert [m["Body"] for m in messages(cloud, "Queue")] == ["hello"]


def test_a_required_parameter_mapped_to_nothing_is_a_400(cloud):
    response = cloud.http_api().post("/queue", json={"other": "x"})
    assert (response.status, response.json()) == (400, BAD_REQUEST)
    assert cloud.http_api().post("/queue?delay=soon", json={"message": "m"}).json() == BAD_REQUEST


def test_a_role_that_may_not_make_the_call_is_an_internal_server_error(cloud):
    response = cloud.http_api().post("/refused", body="hello")
    assert (response.status, response.json()) == (500, INTERNAL)
    assert cloud.trace.find("denied")


def test_eventbridge_put_events_reaches_the_bus_and_its_rule(cloud):
    response = cloud.http_api().post("/events", json={"order": "o-1"}, headers={"x-kind": "OrderPlaced"})
    assert response.status == 200, response.text
    assert response.json()["FailedEntryCount"] == 0
    cloud.drain()
    delivered = [json.loads(m["Body"]) for m in messages(cloud, "Seen")]
    assert [(e["detail-type"], e["detail"]) for e in delivered] == [("OrderPlaced", {"order": "o-1"})]


def test_step_functions_start_and_start_sync_execution(cloud):
    started = cloud.http_api().post("/flows", json={"id": "1"})
    assert started.status == 200, started.text
    assert started.json()["executionArn"].startswith("arn:aws:states:")
    synced = cloud.http_api().post("/flows/sync", json={"id": "2"})
    assert synced.status == 200, synced.text
    assert synced.json()["status"] == "SUCCEEDED"
    assert json.loads(synced.json()["output"]) == {"id": "2", "stamped": True}


def test_kinesis_put_record_takes_base64_data(cloud):
    data = base64.b64encode(b"reading 42").decode()
    response = cloud.http_api().post("/records", json={"data": data, "key": "sensor-1"})
    assert response.status == 200, response.text
    assert response.json()["ShardId"]
    assert cloud.http_api().post("/records", json={"data": "not base64!", "key": "k"}).json() == BAD_REQUEST


def test_appconfig_get_configuration_answers_the_deployed_configuration(cloud):
    assert cloud.http_api().get("/config", headers={"x-client": "c1"}).status == 404
    cloud.appconfig.deploy("flags", "live", "features", {"beta": True})
    cloud.drain()
    response = cloud.http_api().get("/config", headers={"x-client": "c1"})
    assert response.status == 200, response.text
    assert response.json() == {"beta": True}
    assert response.header("Content-Type") == "application/json"


# ---------------------------------------------------------------------------------------- AWS_IAM


def keys(cloud: LocalCloud, role: str) -> Credentials:
    arn = cloud.client("iam").get_role(RoleName=cloud.physical_id(role))["Role"]["Arn"]
    issued = cloud.client("sts").assume_role(RoleArn=arn, RoleSessionName="caller")["Credentials"]
    return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])


def signed_get(cloud: LocalCloud, credentials: Credentials, path: str):
    client = cloud.http_api()
    request = AWSRequest(method="GET", url=f"{client.url.rstrip('/')}{path}")
    SigV4Auth(credentials, "execute-api", cloud.region).add_auth(request)
    return client.get(path, headers=dict(request.headers.items()))


def test_an_iam_route_lets_in_a_signed_caller_its_policy_allows(cloud):
    credentials = keys(cloud, "Caller")
    response = signed_get(cloud, credentials, "/signed")
    assert response.status == 200, response.text
    iam_context = response.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert iam_context["userArn"].endswith(f"assumed-role/{cloud.physical_id('Caller')}/caller")
    assert iam_context["accessKey"] == credentials.access_key


def test_an_iam_route_refuses_the_unsigned_the_forged_and_the_unallowed(cloud):
    assert cloud.http_api().get("/signed").json() == FORBIDDEN
    assert signed_get(cloud, keys(cloud, "Stranger"), "/signed").json() == FORBIDDEN
    forged = keys(cloud, "Caller")
    forged = Credentials(forged.access_key, "not-the-secret", forged.token)
    response = signed_get(cloud, forged, "/signed")
    assert response.status == 403
    assert response.json()["message"].startswith("The request signature we calculated does not match")


def test_the_iam_caller_is_a_context_variable_for_parameter_mapping(cloud, backend):
    response = signed_get(cloud, keys(cloud, "Caller"), "/signed-proxy")
    assert response.status == 201, response.text
    assert backend.received[-1]["headers"]["x-caller"].endswith(
        f"assumed-role/{cloud.physical_id('Caller')}/caller"
    )
