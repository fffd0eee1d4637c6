"""API Gateway integrations offline: Lambda without proxy and its mapping templates, AWS services
(SQS, DynamoDB, Kinesis, EventBridge, Step Functions) called as the integration's role, and HTTP
backends on loopback, with and without proxy."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aws_cdk import CfnParameter, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.lib.http import HttpRequest
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

INTERNAL_ERROR = {"message": "Internal server error"}
PLAIN_TEMPLATE = """#set($body = $input.path('$'))
{
  "action": "$body.action",
  "message": "$util.escapeJavaScript($body.message)",
  "id": "$input.params('id')",
  "agent": "$input.params('User-Agent')",
  "encoded": "$util.urlEncode($body.message)",
  "b64": "$util.base64Encode($body.message)",
  "decoded": "$util.urlDecode('a%20b+c')",
  "tags": $input.json('$.tags'),
  "first_tag": "$body.tags[0]",
  "tag_count": $body.tags.size(),
  "inner": "$util.parseJson($input.json('$.nested')).inner",
  "missing": "$body.nothing",
  "stage": "$context.stage",
  "mode": "$stageVariables.mode",
  "ip": "$context.identity.sourceIp",
  "epoch": $context.requestTimeEpoch,
  "resource": "$context.resourcePath",
  "method": "$context.httpMethod"
}"""
SQS_TEMPLATE = (
    "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
    "&MessageAttribute.1.Name=source&MessageAttribute.1.Value.DataType=String"
    "&MessageAttribute.1.Value.StringValue=$util.urlEncode($context.resourcePath)"
)
FORM = {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}


def _service(
    role: iam.Role,
    service: str,
    *,
    action: str | None = None,
    path: str | None = None,
    passthrough: apigw.PassthroughBehavior = apigw.PassthroughBehavior.NEVER,
    **options,
) -> apigw.AwsIntegration:
    responses = options.pop("responses", None) or [apigw.IntegrationResponse(status_code="200")]
    return apigw.AwsIntegration(
        service=service,
        action=action,
        path=path,
        integration_http_method="POST",
        options=apigw.IntegrationOptions(
            credentials_role=role,
            passthrough_behavior=passthrough,
            integration_responses=responses,
            **options,
        ),
    )


def _greeter(stack: Stack, construct_id: str, **kwargs) -> sfn.StateMachine:
    greet = sfn.Pass(
        stack, f"{construct_id}Greet", parameters={"greeting.$": "States.Format('hello {}', $.name)"}
    )
    return sfn.StateMachine(
        stack, construct_id, definition_body=sfn.DefinitionBody.from_chainable(greet), **kwargs
    )


def build(stack: Stack) -> None:
    backend = CfnParameter(stack, "BackendUrl", default="http://127.0.0.1:9")
    plain = python_function(stack, "Plain", "apigw_plain")
    role = iam.Role(stack, "ApiRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
    inbox = sqs.Queue(stack, "Inbox")
    inbox.grant_send_messages(role)
    forbidden = sqs.Queue(stack, "Forbidden")
    table = pk_table(stack, "Items")
    table.grant(role, "dynamodb:PutItem", "dynamodb:GetItem")
    stream = kinesis.Stream(stack, "Stream", shard_count=1)
    stream.grant_write(role)
    bus = events.EventBus(stack, "Bus")
    bus.grant_put_events_to(role)
    seen = sqs.Queue(stack, "Seen")
    events.Rule(
        stack,
        "ToSeen",
        event_bus=bus,
        event_pattern=events.EventPattern(source=["api"]),
        targets=[targets.SqsQueue(seen)],
    )
    topic = sns.Topic(stack, "Topic")
    topic.grant_publish(role)
    notified = sqs.Queue(stack, "Notified")
    topic.add_subscription(subscriptions.SqsSubscription(notified, raw_message_delivery=True))
    machine = _greeter(stack, "Machine")
    machine.grant_start_execution(role)
    express = _greeter(stack, "Express", state_machine_type=sfn.StateMachineType.EXPRESS)
    express.grant_start_sync_execution(role)

    api = apigw.RestApi(
        stack,
        "Api",
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(stage_name="live", variables={"mode": "offline"}),
    )
    json_only = {"application/json": '{"ok": true}'}
    plain_integration = apigw.LambdaIntegration(
        plain,
        proxy=False,
        passthrough_behavior=apigw.PassthroughBehavior.NEVER,
        request_templates={"application/json": PLAIN_TEMPLATE},
        integration_responses=[
            apigw.IntegrationResponse(
                status_code="200",
                response_templates={
                    "application/json": '{"got": $input.json(\'$.received\'), "requestId": "$context.requestId"}'
                },
            ),
            apigw.IntegrationResponse(
                status_code="404",
                selection_pattern=".*not found.*",
                response_templates={"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'},
            ),
            apigw.IntegrationResponse(
                status_code="400",
                selection_pattern="Bad: .*",
                response_parameters={"method.response.header.X-Error": "integration.response.body.errorType"},
            ),
        ],
    )
    plain_responses = [
        apigw.MethodResponse(status_code="200"),
        apigw.MethodResponse(status_code="404"),
        apigw.MethodResponse(status_code="400", response_parameters={"method.response.header.X-Error": True}),
    ]
    api.root.add_resource("plain").add_method("POST", plain_integration, method_responses=plain_responses)
    api.root.add_resource("broken").add_method(
        "POST",
        apigw.LambdaIntegration(
            plain,
            proxy=False,
            request_templates={"application/json": '#if($input.path("$.x") {"x": 1}'},
            integration_responses=[apigw.IntegrationResponse(status_code="200")],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )

    queue_path = f"{stack.account}/{inbox.queue_name}"
    api.root.add_resource("queue").add_method(
        "POST",
        _service(
            role,
            "sqs",
            path=queue_path,
            request_parameters=FORM,
            request_templates={"application/json": SQS_TEMPLATE},
            responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={
                        "application/json": '{"messageId": "$input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')"}'
                    },
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    api.root.add_resource("queue-xml").add_method(
        "POST",
        _service(
            role,
            "sqs",
            path=queue_path,
            request_parameters={**FORM, "integration.request.header.Accept": "'text/xml'"},
            request_templates={"application/json": SQS_TEMPLATE},
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    api.root.add_resource("forbidden").add_method(
        "POST",
        _service(
            role,
            "sqs",
            path=f"{stack.account}/{forbidden.queue_name}",
            request_parameters=FORM,
            request_templates={"application/json": SQS_TEMPLATE},
            responses=[
                apigw.IntegrationResponse(status_code="200"),
                apigw.IntegrationResponse(
                    status_code="502",
                    selection_pattern=r"4\d{2}",
                    response_templates={"application/json": '{"code": "$input.path(\'$.Error.Code\')"}'},
                ),
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200"), apigw.MethodResponse(status_code="502")],
    )

    item = api.root.add_resource("items").add_resource("{id}")
    item.add_method(
        "PUT",
        _service(
            role,
            "dynamodb",
            action="PutItem",
            request_templates={
                "application/json": f'{{"TableName": "{table.table_name}", '
                '"Item": {"pk": {"S": "$input.params(\'id\')"}, "name": {"S": "$input.path(\'$.name\')"}}, '
                '"ConditionExpression": "attribute_not_exists(pk)"}'
            },
            responses=[
                apigw.IntegrationResponse(
                    status_code="201",
                    response_templates={"application/json": '{"stored": "$input.params(\'id\')"}'},
                ),
                apigw.IntegrationResponse(
                    status_code="409",
                    selection_pattern=r"4\d{2}",
                    response_templates={"application/json": '{"error": "$input.path(\'$.__type\')"}'},
                ),
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="201"), apigw.MethodResponse(status_code="409")],
    )
    item.add_method(
        "GET",
        _service(
            role,
            "dynamodb",
            action="GetItem",
            request_templates={
                "application/json": f'{{"TableName": "{table.table_name}", "Key": {{"pk": {{"S": "$input.params(\'id\')"}}}}}}'
            },
            responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={
                        "application/json": "#set($item = $input.path('$.Item'))\n"
                        '#if($item)\n{"id": "$item.pk.S", "name": "$item.name.S"}\n'
                        '#else\n#set($context.responseOverride.status = 404)\n{"error": "no item $input.params(\'id\')"}\n#end'
                    },
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200"), apigw.MethodResponse(status_code="404")],
    )
    api.root.add_resource("stream").add_method(
        "POST",
        _service(
            role,
            "kinesis",
            action="PutRecord",
            request_templates={
                "application/json": f'{{"StreamName": "{stream.stream_name}", "Data": "$util.base64Encode($input.body)", '
                '"PartitionKey": "$context.requestId"}'
            },
            responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={
                        "application/json": '{"shard": "$input.path(\'$.ShardId\')", "sequence": "$input.path(\'$.SequenceNumber\')"}'
                    },
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    api.root.add_resource("events").add_method(
        "POST",
        _service(
            role,
            "events",
            action="PutEvents",
            request_parameters={"integration.request.header.X-Amz-Target": "'AWSEvents.PutEvents'"},
            request_templates={
                "application/json": f'{{"Entries": [{{"Source": "api", "DetailType": "Order", "EventBusName": "{bus.event_bus_name}", '
                '"Detail": "$util.escapeJavaScript($input.body).replaceAll("\\\\\'", "\'")"}]}'
            },
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    api.root.add_resource("executions").add_method(
        "POST",
        _service(
            role,
            "states",
            action="StartExecution",
            request_templates={
                "application/json": f'{{"stateMachineArn": "{machine.state_machine_arn}", '
                '"input": "$util.escapeJavaScript($input.body)", "name": "$context.requestId"}'
            },
            responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={
                        "application/json": '{"executionArn": "$input.path(\'$.executionArn\')"}'
                    },
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    api.root.add_resource("greetings").add_method(
        "POST",
        _service(
            role,
            "states",
            action="StartSyncExecution",
            request_templates={
                "application/json": f'{{"stateMachineArn": "{express.state_machine_arn}", "input": "$util.escapeJavaScript($input.body)"}}'
            },
            responses=[
                apigw.IntegrationResponse(
                    status_code="200", response_templates={"application/json": "$input.path('$.output')"}
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )

    api.root.add_resource("notify").add_method(
        "POST",
        _service(
            role,
            "sns",
            action="Publish",
            passthrough=apigw.PassthroughBehavior.WHEN_NO_MATCH,
            request_parameters={
                "integration.request.querystring.TopicArn": f"'{topic.topic_arn}'",
                "integration.request.querystring.Message": "method.request.body",
            },
            responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_templates={
                        "application/json": '{"published": "$input.path(\'$.PublishResponse.PublishResult.MessageId\')"}'
                    },
                )
            ],
        ),
        method_responses=[apigw.MethodResponse(status_code="200")],
    )
    legacy = api.root.add_resource("legacy").add_resource("{proxy+}")
    legacy.add_method(
        "ANY",
        apigw.HttpIntegration(
            f"{backend.value_as_string}/{{proxy}}",
            proxy=True,
            http_method="ANY",
            options=apigw.IntegrationOptions(
                request_parameters={"integration.request.path.proxy": "method.request.path.proxy"}
            ),
        ),
        request_parameters={"method.request.path.proxy": True},
    )
    forwarded = api.root.add_resource("forwarded").add_resource("{proxy+}")
    forwarded.add_method(
        "ANY",
        apigw.HttpIntegration(
            f"{backend.value_as_string}/{{proxy}}",
            proxy=True,
            http_method="ANY",
            options=apigw.IntegrationOptions(
                request_parameters={
                    "integration.request.path.proxy": "method.request.path.proxy",
                    "integration.request.header.X-Forwarded-For": "context.identity.sourceIp",
                }
            ),
        ),
        request_parameters={"method.request.path.proxy": True},
    )
    api.root.add_resource("search").add_method(
        "GET",
        apigw.HttpIntegration(
            f"{backend.value_as_string}/search",
            proxy=False,
            http_method="GET",
            options=apigw.IntegrationOptions(
                request_parameters={
                    "integration.request.querystring.term": "method.request.querystring.q",
                    "integration.request.header.X-Api": "'gateway'",
                },
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200",
                        response_templates={"application/json": "{\"found\": $input.json('$.results')}"},
                    ),
                    apigw.IntegrationResponse(
                        status_code="404", selection_pattern="404", response_templates=json_only
                    ),
                ],
            ),
        ),
        request_parameters={"method.request.querystring.q": False},
        method_responses=[apigw.MethodResponse(status_code="200"), apigw.MethodResponse(status_code="404")],
    )


# ---------------------------------------------------------------------------------------- backend


@dataclass
class Backend:
    """An HTTP server on loopback that records each request and answers from its path."""

    url: str = ""
    received: list[dict] = field(default_factory=list)


def _handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query, keep_blank_values=True),
                "headers": dict(self.headers.items()),
                "body": body.decode(),
            }
            backend.received.append(request)
            if parts.path == "/search":
                term = request["query"].get("term", [""])[0]
                status, answer = (404, {"results": []}) if term == "missing" else (200, {"results": [term]})
            elif parts.path.startswith("/status/"):
                status, answer = int(parts.path.rsplit("/", 1)[-1]), {"status": "as asked"}
            else:
                status, answer = 201, {"seen": request["path"]}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Backend", "legacy")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    return Handler


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    found = Backend()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def cloud(synth, run, backend) -> LocalCloud:
    backend.received.clear()
    return run(synth("ApiIntegrations", build), parameters={"BackendUrl": backend.url})


def queue_messages(cloud: LocalCloud, name: str) -> list[dict]:
    return (
        cloud.client("sqs")
        .receive_message(
            QueueUrl=cloud.physical_id(name), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        .get("Messages", [])
    )


# ---------------------------------------------------------------------------------------- Lambda


def test_a_request_template_makes_the_lambda_payload_with_input_util_context_and_stage_variables(cloud):
    message = 'so "quoted" / ü & more'
    body = {"action": "show", "message": message, "tags": ["a", "b"], "nested": {"inner": "deep"}}
    response = cloud.api().post("/plain?id=7", json=body, headers={"User-Agent": "tests"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["requestId"] == response.header("x-amzn-RequestId")
    assert answer["got"] == {
        "action": "show",
        "message": message,
        "id": "7",
        "agent": "tests",
        "encoded": "so+%22quoted%22+%2F+%C3%BC+%26+more",
        "b64": base64.b64encode(message.encode()).decode(),
        "decoded": "a b c",
        "tags": ["a", "b"],
        "first_tag": "a",
        "tag_count": 2,
        "inner": "deep",
        "missing": "",
        "stage": "live",
        "mode": "offline",
        "ip": "127.0.0.1",
        "epoch": 1767225600000,
        "resource": "/plain",
        "method": "POST",
    }


def test_escape_javascript_escapes_as_apache_commons_does():
    from localcloud.services.apigateway.vtl import escape_javascript

    assert escape_javascript("a'b\"c\\d/e\nf\u00e9\u20ac\U0001f600") == (
        "a\\'b\\\"c\\\\d\\/e\\nf\\u00E9\\u20AC\\uD83D\\uDE00"
    )


def test_escape_javascript_escapes_every_control_character_and_a_lone_surrogate_in_java_hex():
    from localcloud.services.apigateway.vtl import escape_javascript

    assert escape_javascript("\u0000\u000b\u001f\u007f\ud800") == "\\u0000\\u000B\\u001F\u007f\\uD800"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(st.characters(codec=None, exclude_categories=())))
def test_escaped_for_javascript_with_quotes_put_back_any_text_is_a_json_string_of_itself(text):
    """The idiom templates use to splice a value into a JSON string round-trips any text."""
    from localcloud.services.apigateway.vtl import render

    template = """{"v": "$util.escapeJavaScript($input.params('v')).replaceAll("\\\\'", "'")"}"""
    rendered = render(template, body="", params={"path": {"v": text}}, context={}, stage_variables={})
    assert json.loads(rendered) == {"v": text}


def test_a_single_quote_escaped_for_javascript_is_not_json_so_the_lambda_call_fails(cloud, caplog):
    caplog.set_level(logging.INFO, "localcloud.apigateway")
    response = cloud.api().post(
        "/plain", json={"action": "show", "message": "it's", "tags": [], "nested": {}}
    )
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)
    assert any("the payload for" in line and "is not JSON" in line for line in caplog.messages), (
        caplog.messages
    )
    assert cloud.trace.find("invoke") == []


def test_a_lambda_error_picks_the_integration_response_its_message_matches(cloud):
    api = cloud.api()
    body = {"action": "fail", "message": "item 9 not found", "tags": [], "nested": {}}
    missing = api.post("/plain", json=body)
    assert (missing.status_code, missing.json()) == (404, {"error": "item 9 not found"})
    bad = api.post("/plain", json={**body, "message": "Bad: no name"})
    assert (bad.status_code, bad.header("X-Error")) == (400, "NotFound"), (
        "a header mapped from the error body"
    )
    unmatched = api.post("/plain", json={**body, "message": "kaboom"})
    assert (unmatched.status_code, unmatched.json()["got"]) == (200, None), (
        "no pattern matches: the default response, as on AWS"
    )


def test_passthrough_never_refuses_a_content_type_without_a_template_with_415(cloud):
    response = cloud.api().post("/plain", body="action=show", headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()) == (415, {"message": "Unsupported Media Type"})
    assert cloud.trace.find("invoke") == []


def test_a_template_that_does_not_render_is_a_500_and_nothing_is_invoked(cloud, caplog):
    caplog.set_level(logging.INFO, "localcloud.apigateway")
    response = cloud.api().post("/broken", json={"x": 1})
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)
    assert cloud.trace.find("invoke") == []
    assert any("mapping template failed" in line for line in caplog.messages)


# ---------------------------------------------------------------------------------------- AWS services


def test_sqs_send_message_by_path_with_a_form_body_and_the_json_answer(cloud):
    response = cloud.api().post("/queue", json={"order": 1})
    assert response.status_code == 200, response.text
    [message] = queue_messages(cloud, "Inbox")
    assert json.loads(message["Body"]) == {"order": 1}
    assert message["MessageAttributes"]["source"]["StringValue"] == "/queue"
    assert response.json() == {"messageId": message["MessageId"]}
    [integrate] = cloud.trace.find("integrate")
    [send] = cloud.trace.find("send")
    assert (integrate.parent, send.parent) == (cloud.trace.find("request")[0].id, integrate.id)


def test_sqs_answers_xml_when_the_integration_asks_for_it(cloud):
    response = cloud.api().post("/queue-xml", json={"order": 2})
    [message] = queue_messages(cloud, "Inbox")
    assert response.status_code == 200
    assert response.text.startswith("<SendMessageResponse><SendMessageResult>")
    assert f"<MessageId>{message['MessageId']}</MessageId>" in response.text


def test_a_call_the_role_may_not_make_is_access_denied_for_the_response_mapping(cloud):
    response = cloud.api().post("/forbidden", json={"order": 3})
    assert (response.status_code, response.json()) == (502, {"code": "AccessDenied"})
    [denied] = cloud.trace.find("denied")
    assert denied.detail.startswith("sqs:SendMessage on arn:aws:sqs:")
    assert queue_messages(cloud, "Forbidden") == []


def test_dynamodb_put_and_get_items_with_a_conditional_put_and_a_404_override(cloud):
    api = cloud.api()
    assert (api.put("/items/a1", json={"name": "tea"}).json()) == {"stored": "a1"}
    again = api.put("/items/a1", json={"name": "coffee"})
    assert (again.status_code, again.json()) == (409, {"error": "ConditionalCheckFailedException"})
    found = api.get("/items/a1")
    assert (found.status_code, found.json()) == (200, {"id": "a1", "name": "tea"})
    missing = api.get("/items/zz")
    assert (missing.status_code, missing.json()) == (404, {"error": "no item zz"})


def test_kinesis_put_record_carries_the_body_base64_encoded(cloud):
    response = cloud.api().post("/stream", json={"reading": 42})
    assert response.status_code == 200, response.text
    answer = response.json()
    kinesis = cloud.client("kinesis")
    stream_name = cloud.physical_id("Stream")
    iterator = kinesis.get_shard_iterator(
        StreamName=stream_name, ShardId=answer["shard"], ShardIteratorType="TRIM_HORIZON"
    )
    [record] = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert json.loads(record["Data"]) == {"reading": 42}
    assert record["SequenceNumber"] == answer["sequence"]
    assert record["PartitionKey"] == response.header("x-amzn-RequestId")


def test_eventbridge_put_events_reaches_the_buses_rules(cloud):
    response = cloud.api().post("/events", json={"order": 4, "note": "it's"})
    assert response.status_code == 200, response.text
    assert response.json()["FailedEntryCount"] == 0
    cloud.drain()
    [message] = queue_messages(cloud, "Seen")
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "api",
        "Order",
        {"order": 4, "note": "it's"},
    )


def test_sns_publish_by_action_with_query_string_parameters(cloud):
    response = cloud.api().post("/notify", json={"alert": "disk full"})
    assert response.status_code == 200, response.text
    cloud.drain()
    [message] = queue_messages(cloud, "Notified")
    assert json.loads(message["Body"]) == {"alert": "disk full"}
    assert len(response.json()["published"]) == 36, "SNS's message id, read from the JSON form of its answer"


def test_step_functions_start_execution_runs_the_state_machine(cloud):
    response = cloud.api().post("/executions", json={"name": "Ada"})
    assert response.status_code == 200, response.text
    arn = response.json()["executionArn"]
    assert arn.endswith(f":{response.header('x-amzn-RequestId')}"), "named by the template"
    cloud.drain()
    execution = cloud.client("stepfunctions").describe_execution(executionArn=arn)
    assert (execution["status"], json.loads(execution["output"])) == ("SUCCEEDED", {"greeting": "hello Ada"})


def test_step_functions_start_sync_execution_answers_with_the_output(cloud):
    response = cloud.api().post("/greetings", json={"name": "Grace"})
    assert (response.status_code, response.json()) == (200, {"greeting": "hello Grace"})


# ---------------------------------------------------------------------------------------- HTTP


def test_http_proxy_passes_method_path_query_headers_and_body_through_unchanged(cloud, backend):
    response = cloud.api().request(
        "PATCH",
        "/legacy/orders/7/lines?x=1&x=2&y=",
        body=b'{"qty": 3}',
        headers={"Content-Type": "application/json", "X-Client": "c1"},
    )
    [received] = backend.received
    assert (received["method"], received["path"], received["body"]) == (
        "PATCH",
        "/orders/7/lines",
        '{"qty": 3}',
    )
    assert received["query"] == {"x": ["1", "2"], "y": [""]}
    assert received["headers"]["X-Client"] == "c1"
    assert (response.status_code, response.header("X-Backend"), response.json()) == (
        201,
        "legacy",
        {"seen": "/orders/7/lines"},
    )


def test_http_proxy_adds_no_x_forwarded_for_unless_mapped(cloud, backend):
    """A REST API's HTTP proxy does not tell the backend the client's address by itself."""
    cloud.api().get("/legacy/orders")
    assert "x-forwarded-for" not in {name.lower() for name in backend.received[0]["headers"]}


def test_a_mapped_header_replaces_the_clients_whatever_its_case(cloud, backend):
    client = cloud.api()
    request = HttpRequest.build(
        "GET", f"/{client.stage}/forwarded/orders", headers={"x-forwarded-for": "6.6.6.6"}
    )
    request.source_ip = "203.0.113.9"
    response = client.gateway.dispatch(client.api_id, request)
    assert response.status == 201
    sent = [
        value for name, value in backend.received[0]["headers"].items() if name.lower() == "x-forwarded-for"
    ]
    assert sent == ["203.0.113.9"], "one header, the client's address: the spoofed value is gone"


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/legacy/a/%2e%2e/admin", "/a/../admin"),
        ("/legacy/a/%2E%2E", "/a/.."),
        ("/legacy/a/../admin", "/a/../admin"),
        ("/legacy/a%2f..%2fadmin", "/a/../admin"),
        ("/legacy/./a", "/./a"),
        ("/legacy/caf%C3%A9%20au%20lait", "/caf%C3%A9%20au%20lait"),
    ],
)
def test_a_greedy_path_parameter_reaches_an_http_backend_decoded_dot_segments_and_all(
    cloud, backend, path, sent
):
    """API Gateway decodes a path parameter before splicing it into the integration URI; it is no
    kinder than that (a WAF rule on the stage is what keeps dot segments out)."""
    assert cloud.api().get(path).status_code == 201
    assert [r["path"] for r in backend.received] == [sent]


def test_a_header_http_cannot_carry_is_a_500_not_a_crash(cloud, backend):
    response = cloud.api().get("/legacy/orders", headers={"X-Note": "a\r\nX-Injected: yes"})
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)
    assert backend.received == []


def test_http_proxy_passes_the_backends_error_status_back(cloud, backend):
    response = cloud.api().get("/legacy/status/404")
    assert (response.status_code, response.json()) == (404, {"status": "as asked"})
    assert backend.received[0]["path"] == "/status/404"


def test_http_integration_maps_parameters_and_picks_responses_by_status(cloud, backend):
    api = cloud.api()
    found = api.get("/search", query={"q": "tea", "ignored": "1"})
    assert (found.status_code, found.json()) == (200, {"found": ["tea"]})
    sent = backend.received[0]
    assert (sent["path"], sent["query"], sent["headers"]["X-Api"]) == (
        "/search",
        {"term": ["tea"]},
        "gateway",
    ), "only mapped parameters reach a non-proxy backend"
    missing = api.get("/search", query={"q": "missing"})
    assert (missing.status_code, missing.json()) == (404, {"ok": True})


def test_an_unreachable_http_backend_is_a_500(synth, run):
    cloud = run(synth("ApiIntegrations", build), parameters={"BackendUrl": "http://127.0.0.1:9"})
    response = cloud.api().get("/legacy/anything")
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)


@pytest.fixture
def garbling_backend() -> Iterator[str]:
    """A backend that answers every connection with bytes that are not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        while True:
            connection, _ = listener.accept()
            with connection:
                if stop.is_set():
                    return
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff not HTTP\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    socket.create_connection(listener.getsockname(), timeout=5).close()  # wakes the accept
    thread.join(5)
    listener.close()


