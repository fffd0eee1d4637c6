"""API Gateway's authorizer and integration rules, one at a time: each test builds a method by hand
and calls ``authorize`` or ``integrate`` on it, against one started cloud whose functions and roles
are a template written out (inline code: no synth). What a test asserts is the answer a client
gets (:func:`gateway_response`) or what reached the function or backend, as AWS documents it."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
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
    answer["context"] = answer.get("context") if token != "nocontext" else None
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
) -> Call:
    """``request`` on ``/items/{id}`` of an API with one method, as the gateway hands it on."""
    root = Resource("root", None, "", "/")
    items = Resource("items", "root", "items", "/items")
    item = Resource("item", "items", "{id}", "/items/{id}")
    root.children, items.children = [items], [item]
    method = Method(
        http_method=request.method,
        resource=item,
        authorization_type="NONE" if authorizer is None and authorizer_id is None else "CUSTOM",
        authorizer_id=authorizer_id or (authorizer.id if authorizer else None),
        authorization_scopes=[],
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
