"""API Gateway's authorizer and integration rules, one at a time: each test builds a method by hand
and calls ``authorize`` or ``integrate`` on it, against one started cloud whose functions and roles
are a template written out (inline code: no synth). What a test asserts is the answer a client
gets (:func:`gateway_response`) or what reached the function or backend, as AWS documents it."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.services.apigateway.authorizers import AuthorizerCache, authorize
from localcloud.services.apigateway.call import Call
from localcloud.services.apigateway.integrations import integrate
from localcloud.services.apigateway.model import (
    Authorizer,
    Integration,
    IntegrationResponse,
    Method,
    Resource,
    RestApi,
    Stage,
)
from localcloud.services.apigateway.responses import GatewayError, gateway_response

pytestmark = pytest.mark.localcloud

API_ID = "semantics1"
#: An authorizer answering what its token (or ``X-Token`` header) names.
GATE = """
def handler(event, context):
    token = event.get("authorizationToken") or (event.get("headers") or {}).get("X-Token", "")
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "crash":
        raise RuntimeError("the authorizer crashed")
    if token == "list":
        return [event["methodArn"]]
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
    answer = {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"tier": 3, "admin": True, "guest": False, "name": "ann", "none": None},
    }
    if token == "echo":
        answer["context"] = {"keys": ",".join(sorted(event)), "type": event["type"], "arn": event["methodArn"]}
    if token == "deny":
        statement["Effect"] = "Deny"
    elif token == "elsewhere":
        statement["Resource"] = event["methodArn"].rsplit("/", 2)[0] + "/DELETE/nothing"
    elif token == "noprincipal":
        del answer["principalId"]
    elif token == "nopolicy":
        del answer["policyDocument"]
    elif token == "contextlist":
        answer["context"] = ["tier"]
    elif token == "nested":
        answer["context"] = {"flat": "x", "deep": {"a": 1}, "many": [1]}
    elif token == "keyed":
        answer["usageIdentifierKey"] = 1234567890
    if token == "nocontext":
        answer["context"] = None
    return answer
"""
#: A backend answering what its payload's ``mode`` says.
BACKEND = """
import json


def handler(event, context):
    if isinstance(event, dict) and "httpMethod" in event:
        mode = (event.get("queryStringParameters") or {}).get("mode")
        if mode == "fail":
            raise ValueError("the backend failed")
        if mode == "typed":
            return {"statusCode": 201, "headers": {"content-type": "text/plain"}, "body": "hi"}
        if mode == "extra":
            return {"statusCode": 200, "body": "", "extra": 1}
        return {"statusCode": 200, "body": json.dumps({"path": event["path"]})}
    mode = event.get("mode") if isinstance(event, dict) else None
    if mode == "fail":
        raise ValueError("Missing: sku")
    return {"got": event}
"""
ASSUME = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "SERVICE"}}],
}


def _role(service: str, *statements: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AssumeRolePolicyDocument": json.loads(json.dumps(ASSUME).replace("SERVICE", service))
    }
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        props["Policies"] = [{"PolicyName": "inline", "PolicyDocument": document}]
    return {"Type": "AWS::IAM::Role", "Properties": props}


def _function(code: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Handler": "index.handler",
            "Runtime": "python3.13",
            "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Code": {"ZipFile": code},
        },
    }


def _permission(function: str, source: str) -> dict[str, Any]:
    arn = f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:{API_ID}/{source}"
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": function},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": arn},
        },
    }


TEMPLATE = {
    "Resources": {
        "FunctionRole": _role("lambda.amazonaws.com"),
        "Gate": _function(GATE),
        "Backend": _function(BACKEND),
        "GatePermission": _permission("Gate", "authorizers/gate01"),
        "BackendPermission": _permission("Backend", "*/*/*"),
        "Invoker": _role(
            "apigateway.amazonaws.com",
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [{"Fn::GetAtt": ["Gate", "Arn"]}, {"Fn::GetAtt": ["Backend", "Arn"]}],
            },
        ),
        "Stranger": _role("apigateway.amazonaws.com"),
        "Caller": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {
                                "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                            },
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "invoke",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}
                            ],
                        },
                    }
                ],
            },
        },
        "Inbox": {"Type": "AWS::SQS::Queue"},
        "Items": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        },
        "Sender": _role(
            "apigateway.amazonaws.com",
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Inbox", "Arn"]}},
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["Items", "Arn"]}},
        ),
    }
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    from localcloud.core.clock import FIXED_START

    with LocalCloud(StackArtifact("ApiSemantics", TEMPLATE, Path(".")), start=FIXED_START) as started:
        yield started


@pytest.fixture
def fresh(cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The module's cloud, its functions' settings and trace put back after the test."""
    yield cloud
    for name in ("Gate", "Backend"):
        function = cloud.function(name)
        function.duration, function.reserved_concurrency = 0.0, None
    cloud.trace.spans.clear()


def role_arn(cloud: LocalCloud, name: str) -> str:
    return f"arn:aws:iam::{cloud.kernel.account}:role/{cloud.physical_id(name)}"


def uri(cloud: LocalCloud, function: str) -> str:
    arn = cloud.function(function).arn
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def integration(kind: str = "MOCK", target: str = "", **fields: Any) -> Integration:
    values: dict[str, Any] = {
        "type": kind,
        "uri": target,
        "http_method": "POST",
        "credentials": None,
        "request_parameters": {},
        "request_templates": {},
        "passthrough": "WHEN_NO_MATCH",
        "responses": [IntegrationResponse("200", None, {}, {})],
        "timeout_ms": 29_000,
    }
    return Integration(**{**values, **fields})


def lambda_authorizer(cloud: LocalCloud, kind: str = "TOKEN", **fields: Any) -> Authorizer:
    values: dict[str, Any] = {
        "id": "gate01",
        "name": "Gate",
        "type": kind,
        "uri": uri(cloud, "Gate"),
        "credentials": None,
        "identity_sources": ["method.request.header.Authorization"]
        if kind == "TOKEN"
        else ["method.request.header.X-Token"],
        "validation_expression": None,
        "ttl": 0,
        "provider_arns": [],
    }
    return Authorizer(**{**values, **fields})