def test_a_backend_answering_what_is_not_http_is_a_502(synth, run, garbling_backend):
    cloud = run(synth("ApiIntegrations", build), parameters={"BackendUrl": garbling_backend})
    response = cloud.api().get("/legacy/anything")
    assert (response.status_code, response.json()) == (502, INTERNAL_ERROR)
    [span] = cloud.trace.find("integrate")
    assert span.outcome == "not HTTP"


@pytest.mark.parametrize(
    ("text", "length", "cut"),
    [
        ("abc", 3, "ab"),
        ("caf\u00e9", 4, "ca"),
        ("\U0001f600\U0001f600", 4, "\U0001f600"),
        ("a\U0001f600", 3, "a\ud83d"),
    ],
)
def test_string_length_and_substring_count_utf16_units_as_java_does(text, length, cut):
    """API Gateway's VTL is Java's: an emoji is two units, and a cut may split it."""
    from localcloud.services.apigateway.vtl import escape_javascript, render

    template = "$input.params('v').length()|$util.escapeJavaScript($input.params('v').substring(0, 2))"
    rendered = render(template, body="", params={"path": {"v": text}}, context={}, stage_variables={})
    assert rendered == f"{length}|{escape_javascript(cut)}"


def test_index_of_counts_utf16_units_and_answers_minus_one_when_absent():
    from localcloud.services.apigateway.vtl import render

    template = (
        "$input.params('v').indexOf('b')|$input.params('v').indexOf('z')|$input.params('v').indexOf('A')"
    )
    # U+4100 then NUL hold A's bytes across two units: Java does not find it there.
    params = {"path": {"v": "\U0001f600b\u4100\u0000"}}
    assert render(template, body="", params=params, context={}, stage_variables={}) == "2|-1|-1"


def test_a_substring_out_of_range_fails_the_template_as_java_throws():
    from localcloud.services.apigateway.vtl import TemplateFailed, render

    with pytest.raises(TemplateFailed, match="out of range"):
        render(
            "$input.params('v').substring(0, 9)",
            body="",
            params={"path": {"v": "ab"}},
            context={},
            stage_variables={},
        )