def call(
    cloud: LocalCloud,
    request: HttpRequest,
    *,
    wired: Integration | None = None,
    authorizer: Authorizer | None = None,
    authorizer_id: str | None = None,
    variables: dict[str, str] | None = None,
    api_id: str = API_ID,
    authorization: str | None = None,
    scopes: tuple[str, ...] = (),
) -> Call:
    """``request`` on ``/items/{id}`` of an API with one method, as the gateway hands it on."""
    root = Resource("root", None, "", "/")
    items = Resource("items", "root", "items", "/items")
    item = Resource("item", "items", "{id}", "/items/{id}")
    root.children, items.children = [items], [item]
    method = Method(
        http_method=request.method,
        resource=item,
        authorization_type=authorization
        or ("NONE" if authorizer is None and authorizer_id is None else "CUSTOM"),
        authorizer_id=authorizer_id or (authorizer.id if authorizer else None),
        authorization_scopes=list(scopes),
        api_key_required=False,
        request_parameters={},
        request_models={},
        validator_id=None,
        integration=wired or integration(),
        logical_id="ItemMethod",
    )
    item.methods = {request.method: method}
    stage = Stage("prod", "deploy1", dict(variables or {}), [])
    api = RestApi(
        logical_id="Api",
        id=api_id,
        name="Semantics",
        binary_media_types=[],
        api_key_source="HEADER",
        root=root,
        resources={r.id: r for r in (root, items, item)},
        stages={"prod": stage},
        models={},
        validators={},
        authorizers={authorizer.id: authorizer} if authorizer else {},
        gateway_responses={},
    )
    kernel = cloud.kernel
    span = kernel.trace.record("request", "client", api.name, at=kernel.clock.elapsed())
    made = Call(kernel, api, stage, request, request.path, kernel.clock.now(), span.id)
    made.method, made.path_parameters = method, {"id": request.path.rsplit("/", 1)[-1]}
    return made


def refused(run: Any, *args: Any) -> tuple[GatewayError, HttpResponse]:
    """The error ``run(*args)`` raised and the answer a client gets for it."""
    with pytest.raises(GatewayError) as raised:
        run(*args)
    made = args[0]
    return raised.value, gateway_response(made.api, raised.value, made)


def answer(response: HttpResponse) -> tuple[int, Any]:
    return response.status, json.loads(response.body) if response.body else None


def invocations(cloud: LocalCloud, function: str) -> int:
    return len(cloud.trace.find("invoke", target=cloud.function(function).name))


# ---------------------------------------------------------------------------------------- authorizers


def test_a_method_naming_an_authorizer_the_api_lacks_is_a_500(fresh: LocalCloud) -> None:
    made = call(fresh, HttpRequest.build("GET", "/items/1"), authorizer_id="missing1")
    error, response = refused(authorize, made, AuthorizerCache())
    assert (error.response_type, answer(response)) == (
        "AUTHORIZER_CONFIGURATION_ERROR",
        (500, {"message": None}),
    )
    assert response.headers["x-amzn-ErrorType"] == ["AuthorizerConfigurationException"]
    assert error.cause == "method GET /items/{id} has no authorizer missing1"


def token_call(cloud: LocalCloud, token: str, **fields: Any) -> Call:
    authorizer = lambda_authorizer(cloud, **fields)
    return call(
        cloud, HttpRequest.build("GET", "/items/7", headers={"Authorization": token}), authorizer=authorizer
    )


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("list", "not a JSON object but list"),
        ("noprincipal", "no principalId"),
        ("nopolicy", "no policyDocument with statements"),
        ("contextlist", "context is not an object"),
        ("nested", "context values must be strings, numbers or booleans; deep, many is not"),
    ],
)
def test_an_authorizer_answer_off_the_contract_is_a_500(fresh: LocalCloud, token: str, problem: str) -> None:
    error, response = refused(authorize, token_call(fresh, token), AuthorizerCache())
    assert answer(response) == (500, {"message": None})
    assert error.cause == f"authorizer Gate answered badly: {problem}"


def test_the_authorizers_context_is_passed_on_as_strings_with_its_principal_and_usage_key(
    fresh: LocalCloud,
) -> None:
    made = token_call(fresh, "keyed")
    authorize(made, AuthorizerCache())
    assert made.authorizer == {
        "tier": "3",
        "admin": "true",
        "guest": "false",
        "name": "ann",
        "none": None,
        "principalId": "user-1",
        "integrationLatency": 0,
    }
    assert made.authorizer_api_key == "1234567890", "usageIdentifierKey, for ApiKeySourceType AUTHORIZER"
    plain = token_call(fresh, "nocontext")
    authorize(plain, AuthorizerCache())
    assert (plain.authorizer, plain.authorizer_api_key) == (
        {"principalId": "user-1", "integrationLatency": 0},
        None,
    )


def test_a_throttled_authorizer_is_a_500_authorizer_failure(fresh: LocalCloud) -> None:
    fresh.function("Gate").reserved_concurrency = 0
    error, response = refused(authorize, token_call(fresh, "allow"), AuthorizerCache())
    assert (error.response_type, answer(response)) == ("AUTHORIZER_FAILURE", (500, {"message": None}))
    assert response.headers["x-amzn-ErrorType"] == ["AuthorizerFailureException"]


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"uri": "arn:aws:apigateway:us-east-1:sqs:path/123/queue"}, "URI .* names no function"),
        (
            {
                "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${stageVariables.fn}/invocations"
            },
            ": no function absent$",
        ),
        (
            {"credentials": "STRANGER"},
            "may not invoke .* \\(its role does not allow lambda:InvokeFunction\\)$",
        ),
        ({"id": "other99"}, "may not invoke .* \\(no Lambda permission for it\\)$"),
    ],
)
def test_an_authorizer_api_gateway_may_not_invoke_is_a_500_and_never_runs(
    fresh: LocalCloud, fields: dict[str, Any], cause: str
) -> None:
    roles = {"STRANGER": role_arn(fresh, "Stranger")}
    fields = {k: roles.get(v, v) for k, v in fields.items()}
    authorizer = lambda_authorizer(fresh, **fields)
    request = HttpRequest.build("GET", "/items/7", headers={"Authorization": "allow"})
    made = call(fresh, request, authorizer=authorizer, variables={"fn": "absent"})
    error, response = refused(authorize, made, AuthorizerCache())
    assert (error.response_type, answer(response)) == (
        "AUTHORIZER_CONFIGURATION_ERROR",
        (500, {"message": None}),
    )
    assert re.search(cause, error.cause), error.cause
    assert invocations(fresh, "Gate") == 0


def test_an_authorizer_invoked_with_its_credentials_role(fresh: LocalCloud) -> None:
    authorizer = lambda_authorizer(fresh, credentials=role_arn(fresh, "Invoker"), id="other99")
    request = HttpRequest.build("GET", "/items/7", headers={"Authorization": "allow"})
    made = call(fresh, request, authorizer=authorizer)
    authorize(made, AuthorizerCache())
    assert made.authorizer is not None and made.authorizer["principalId"] == "user-1"
    assert invocations(fresh, "Gate") == 1


# ---------------------------------------------------------------------------------------- integrations


class Recorder(BaseHTTPRequestHandler):
    """A backend that answers what it received as JSON, with the status a ``/status/NNN`` path asks for."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": self.rfile.read(length).decode(),
        }
        status = int(self.path.split("/status/", 1)[1][:3]) if "/status/" in self.path else 200
        body = json.dumps(received).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Multi", "first")
        self.send_header("x-multi", "last")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def json_request(method: str = "POST", body: Any = None, **headers: str) -> HttpRequest:
    return HttpRequest.build(method, "/items/7", json=body, headers=headers or None)


def test_a_proxy_integration_with_a_uri_naming_no_function_is_a_500(fresh: LocalCloud) -> None:
    wired = integration("AWS_PROXY", "arn:aws:apigateway:us-east-1:sqs:path/123456789012/queue")
    error, response = refused(integrate, call(fresh, json_request(), wired=wired))
    assert (error.response_type, answer(response)) == (
        "API_CONFIGURATION_ERROR",
        (500, {"message": "Internal server error"}),
    )
    assert error.cause.endswith("names no Lambda function")


def test_a_lambda_integration_of_a_function_that_does_not_exist_is_a_500(fresh: LocalCloud) -> None:
    wired = integration("AWS", uri(fresh, "Backend").replace(fresh.function("Backend").name, "Gone"))
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.endswith(":function:Gone does not exist")


def test_a_lambda_integration_runs_as_its_credentials_role_when_it_has_one(fresh: LocalCloud) -> None:
    target = uri(fresh, "Backend")
    allowed = integration("AWS", target, credentials=role_arn(fresh, "Invoker"))
    response = integrate(call(fresh, json_request(body={"n": 1}), wired=allowed, api_id="nopermission"))
    assert answer(response) == (200, {"got": {"n": 1}}), "the role may invoke it: no Lambda permission needed"
    refused_role = integration("AWS", target, credentials=role_arn(fresh, "Stranger"))
    error, response = refused(integrate, call(fresh, json_request(body={"n": 2}), wired=refused_role))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.startswith("Invalid permissions on Lambda function") and "Stranger" in error.cause
    assert invocations(fresh, "Backend") == 1


def test_an_event_invocation_answers_200_at_once_and_runs_the_function_later(fresh: LocalCloud) -> None:
    wired = integration(
        "AWS",
        uri(fresh, "Backend"),
        request_parameters={"integration.request.header.X-Amz-Invocation-Type": "'Event'"},
        responses=[IntegrationResponse("202", "2\\d{2}", {}, {}), IntegrationResponse("200", None, {}, {})],
    )
    response = integrate(call(fresh, json_request(body={"n": 3}), wired=wired))
    assert (response.status, response.body) == (200, b""), "a Lambda success takes the default response"
    assert invocations(fresh, "Backend") == 0
    fresh.drain()
    assert invocations(fresh, "Backend") == 1


def test_a_lambda_success_takes_the_default_response_whatever_the_patterns(fresh: LocalCloud) -> None:
    wired = integration(
        "AWS",
        uri(fresh, "Backend"),
        responses=[IntegrationResponse("201", "200|", {}, {}), IntegrationResponse("200", None, {}, {})],
    )
    assert answer(integrate(call(fresh, json_request(body={"n": 4}), wired=wired))) == (
        200,
        {"got": {"n": 4}},
    )
    without_default = integration(
        "AWS", uri(fresh, "Backend"), responses=[IntegrationResponse("201", "200|", {}, {})]
    )
    error, response = refused(integrate, call(fresh, json_request(body={"n": 5}), wired=without_default))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.startswith("no integration response matches 200 and there is no default")


def test_a_lambda_error_picks_the_response_its_message_matches(fresh: LocalCloud) -> None:
    responses = [
        IntegrationResponse("200", None, {}, {}),
        IntegrationResponse(
            "400", "Missing: .*", {}, {"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'}
        ),
    ]
    wired = integration("AWS", uri(fresh, "Backend"), responses=responses)
    response = integrate(call(fresh, json_request(body={"mode": "fail"}), wired=wired))
    assert answer(response) == (400, {"error": "Missing: sku"})
    unmatched = integration("AWS", uri(fresh, "Backend"), responses=responses[1:2])
    matched = integrate(call(fresh, json_request(body={"mode": "fail"}), wired=unmatched))
    assert matched.status == 400
    other = [IntegrationResponse("400", "Other: .*", {}, {})]
    error, response = refused(
        integrate,
        call(
            fresh,
            json_request(body={"mode": "fail"}),
            wired=integration("AWS", uri(fresh, "Backend"), responses=other),
        ),
    )
    assert error.cause.startswith("no integration response matches Missing: sku and there is no default")


def test_a_throttled_lambda_integration_is_a_500(fresh: LocalCloud) -> None:
    fresh.function("Backend").reserved_concurrency = 0
    wired = integration("AWS", uri(fresh, "Backend"))
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_FAILURE",
        (500, {"message": "Internal server error"}),
    )
    assert error.cause.startswith("Lambda throttled")


def test_a_payload_that_is_not_json_never_reaches_the_function(fresh: LocalCloud) -> None:
    wired = integration("AWS", uri(fresh, "Backend"))
    request = HttpRequest.build(
        "POST", "/items/7", body="not json", headers={"Content-Type": "application/json"}
    )
    error, response = refused(integrate, call(fresh, request, wired=wired))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.startswith("the payload for") and error.cause.endswith("is not JSON: 'not json'")
    assert invocations(fresh, "Backend") == 0


@pytest.mark.parametrize(
    ("credentials", "cause"),
    [
        (None, "has no credentials role to call it with"),
        ("arn:aws:iam::*:user/*", "caller credentials passthrough is not supported offline"),
    ],
)
def test_an_aws_service_integration_needs_a_role(
    fresh: LocalCloud, credentials: str | None, cause: str
) -> None:
    wired = integration(
        "AWS", "arn:aws:apigateway:us-east-1:sqs:path/123456789012/queue", credentials=credentials
    )
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert (error.response_type, answer(response)) == (
        "API_CONFIGURATION_ERROR",
        (500, {"message": "Internal server error"}),
    )
    assert error.cause.endswith(cause)


def test_mapped_request_parameters_reach_an_http_backend(fresh: LocalCloud, backend: str) -> None:
    wired = integration(
        "HTTP",
        f"{backend}/things/{{thing}}",
        request_parameters={
            "integration.request.path.thing": "method.request.path.id",
            "integration.request.header.X-Count": "method.request.body.order.count",
            "integration.request.header.X-Stage": "stageVariables.mode",
            "integration.request.header.X-Absent": "method.request.header.X-Absent",
            "integration.request.querystring.request": "context.requestId",
            "integration.request.querystring.fixed": "'yes'",
        },
    )
    made = call(fresh, json_request(body={"order": {"count": 3}}), wired=wired, variables={"mode": "blue"})
    received = json.loads(integrate(made).body)
    assert received["path"] == f"/things/7?request={made.request_id}&fixed=yes"
    assert (received["headers"]["x-count"], received["headers"]["x-stage"]) == ("3", "blue")
    assert "x-absent" not in received["headers"], "a value the request lacks is not sent"
    assert received["headers"]["content-type"] == "application/json"
    assert (received["method"], json.loads(received["body"])) == ("POST", {"order": {"count": 3}})


def test_an_http_backend_gets_the_requests_content_type_else_json(fresh: LocalCloud, backend: str) -> None:
    wired = integration("HTTP", f"{backend}/plain")
    form = HttpRequest.build(
        "POST", "/items/7", body="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert json.loads(integrate(call(fresh, form, wired=wired)).body)["headers"]["content-type"] == (
        "application/x-www-form-urlencoded"
    )
    bare = HttpRequest.build("POST", "/items/7", body="{}")
    assert (
        json.loads(integrate(call(fresh, bare, wired=wired)).body)["headers"]["content-type"]
        == "application/json"
    )
    empty = HttpRequest.build("GET", "/items/7")
    assert "content-type" not in json.loads(integrate(call(fresh, empty, wired=wired)).body)["headers"]


def test_a_placeholder_without_a_path_mapping_is_a_500(fresh: LocalCloud, backend: str) -> None:
    wired = integration("HTTP", f"{backend}/things/{{thing}}")
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.endswith("no integration.request.path.thing mapping")


def test_a_request_parameter_of_no_known_kind_is_a_500(fresh: LocalCloud) -> None:
    wired = integration(request_parameters={"integration.request.body.name": "'x'"})
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert "is not a header, query string or path" in error.cause


def test_response_parameters_read_the_backends_headers_body_and_the_request(
    fresh: LocalCloud, backend: str
) -> None:
    parameters = {
        "method.response.header.X-Multi": "integration.response.header.X-MULTI",
        "method.response.header.X-Missing": "integration.response.header.X-Nothing",
        "method.response.header.X-Method": "integration.response.body.method",
        "method.response.header.X-Whole": "integration.response.body",
        "method.response.header.X-Caller": "method.request.header.X-Caller",
        "method.response.header.X-Fixed": "'fixed'",
    }
    responses = [IntegrationResponse("200", None, parameters, {})]
    wired = integration("HTTP", f"{backend}/echo", http_method="ANY", responses=responses)
    response = integrate(call(fresh, json_request("PUT", {}, **{"X-Caller": "carol"}), wired=wired))
    assert response.headers["X-Multi"] == ["last"], "the last of several values"
    assert "X-Missing" not in response.headers
    assert response.headers["X-Method"] == ["PUT"]
    assert json.loads(response.headers["X-Whole"][0])["method"] == "PUT"
    assert (response.headers["X-Caller"], response.headers["X-Fixed"]) == (["carol"], ["fixed"])


def test_a_status_pattern_selects_the_response_of_an_http_backend(fresh: LocalCloud, backend: str) -> None:
    responses = [IntegrationResponse("200", None, {}, {}), IntegrationResponse("404", "4\\d{2}", {}, {})]
    missing = integrate(
        call(
            fresh,
            json_request("GET"),
            wired=integration("HTTP", f"{backend}/status/410", responses=responses),
        )
    )
    fine = integrate(
        call(
            fresh,
            json_request("GET"),
            wired=integration("HTTP", f"{backend}/status/201", responses=responses),
        )
    )
    assert (missing.status, fine.status) == (404, 200)


def test_the_response_template_is_chosen_by_accept(fresh: LocalCloud) -> None:
    templates = {
        "application/json": '{"as": "json"}',
        "application/xml": "<as>xml</as>",
        "text/plain": "plain",
    }
    wired = integration(responses=[IntegrationResponse("200", None, {}, templates)])
    for accept, expected in [
        ("text/html, application/xml;q=0.9", ("application/xml", b"<as>xml</as>")),
        ("TEXT/PLAIN", ("text/plain", b"plain")),
        ("image/png", ("application/json", b'{"as": "json"}')),
        (None, ("application/json", b'{"as": "json"}')),
    ]:
        headers = {"Accept": accept} if accept else {}
        response = integrate(call(fresh, HttpRequest.build("GET", "/items/7", headers=headers), wired=wired))
        assert (response.headers["Content-Type"][0], response.body) == expected, accept
    first = integration(
        responses=[IntegrationResponse("200", None, {}, {"text/plain": "p", "text/csv": "c"})]
    )
    assert integrate(call(fresh, HttpRequest.build("GET", "/items/7"), wired=first)).body == b"p"


def test_a_cached_authorizer_answer_is_traced_and_reused_until_its_ttl(fresh: LocalCloud) -> None:
    cache = AuthorizerCache()
    authorizer = lambda_authorizer(fresh, ttl=300)
    request = HttpRequest.build("GET", "/items/7", headers={"Authorization": "allow"})
    for _ in range(2):
        authorize(call(fresh, request, authorizer=authorizer), cache)
    assert invocations(fresh, "Gate") == 1
    [cached] = fresh.trace.find("authorize")
    assert (cached.source, cached.target, cached.detail) == ("api:Semantics", "Gate", "cached answer")
    fresh.advance(300)
    authorize(call(fresh, request, authorizer=authorizer), cache)
    assert invocations(fresh, "Gate") == 2, "at its TTL the answer is no longer used"


# ---------------------------------------------------------------------------------------- proxies


def proxy_call(cloud: LocalCloud, mode: str | None = None, **fields: Any) -> Call:
    request = HttpRequest.build("GET", "/items/7", query={"mode": mode} if mode else None)
    return call(cloud, request, wired=integration("AWS_PROXY", uri(cloud, "Backend"), **fields))


def test_a_proxy_answer_gets_a_json_content_type_unless_it_names_one(fresh: LocalCloud) -> None:
    plain = proxy_call(fresh)
    response = integrate(plain)
    assert answer(response) == (200, {"path": "/items/7"})
    assert (response.headers["Content-Type"], response.headers["x-amzn-RequestId"]) == (
        ["application/json"],
        [plain.request_id],
    )
    typed = integrate(proxy_call(fresh, "typed"))
    assert (typed.status, typed.body, "Content-Type" in typed.headers) == (201, b"hi", False)
    assert typed.headers["content-type"] == ["text/plain"]


@pytest.mark.parametrize("mode", ["fail", "extra"])
def test_a_failed_or_malformed_proxy_answer_is_a_502(fresh: LocalCloud, mode: str) -> None:
    error, response = refused(integrate, proxy_call(fresh, mode))
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_FAILURE",
        (502, {"message": "Internal server error"}),
    )


def test_a_throttled_proxy_function_is_a_500(fresh: LocalCloud) -> None:
    fresh.function("Backend").reserved_concurrency = 0
    error, response = refused(integrate, proxy_call(fresh))
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_FAILURE",
        (500, {"message": "Internal server error"}),
    )


@pytest.mark.parametrize(("timeout_ms", "limit"), [(29_000, 29.0), (1_000, 1.0)])
def test_a_function_running_past_the_integration_timeout_is_a_504(
    fresh: LocalCloud, timeout_ms: int, limit: float
) -> None:
    backend_function = fresh.function("Backend")
    backend_function.duration = limit
    assert integrate(proxy_call(fresh, timeout_ms=timeout_ms)).status == 200, "at the limit it still answers"
    backend_function.duration = limit + 0.001
    error, response = refused(integrate, proxy_call(fresh, timeout_ms=timeout_ms))
    assert answer(response) == (504, {"message": "Endpoint request timed out"})
    non_proxy = integration("AWS", uri(fresh, "Backend"), timeout_ms=timeout_ms)
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=non_proxy))
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_TIMEOUT",
        (504, {"message": "Endpoint request timed out"}),
    )


def test_an_http_proxy_passes_the_request_on_with_mapped_parameters_winning(
    fresh: LocalCloud, backend: str
) -> None:
    request = HttpRequest(
        "PUT",
        "/items/7",
        headers={
            "X-Client": ["one", "two"],
            "x-replaced": ["theirs"],
            "Connection": ["keep-alive"],
            "TE": ["x"],
        },
        query={"a": ["1", "2"], "b": ["theirs"]},
        body=b"payload",
    )
    wired = integration(
        "HTTP_PROXY",
        f"{backend}/things/{{thing}}",
        http_method="ANY",
        request_parameters={
            "integration.request.path.thing": "method.request.path.id",
            "integration.request.header.X-Replaced": "'ours'",
            "integration.request.querystring.b": "'ours'",
            "integration.request.header.X-Absent": "method.request.header.X-Absent",
            "integration.request.body.x": "'ignored'",
        },
    )
    response = integrate(call(fresh, request, wired=wired))
    received = json.loads(response.body)
    assert (received["method"], received["path"], received["body"]) == (
        "PUT",
        "/things/7?a=1&a=2&b=ours",
        "payload",
    )
    headers = received["headers"]
    assert (headers["x-client"], headers["x-replaced"]) == ("two", "ours")
    assert "te" not in headers and "x-absent" not in headers
    fixed = integration("HTTP_PROXY", f"{backend}/fixed", http_method="POST")
    assert json.loads(integrate(call(fresh, request, wired=fixed)).body)["method"] == "POST"


def test_an_http_proxy_answer_has_the_backends_own_headers_remapped(fresh: LocalCloud, backend: str) -> None:
    made = call(
        fresh,
        json_request("GET"),
        wired=integration("HTTP_PROXY", f"{backend}/status/404", http_method="ANY"),
    )
    response = integrate(made)
    assert response.status == 404, "the backend's status passes through"
    names = set(response.headers)
    assert {"x-amzn-Remapped-Server", "x-amzn-Remapped-Date", "x-amzn-Remapped-Content-Length"} <= names
    assert not names & {"Server", "Date", "Content-Length"}
    assert (response.headers["X-Multi"], response.headers["x-multi"]) == (["first"], ["last"])
    assert response.headers["x-amzn-RequestId"] == [made.request_id]


# ---------------------------------------------------------------------------------------- who is let in


def test_a_token_authorizer_gets_the_token_and_the_method_arn(fresh: LocalCloud) -> None:
    made = token_call(fresh, "echo")
    authorize(made, AuthorizerCache())
    assert made.authorizer is not None
    assert (made.authorizer["keys"], made.authorizer["type"], made.authorizer["arn"]) == (
        "authorizationToken,methodArn,type",
        "TOKEN",
        made.execute_api_arn(),
    )


def test_a_request_authorizer_gets_the_request_and_needs_every_identity_source(fresh: LocalCloud) -> None:
    authorizer = lambda_authorizer(fresh, "REQUEST")
    request = HttpRequest.build("GET", "/items/7", headers={"X-Token": "echo"}, query={"q": "1"})
    made = call(fresh, request, authorizer=authorizer)
    authorize(made, AuthorizerCache())
    assert made.authorizer is not None and made.authorizer["type"] == "REQUEST"
    assert made.authorizer["keys"] == (
        "headers,httpMethod,methodArn,multiValueHeaders,multiValueQueryStringParameters,path,"
        "pathParameters,queryStringParameters,requestContext,resource,stageVariables,type"
    )
    bare = call(fresh, HttpRequest.build("GET", "/items/7"), authorizer=authorizer)
    error, response = refused(authorize, bare, AuthorizerCache())
    assert answer(response) == (401, {"message": "Unauthorized"})
    assert error.cause.endswith("identity source method.request.header.X-Token is missing")
    assert invocations(fresh, "Gate") == 1


def test_a_token_failing_the_validation_expression_is_401_without_running_the_authorizer(
    fresh: LocalCloud,
) -> None:
    for token in ("Allow", "allow!"):
        error, response = refused(
            authorize, token_call(fresh, token, validation_expression="[a-z]+"), AuthorizerCache()
        )
        assert answer(response) == (401, {"message": "Unauthorized"}), token
        assert error.cause == "authorizer Gate: the token fails [a-z]+"
    assert invocations(fresh, "Gate") == 0
    authorize(token_call(fresh, "allow", validation_expression="[a-z]+"), AuthorizerCache())
    assert invocations(fresh, "Gate") == 1


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("unauthorized", (401, {"message": "Unauthorized"})),
        ("crash", (500, {"message": None})),
        ("deny", (403, {"Message": "User is not authorized to access this resource with an explicit deny"})),
        ("elsewhere", (403, {"Message": "User is not authorized to access this resource"})),
    ],
)
def test_what_the_authorizer_decides_is_what_the_client_gets(
    fresh: LocalCloud, token: str, expected: tuple[int, Any]
) -> None:
    made = token_call(fresh, token)
    error, response = refused(authorize, made, AuthorizerCache())
    assert answer(response) == expected
    arn = made.execute_api_arn()
    assert (error.response_type, error.cause) == {
        "unauthorized": ("UNAUTHORIZED", "authorizer Gate answered Unauthorized"),
        "crash": (
            "AUTHORIZER_CONFIGURATION_ERROR",
            "authorizer Gate failed: RuntimeError: the authorizer crashed",
        ),
        "deny": ("ACCESS_DENIED", f"authorizer Gate denies {arn}"),
        "elsewhere": ("ACCESS_DENIED", f"authorizer Gate allows nothing covering {arn}"),
    }[token]


def test_a_method_without_authorization_lets_everyone_in(fresh: LocalCloud) -> None:
    made = call(fresh, HttpRequest.build("GET", "/items/7"))
    authorize(made, AuthorizerCache())
    assert (made.authorizer, made.iam_caller, invocations(fresh, "Gate")) == (None, None, 0)


def test_an_answer_cached_for_one_second_is_reused_within_it(fresh: LocalCloud) -> None:
    cache = AuthorizerCache()
    authorizer = lambda_authorizer(fresh, ttl=1)
    request = HttpRequest.build("GET", "/items/7", headers={"Authorization": "allow"})
    authorize(call(fresh, request, authorizer=authorizer), cache)
    authorize(call(fresh, request, authorizer=authorizer), cache)
    assert invocations(fresh, "Gate") == 1
    fresh.advance(1)
    authorize(call(fresh, request, authorizer=authorizer), cache)
    assert invocations(fresh, "Gate") == 2


def signed(cloud: LocalCloud, made_for: Call, role: str) -> HttpRequest:
    """The call's request signed with SigV4 by a session of ``role``, as a client signs it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    issued = cloud.client("sts").assume_role(RoleArn=role_arn(cloud, role), RoleSessionName="tester")
    keys = issued["Credentials"]
    request = AWSRequest(method="GET", url=f"https://{made_for.domain_name}/items/7")
    credentials = Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    SigV4Auth(credentials, "execute-api", cloud.kernel.region).add_auth(request)
    return HttpRequest("GET", "/items/7", headers={k: [v] for k, v in request.headers.items()})


def test_an_aws_iam_method_lets_in_a_signed_caller_and_refuses_an_unsigned_one(fresh: LocalCloud) -> None:
    unsigned = call(fresh, HttpRequest.build("GET", "/items/7"), authorization="AWS_IAM")
    error, response = refused(authorize, unsigned, AuthorizerCache())
    assert (error.response_type, answer(response)) == (
        "MISSING_AUTHENTICATION_TOKEN",
        (403, {"message": "Missing Authentication Token"}),
    )
    made = call(fresh, signed(fresh, unsigned, "Caller"), authorization="AWS_IAM")
    authorize(made, AuthorizerCache())
    assert made.iam_caller is not None and made.iam_caller.arn.endswith(
        ":assumed-role/" + fresh.physical_id("Caller") + "/tester"
    )


PASSWORD = "Correct-horse-9"


@pytest.fixture(scope="module")
def members(cloud: LocalCloud) -> dict[str, str]:
    """A user pool with one user in two groups, and its web client."""
    idp = cloud.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="members")["UserPool"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool["Id"], Username="ada", TemporaryPassword=PASSWORD)
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="ada", Password=PASSWORD, Permanent=True)
    for group in ("admins", "staff"):
        idp.create_group(UserPoolId=pool["Id"], GroupName=group)
        idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="ada", GroupName=group)
    return {"arn": pool["Arn"], "id": pool["Id"], "client": client_id}


def sign_in(cloud: LocalCloud, members: dict[str, str], client: str | None = None) -> dict[str, str]:
    return cloud.client("cognito-idp").initiate_auth(
        ClientId=client or members["client"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ada", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


def cognito_call(
    cloud: LocalCloud, members: dict[str, str], token: str | None, scopes: tuple[str, ...] = (), **fields: Any
) -> Call:
    values: dict[str, Any] = {
        "id": "pool01",
        "name": "Members",
        "type": "COGNITO_USER_POOLS",
        "uri": None,
        "credentials": None,
        "identity_sources": ["method.request.header.Authorization"],
        "validation_expression": None,
        "ttl": 300,
        "provider_arns": [members["arn"]],
    }
    authorizer = Authorizer(**{**values, **fields})
    source = (
        authorizer.identity_sources[0].rsplit(".", 1)[-1] if authorizer.identity_sources else "Authorization"
    )
    request = HttpRequest.build("GET", "/items/7", headers={source: token} if token else None)
    return call(cloud, request, authorizer=authorizer, authorization="COGNITO_USER_POOLS", scopes=scopes)


def test_an_id_token_lets_the_user_in_with_its_claims_as_strings(
    fresh: LocalCloud, members: dict[str, str]
) -> None:
    from localcloud.lib.jwks import cognito_keys, verified_claims

    token = sign_in(fresh, members)["IdToken"]
    for made in (
        cognito_call(fresh, members, token),
        cognito_call(fresh, members, f"Bearer {token}", identity_sources=[]),
        cognito_call(fresh, members, token, identity_sources=["method.request.header.X-Id-Token"]),
    ):
        authorize(made, AuthorizerCache())
        assert made.authorizer is not None and made.authorizer["claims"]["cognito:username"] == "ada"
    claims = made.authorizer["claims"]
    raw = verified_claims(token, cognito_keys())
    assert sorted(claims["cognito:groups"].split(",")) == ["admins", "staff"], "a list, joined with commas"
    expires = datetime.fromtimestamp(raw["exp"], UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    issued = datetime.fromtimestamp(raw["iat"], UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    assert (claims["exp"], claims["iat"]) == (expires, issued), "exp and iat as dates"
    assert claims["auth_time"] == str(raw["auth_time"]), "other numbers as they are, as strings"
    assert (claims["aud"], claims["token_use"], claims["cognito:username"]) == (
        members["client"],
        "id",
        "ada",
    )
    assert all(isinstance(value, str) for value in claims.values())


def test_tokens_a_cognito_authorizer_refuses_are_401(fresh: LocalCloud, members: dict[str, str]) -> None:
    tokens = sign_in(fresh, members)
    other_pool = fresh.client("cognito-idp").create_user_pool(PoolName="others")["UserPool"]["Arn"]
    refusals = [
        (
            cognito_call(fresh, members, None),
            "identity source method.request.header.Authorization is missing",
        ),
        (cognito_call(fresh, members, "not-a-jwt"), "the token is not valid"),
        (
            cognito_call(fresh, members, tokens["IdToken"], provider_arns=[other_pool]),
            "is not one of its user pools",
        ),
        (
            cognito_call(fresh, members, tokens["AccessToken"]),
            "an ID token is needed when the method names no scopes",
        ),
        (
            cognito_call(fresh, members, tokens["IdToken"], ("aws.cognito.signin.user.admin",)),
            "carries none of the scopes",
        ),
        (
            cognito_call(fresh, members, tokens["AccessToken"], ("billing/read",)),
            "carries none of the scopes",
        ),
    ]
    for made, cause in refusals:
        error, response = refused(authorize, made, AuthorizerCache())
        assert answer(response) == (401, {"message": "Unauthorized"}), cause
        assert cause in error.cause
    scoped = cognito_call(
        fresh, members, tokens["AccessToken"], ("billing/read", "aws.cognito.signin.user.admin")
    )
    authorize(scoped, AuthorizerCache())
    assert scoped.authorizer is not None and scoped.authorizer["claims"]["token_use"] == "access"


def test_a_token_of_a_deleted_app_client_is_401(fresh: LocalCloud, members: dict[str, str]) -> None:
    idp = fresh.client("cognito-idp")
    client = idp.create_user_pool_client(
        UserPoolId=members["id"], ClientName="gone", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    token = sign_in(fresh, members, client)["IdToken"]
    authorize(cognito_call(fresh, members, token), AuthorizerCache())
    idp.delete_user_pool_client(UserPoolId=members["id"], ClientId=client)
    error, response = refused(authorize, cognito_call(fresh, members, token), AuthorizerCache())
    assert answer(response) == (401, {"message": "Unauthorized"})
    assert error.cause.endswith(f"{client} is not an app client of {members['id']}")


def test_a_cognito_token_expires_at_its_exp_on_the_virtual_clock(
    fresh: LocalCloud, members: dict[str, str]
) -> None:
    from localcloud.lib.jwks import cognito_keys, verified_claims

    token = sign_in(fresh, members)["IdToken"]
    left = verified_claims(token, cognito_keys())["exp"] - fresh.kernel.clock.now().timestamp()
    fresh.advance(left - 1)
    authorize(cognito_call(fresh, members, token), AuthorizerCache())
    fresh.advance(1)
    error, response = refused(authorize, cognito_call(fresh, members, token), AuthorizerCache())
    assert (answer(response), error.cause) == (
        (401, {"message": "Unauthorized"}),
        "authorizer Members: the token expired",
    )


# ---------------------------------------------------------------------------------------- services


def test_an_aws_service_integration_calls_the_service_as_its_role(fresh: LocalCloud) -> None:
    url = fresh.physical_id("Inbox")
    queue = url.rsplit("/", 1)[-1]
    form = {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}
    send = integration(
        "AWS",
        f"arn:aws:apigateway:us-east-1:sqs:path/{fresh.kernel.account}/{queue}",
        credentials=role_arn(fresh, "Sender"),
        request_parameters=form,
        request_templates={"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
    )
    made = call(fresh, json_request(body={"n": 1}), wired=send)
    response = integrate(made)
    assert response.status == 200 and b"SendMessageResponse" in response.body
    [span] = fresh.trace.find("integrate")
    assert (span.target, span.detail, span.outcome, span.parent) == (
        f"sqs:{queue}",
        f"as {fresh.physical_id('Sender')}",
        "200",
        made.span,
    )
    assert made.span != span.id, "the request's span is the parent again after the call"
    assert [s for s in fresh.trace.spans if s.parent == span.id], "what the role did is traced below the call"
    [message] = fresh.client("sqs").receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == {"n": 1}


def test_an_action_uri_names_the_operation_and_a_refusal_is_the_services_answer(fresh: LocalCloud) -> None:
    table = fresh.physical_id("Items")
    template = f'{{"TableName": "{table}", "Item": {{"pk": {{"S": "$input.path(\'$.id\')"}}}}}}'
    put = integration(
        "AWS",
        "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem&Version=2012-08-10",
        credentials=role_arn(fresh, "Sender"),
        request_templates={"application/json": template},
        responses=[IntegrationResponse("200", None, {}, {}), IntegrationResponse("403", "4\\d{2}", {}, {})],
    )
    assert integrate(call(fresh, json_request(body={"id": "a1"}), wired=put)).status == 200
    assert fresh.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "a1"}})["Item"] == {
        "pk": {"S": "a1"}
    }
    [span] = fresh.trace.find("integrate")
    assert span.target == "dynamodb:PutItem"
    stranger = integration(
        "AWS",
        "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
        credentials=role_arn(fresh, "Stranger"),
        request_templates={"application/json": template},
        responses=put.responses,
    )
    assert integrate(call(fresh, json_request(body={"id": "a2"}), wired=stranger)).status == 403
    assert fresh.trace.find("integrate")[-1].outcome.startswith("4")


# ---------------------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("passthrough", "templates", "status"),
    [
        ("NEVER", {}, 415),
        ("WHEN_NO_TEMPLATES", {"application/json": "{}"}, 415),
        ("WHEN_NO_TEMPLATES", {}, 200),
        ("WHEN_NO_MATCH", {"application/json": "{}"}, 200),
        ("NEVER", {"text/csv": "{}"}, 200),
    ],
)
def test_a_body_without_a_template_for_its_type_follows_the_passthrough_behaviour(
    fresh: LocalCloud, passthrough: str, templates: dict[str, str], status: int
) -> None:
    wired = integration(passthrough=passthrough, request_templates=templates)
    request = HttpRequest.build(
        "POST", "/items/7", body="a,b", headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    try:
        response = integrate(call(fresh, request, wired=wired))
    except GatewayError as error:
        response = gateway_response(None, error, None)
    assert response.status == status
    if status == 415:
        assert json.loads(response.body) == {"message": "Unsupported Media Type"}


def test_a_template_may_override_the_status_and_headers_of_the_answer(fresh: LocalCloud) -> None:
    template = (
        '#set($context.responseOverride.status = 418)#set($context.responseOverride.header.X-Teapot = "yes")'
        '{"brewed": true}'
    )
    wired = integration(
        request_parameters={"integration.request.header.X-Body": "method.request.body"},
        responses=[IntegrationResponse("200", None, {}, {"application/json": template})],
    )
    response = integrate(call(fresh, json_request(body={}), wired=wired))
    assert (answer(response), response.headers["X-Teapot"]) == ((418, {"brewed": True}), ["yes"])


def test_a_body_source_maps_the_whole_body(fresh: LocalCloud, backend: str) -> None:
    wired = integration(
        "HTTP",
        f"{backend}/body",
        request_parameters={"integration.request.header.X-Body": "method.request.body"},
    )
    received = json.loads(integrate(call(fresh, json_request(body={"n": 1}), wired=wired)).body)
    assert received["headers"]["x-body"] == '{"n": 1}'


# ---------------------------------------------------------------------------------------- backends that fail


@pytest.fixture(scope="module")
def silent() -> Iterator[str]:
    """A backend that accepts connections and never answers."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture(scope="module")
def garbled() -> Iterator[str]:
    """A backend that answers what is not HTTP."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.recv(65536)
            connection.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_backend_that_never_answers_is_a_504(fresh: LocalCloud, silent: str) -> None:
    made = call(fresh, json_request("GET"), wired=integration("HTTP", f"{silent}/slow", timeout_ms=50))
    error, response = refused(integrate, made)
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_TIMEOUT",
        (504, {"message": "Endpoint request timed out"}),
    )
    assert fresh.trace.find("integrate")[-1].outcome == "timeout"


def test_an_unreachable_backend_is_a_500(fresh: LocalCloud) -> None:
    import socket

    with socket.socket() as bound:  # bound, never listening: connections are refused, and no other
        bound.bind(("127.0.0.1", 0))  # process can take the port while the call runs
        port = bound.getsockname()[1]
        made = call(fresh, json_request("GET"), wired=integration("HTTP_PROXY", f"http://127.0.0.1:{port}/x"))
        error, response = refused(integrate, made)
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_FAILURE",
        (500, {"message": "Internal server error"}),
    )
    assert fresh.trace.find("integrate")[-1].outcome == "unreachable"


def test_a_backend_answering_what_is_not_http_is_a_502(fresh: LocalCloud, garbled: str) -> None:
    made = call(fresh, json_request("GET"), wired=integration("HTTP", f"{garbled}/x"))
    error, response = refused(integrate, made)
    assert (error.response_type, answer(response)) == (
        "INTEGRATION_FAILURE",
        (502, {"message": "Internal server error"}),
    )
    assert fresh.trace.find("integrate")[-1].outcome == "not HTTP"


def test_a_lambda_integration_without_a_permission_for_the_api_is_a_500(fresh: LocalCloud) -> None:
    made = call(
        fresh, json_request(body={}), wired=integration("AWS", uri(fresh, "Backend")), api_id="nopermission"
    )
    error, response = refused(integrate, made)
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.endswith("invoke it from " + made.execute_api_arn())
    assert invocations(fresh, "Backend") == 0


def test_an_event_invocation_without_a_default_response_names_the_200_it_got(fresh: LocalCloud) -> None:
    wired = integration(
        "AWS",
        uri(fresh, "Backend"),
        request_parameters={"integration.request.header.X-Amz-Invocation-Type": "'Event'"},
        responses=[IntegrationResponse("202", ".*", {}, {})],
    )
    error, response = refused(integrate, call(fresh, json_request(body={}), wired=wired))
    assert answer(response) == (500, {"message": "Internal server error"})
    assert error.cause.startswith("no integration response matches 200 and there is no default")


def test_a_request_template_may_override_the_integration_requests_parameters(
    fresh: LocalCloud, backend: str
) -> None:
    template = (
        '#set($context.requestOverride.header.X-Over = "h")'
        '#set($context.requestOverride.querystring.q = "v")'
        '#set($context.requestOverride.path.thing = "p1")'
        "{}"
    )
    wired = integration(
        "HTTP", f"{backend}/things/{{thing}}", request_templates={"application/json": template}
    )
    made = call(fresh, json_request(body={}), wired=wired)
    response = integrate(made)
    received = json.loads(response.body)
    assert (received["path"], received["headers"]["x-over"]) == ("/things/p1?q=v", "h")
    assert response.headers["x-amzn-RequestId"] == [made.request_id]
    assert fresh.trace.find("integrate")[-1].outcome == "200"


def test_a_mock_answers_the_status_code_its_request_template_names(fresh: LocalCloud) -> None:
    responses = [
        IntegrationResponse("500", None, {}, {}),
        IntegrationResponse("201", "200", {}, {}),
        IntegrationResponse("404", "404", {}, {}),
    ]
    named = integration(request_templates={"application/json": "{'statusCode': 404}"}, responses=responses)
    assert integrate(call(fresh, json_request(body={}), wired=named)).status == 404
    unnamed = integration(responses=responses)
    assert integrate(call(fresh, json_request(body={}), wired=unnamed)).status == 201, "no status code: 200"


@pytest.mark.parametrize(
    ("placeholder", "value", "path"),
    [
        ("{thing}", "a/b c", "/files/a%2Fb%20c"),
        ("{proxy}", "a/b c", "/files/a/b%20c"),
        ("{key+}", "a/b c", "/files/a/b%20c"),
    ],
)
def test_a_path_value_is_quoted_into_the_uri_keeping_slashes_only_for_greedy_ones(
    fresh: LocalCloud, backend: str, placeholder: str, value: str, path: str
) -> None:
    name = placeholder.strip("{}+")
    wired = integration(
        "HTTP",
        f"{backend}/files/{placeholder}?v=1&blank=",
        request_parameters={f"integration.request.path.{name}": "method.request.header.X-Value"},
    )
    received = json.loads(integrate(call(fresh, json_request("GET", **{"X-Value": value}), wired=wired)).body)
    assert received["path"] == f"{path}?v=1&blank="
