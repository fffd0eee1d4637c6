"""API Gateway's front door: routing, the Lambda proxy contract, permissions, CORS, MOCK, request
validation, gateway responses and stage throttling, on a small stack with two REST APIs."""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
from aws_cdk import Aws, Stack
from aws_cdk import aws_apigateway as apigw

from localcloud import LocalCloud
from localcloud.errors import ApiGatewayError
from localcloud.lib.http import HttpRequest
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

MISSING_TOKEN = {"message": "Missing Authentication Token"}
INTERNAL_ERROR = {"message": "Internal server error"}
CORS_ORIGINS = ["https://a.example", "https://b.example"]
ORDER_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    type=apigw.JsonSchemaType.OBJECT,
    required=["sku", "qty"],
    properties={
        "sku": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1),
        "qty": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1),
    },
)


def _unpermitted(function) -> apigw.Integration:
    """A Lambda proxy integration without the Lambda permission ``LambdaIntegration`` would add."""
    return apigw.Integration(
        type=apigw.IntegrationType.AWS_PROXY,
        integration_http_method="POST",
        uri=f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}:lambda:path/2015-03-31/functions/{function.function_arn}/invocations",
    )


def build(stack: Stack) -> None:
    echo = python_function(stack, "Echo", "apigw_echo")
    proxy = apigw.LambdaIntegration(echo)
    shop = apigw.RestApi(
        stack,
        "Shop",
        rest_api_name="Shop",
        cloud_watch_role=False,
        binary_media_types=["image/png"],
        deploy_options=apigw.StageOptions(
            stage_name="test",
            variables={"color": "blue"},
            throttling_rate_limit=100,
            throttling_burst_limit=50,
            method_options={
                "/limited/GET": apigw.MethodDeploymentOptions(
                    throttling_rate_limit=1, throttling_burst_limit=2
                )
            },
        ),
    )
    items = shop.root.add_resource("items")
    items.add_method("GET", proxy)
    items.add_resource("{id}").add_method("ANY", proxy)
    items.add_resource("special").add_method("GET", proxy)
    shop.root.add_resource("files").add_resource("{proxy+}").add_method("GET", proxy)
    shop.root.add_resource("limited").add_method("GET", proxy)
    shop.root.add_resource("unpermitted").add_method("GET", _unpermitted(echo))
    shop.root.add_resource(
        "cors",
        default_cors_preflight_options=apigw.CorsOptions(allow_origins=CORS_ORIGINS, allow_methods=["GET"]),
    ).add_method("GET", proxy)
    shop.root.add_resource("mock").add_method(
        "GET",
        apigw.MockIntegration(
            request_templates={
                "application/json": "#if($input.params('fail') == 'yes'){\"statusCode\": 503}#else{\"statusCode\": 200}#end"
            },
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="200",
                    response_parameters={"method.response.header.X-Mock": "'yes'"},
                    response_templates={
                        "application/json": '{"stage": "$context.stage", "color": "$stageVariables.color", '
                        '"q": "$input.params(\'q\')", "method": "$context.httpMethod"}'
                    },
                ),
                apigw.IntegrationResponse(
                    status_code="503",
                    selection_pattern=r"5\d{2}",
                    response_templates={"application/json": '{"down": true}'},
                ),
            ],
        ),
        method_responses=[
            apigw.MethodResponse(
                status_code="200", response_parameters={"method.response.header.X-Mock": True}
            ),
            apigw.MethodResponse(status_code="503"),
        ],
    )
    validator = shop.add_request_validator(
        "All", validate_request_body=True, validate_request_parameters=True
    )
    shop.root.add_resource("validated").add_method(
        "POST",
        proxy,
        request_validator=validator,
        request_models={
            "application/json": shop.add_model("Order", content_type="application/json", schema=ORDER_SCHEMA)
        },
        request_parameters={
            "method.request.header.X-Trace": True,
            "method.request.querystring.q": True,
            "method.request.querystring.optional": False,
        },
    )

    styled = apigw.RestApi(
        stack,
        "Styled",
        rest_api_name="Styled",
        cloud_watch_role=False,
        deploy_options=apigw.StageOptions(stage_name="v1"),
    )
    styled.add_gateway_response(
        "Default4xx",
        type=apigw.ResponseType.DEFAULT_4_XX,
        response_headers={"Access-Control-Allow-Origin": "'*'"},
        templates={
            "application/json": '{"error": $context.error.messageString, "type": "$context.error.responseType"}'
        },
    )
    styled.add_gateway_response(
        "NotFound", type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, status_code="404"
    )
    styled.add_gateway_response(
        "Default5xx", type=apigw.ResponseType.DEFAULT_5_XX, response_headers={"X-Failure": "'gateway'"}
    )
    styled.root.add_resource("validated").add_method(
        "POST",
        proxy,
        request_validator=styled.add_request_validator("Body", validate_request_body=True),
        request_models={
            "application/json": styled.add_model(
                "Order", content_type="application/json", schema=ORDER_SCHEMA
            )
        },
    )
    styled.root.add_resource("unpermitted").add_method("GET", _unpermitted(echo))


@pytest.fixture
def cloud(synth, run) -> LocalCloud:
    return run(synth("ApiFrontDoor", build))


def echoed(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def invocations(cloud: LocalCloud) -> int:
    return len(cloud.trace.find("invoke", target=cloud.function("Echo").name))


# ---------------------------------------------------------------------------------------- routing


def test_a_literal_part_wins_over_a_variable_which_wins_over_a_greedy_path(cloud):
    shop = cloud.api("Shop")
    special = echoed(shop.get("/items/special"))
    assert (special["resource"], special["pathParameters"]) == ("/items/special", None)
    item = echoed(shop.get("/items/42"))
    assert (item["resource"], item["pathParameters"]) == ("/items/{id}", {"id": "42"})
    posted = echoed(shop.post("/items/42", json={"n": 1}))
    assert (posted["httpMethod"], posted["resource"]) == ("POST", "/items/{id}"), "ANY serves every method"
    deep = echoed(shop.get("/files/reports/2026/q1.csv"))
    assert (deep["resource"], deep["pathParameters"]) == ("/files/{proxy+}", {"proxy": "reports/2026/q1.csv"})


def test_slashes_between_the_stage_and_the_path_collapse_as_on_aws(cloud):
    """AWS routes ``/test//items`` as ``/items`` (its event's path too), and keeps an empty part
    inside a greedy path; the Lambda permission then matches the path the route took."""
    shop = cloud.api("Shop")
    listing = echoed(shop.get("//items"))
    assert (listing["path"], listing["resource"]) == ("/items", "/items")
    item = echoed(shop.get("///items/42"))
    assert (item["path"], item["resource"], item["pathParameters"]) == (
        "/items/42",
        "/items/{id}",
        {"id": "42"},
    )
    greedy = echoed(shop.get("/files/a//b"))
    assert (greedy["path"], greedy["pathParameters"]) == ("/files/a//b", {"proxy": "a//b"})


def test_a_path_or_method_no_api_has_is_403_missing_authentication_token(cloud, caplog):
    shop = cloud.api("Shop")
    caplog.set_level(logging.INFO, "localcloud.apigateway")
    for method, path in (
        ("GET", "/nothing"),
        ("DELETE", "/items"),
        ("GET", "/files"),
        ("GET", "/items/special/more"),
    ):
        response = shop.request(method, path)
        assert (response.status_code, response.json()) == (403, MISSING_TOKEN), f"{method} {path}"
        assert response.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    api_id = cloud.apigateway.find("Shop").id
    wrong_stage = cloud.apigateway.dispatch(api_id, HttpRequest.build("GET", "/prod/items"))
    assert (wrong_stage.status_code, wrong_stage.json()) == (403, MISSING_TOKEN)
    assert invocations(cloud) == 0
    assert (
        "Shop GET /test/nothing -> 403 MISSING_AUTHENTICATION_TOKEN: Shop has no method GET /nothing"
        in caplog.messages
    )


# ---------------------------------------------------------------------------------------- Lambda proxy


def test_the_proxy_event_has_the_shape_aws_sends(cloud):
    shop = cloud.api("Shop")
    response = shop.get("/items/42?tag=a&tag=b&x=1", headers={"X-Custom": "v", "User-Agent": "tests"})
    event = echoed(response)
    assert sorted(event) == [
        "body",
        "headers",
        "httpMethod",
        "isBase64Encoded",
        "multiValueHeaders",
        "multiValueQueryStringParameters",
        "path",
        "pathParameters",
        "queryStringParameters",
        "requestContext",
        "resource",
        "stageVariables",
    ]
    api_id = cloud.apigateway.find("Shop").id
    domain = f"{api_id}.execute-api.us-east-1.amazonaws.com"
    assert {k: event[k] for k in ("resource", "path", "httpMethod", "body", "isBase64Encoded")} == {
        "resource": "/items/{id}",
        "path": "/items/42",
        "httpMethod": "GET",
        "body": None,
        "isBase64Encoded": False,
    }
    assert event["queryStringParameters"] == {"tag": "b", "x": "1"}, "the last of several values"
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "x": ["1"]}
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] == {"color": "blue"}
    assert {k: event["headers"][k] for k in ("X-Custom", "User-Agent", "Host", "X-Forwarded-Proto")} == {
        "X-Custom": "v",
        "User-Agent": "tests",
        "Host": domain,
        "X-Forwarded-Proto": "https",
    }
    assert event["multiValueHeaders"]["X-Custom"] == ["v"]
    context = event["requestContext"]
    assert sorted(context) == [
        "accountId",
        "apiId",
        "deploymentId",
        "domainName",
        "domainPrefix",
        "extendedRequestId",
        "httpMethod",
        "identity",
        "path",
        "protocol",
        "requestId",
        "requestTime",
        "requestTimeEpoch",
        "resourceId",
        "resourcePath",
        "stage",
    ], "no authorizer key without an authorizer"
    assert {
        k: context[k] for k in ("accountId", "apiId", "domainName", "httpMethod", "path", "protocol")
    } == {
        "accountId": cloud.account,
        "apiId": api_id,
        "domainName": domain,
        "httpMethod": "GET",
        "path": "/test/items/42",
        "protocol": "HTTP/1.1",
    }
    assert (context["resourcePath"], context["stage"]) == ("/items/{id}", "test")
    assert (context["requestTime"], context["requestTimeEpoch"]) == (
        "01/Jan/2026:00:00:00 +0000",
        1767225600000,
    )
    assert context["requestId"] == response.header("x-amzn-RequestId")
    assert (context["identity"]["sourceIp"], context["identity"]["userAgent"]) == ("127.0.0.1", "tests")


def test_empty_query_path_and_body_are_null_as_on_aws(cloud):
    event = echoed(cloud.api("Shop").get("/items"))
    assert [
        event[k]
        for k in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "body")
    ] == [
        None,
        None,
        None,
        None,
    ]


def test_the_proxy_response_sets_status_headers_and_body(cloud):
    shop = cloud.api("Shop")
    response = shop.get("/items/1")
    assert response.header("X-Echo") == "single"
    assert response.headers["Set-Cookie"] == ["a=1", "b=2"], "multiValueHeaders keep every value"
    assert response.json()["function"] == cloud.function("Echo").name
    teapot = shop.get("/items/1", query={"mode": "status", "status": "418"})
    assert (teapot.status_code, teapot.body) == (418, b"")


def test_binary_media_types_travel_base64_encoded(cloud):
    shop = cloud.api("Shop")
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    event = echoed(shop.post("/items/1", body=png, headers={"Content-Type": "image/png"}))
    assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, png)
    text = echoed(shop.post("/items/1", json={"a": 1}))
    assert (text["isBase64Encoded"], json.loads(text["body"])) == (False, {"a": 1})
    image = shop.get("/items/1", query={"mode": "binary"}, headers={"Accept": "image/png"})
    assert (image.header("Content-Type"), image.body) == ("image/png", b"\x89PNG\x00\xff")


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("crash", "failed: RuntimeError: the backend crashed"),
        ("malformed", "Malformed Lambda proxy response from"),
        ("extra", "unexpected keys ['unexpected']"),
    ],
)
def test_a_function_error_or_a_malformed_proxy_response_is_502(cloud, caplog, mode, cause):
    caplog.set_level(logging.INFO, "localcloud.apigateway")
    response = cloud.api("Shop").get("/items/1", query={"mode": mode})
    assert (response.status_code, response.json()) == (502, INTERNAL_ERROR)
    assert any(cause in line for line in caplog.messages), caplog.messages
    [request] = cloud.trace.find("request")
    assert request.outcome == "502"


def test_without_a_lambda_permission_api_gateway_answers_500_and_never_invokes(cloud, caplog):
    caplog.set_level(logging.INFO, "localcloud.apigateway")
    response = cloud.api("Shop").get("/unpermitted")
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)
    assert invocations(cloud) == 0
    [line] = [m for m in caplog.messages if "unpermitted" in m]
    assert "Invalid permissions on Lambda function" in line and "/test/GET/unpermitted" in line


def test_a_function_slower_than_the_integration_timeout_is_504(cloud):
    cloud.function("Echo").duration = 30
    response = cloud.api("Shop").get("/items/1")
    assert (response.status_code, response.json()) == (504, {"message": "Endpoint request timed out"})


def test_a_throttled_function_is_500(cloud):
    echo = cloud.function("Echo")
    echo.duration, echo.reserved_concurrency = 1, 1
    shop = cloud.api("Shop")
    assert shop.get("/items/1").status_code == 200
    busy = shop.get("/items/2")
    assert (busy.status_code, busy.json()) == (500, INTERNAL_ERROR), "Lambda's 429 is API Gateway's 500"
    cloud.advance(1)
    assert shop.get("/items/3").status_code == 200


def test_each_request_is_a_span_that_causes_its_invocation(cloud):
    cloud.api("Shop").get("/items/1")
    [request] = cloud.trace.find("request")
    [invoke] = cloud.trace.find("invoke")
    assert (request.source, request.target, request.detail, request.outcome) == (
        "client",
        "api:Shop",
        "GET /test/items/1",
        "200",
    )
    assert (invoke.parent, invoke.source) == (request.id, "api:Shop")


# ---------------------------------------------------------------------------------------- CORS and MOCK


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://b.example", "https://b.example"), ("https://c.example", "https://a.example")],
)
def test_the_cors_preflight_answers_from_its_mock_integration(cloud, origin, allowed):
    response = cloud.api("Shop").options("/cors", headers={"Origin": origin})
    assert response.status_code == 204
    assert response.header("Access-Control-Allow-Origin") == allowed, "another origin gets the first one"
    assert response.header("Access-Control-Allow-Methods") == "GET"
    assert response.header("Vary") == "Origin"
    assert invocations(cloud) == 0


def test_a_mock_integration_picks_its_response_by_the_status_its_template_gives(cloud):
    shop = cloud.api("Shop")
    ok = shop.get("/mock", query={"q": "tea"})
    assert (ok.status_code, ok.json(), ok.header("X-Mock")) == (
        200,
        {"stage": "test", "color": "blue", "q": "tea", "method": "GET"},
        "yes",
    )
    down = shop.get("/mock", query={"fail": "yes"})
    assert (down.status_code, down.json(), down.header("X-Mock")) == (503, {"down": True}, None)


# ---------------------------------------------------------------------------------------- validation


def test_missing_required_parameters_are_400_before_the_function_runs(cloud):
    shop = cloud.api("Shop")
    response = shop.post("/validated", json={"sku": "tea", "qty": 1})
    assert (response.status_code, response.json()) == (
        400,
        {"message": "Missing required request parameters: [X-Trace, q]"},
    )
    only_query = shop.post("/validated", json={"sku": "tea", "qty": 1}, headers={"X-Trace": "t"})
    assert only_query.json() == {"message": "Missing required request parameters: [q]"}
    assert invocations(cloud) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"sku": "", "qty": 1},
        {"sku": "tea", "qty": 0},
        {"sku": "tea"},
        "{not json",
        [1],
        '{"sku": "tea", "qty": 1, "weight": NaN}',
        '{"sku": "tea", "qty": 1, "weight": Infinity}',
        '{"sku": "tea", "qty": 1, "weight": -Infinity}',
        '{"sku": "tea", "qty": 1, "deep": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"sku": "tea", "qty": 1, "extra": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
)
def test_a_body_that_breaks_the_model_is_400_invalid_request_body(cloud, body):
    raw = body if isinstance(body, str) else json.dumps(body)
    response = cloud.api("Shop").post(
        "/validated", body=raw, headers={"X-Trace": "t", "Content-Type": "application/json"}, query={"q": "1"}
    )
    assert (response.status_code, response.json()) == (400, {"message": "Invalid request body"})
    assert invocations(cloud) == 0


def test_nesting_is_counted_outside_strings_only():
    from localcloud.services.apigateway.validation import nesting_depth

    assert nesting_depth('{"a": [[1], {"b": "[[[{{\\"]]"}]}') == 3
    assert nesting_depth("[" * 1001 + "]" * 1001) == 1001


def test_a_valid_request_reaches_the_function(cloud):
    response = cloud.api("Shop").post(
        "/validated?q=1", json={"sku": "tea", "qty": 2}, headers={"X-Trace": "t"}
    )
    assert json.loads(echoed(response)["body"]) == {"sku": "tea", "qty": 2}


def test_a_body_as_deep_as_api_gateway_parses_is_validated_not_crashed_on(cloud):
    """API Gateway's parser takes 1,000 levels; parsing them here needs more stack than a request
    has left, which must not turn into a local-cloud 500."""
    for depth in (999, 1000):
        inner = depth - 1
        body = '{"sku": "tea", "qty": 1, "deep": ' + "[" * inner + "]" * inner + "}"
        response = cloud.api("Shop").post(
            "/validated",
            body=body,
            headers={"X-Trace": "t", "Content-Type": "application/json"},
            query={"q": "1"},
        )
        assert echoed(response)["body"] == body, "validated, then passed on as sent"


# ---------------------------------------------------------------------------------------- gateway responses


def test_gateway_responses_reshape_what_api_gateway_answers_itself(cloud):
    styled = cloud.api("Styled")
    missing = styled.get("/nothing")
    assert (missing.status_code, missing.json()) == (404, MISSING_TOKEN), (
        "its own type's response: only the status"
    )
    assert missing.header("Access-Control-Allow-Origin") is None, "DEFAULT_4XX is for types not set up"
    invalid = styled.post("/validated", json={"sku": "tea"})
    assert (invalid.status_code, invalid.json()) == (
        400,
        {"error": "Invalid request body", "type": "BAD_REQUEST_BODY"},
    )
    assert invalid.header("Access-Control-Allow-Origin") == "*"
    failed = styled.get("/unpermitted")
    assert (failed.status_code, failed.json(), failed.header("X-Failure")) == (500, INTERNAL_ERROR, "gateway")
    assert failed.header("Access-Control-Allow-Origin") is None


def test_an_api_without_gateway_responses_keeps_the_defaults(cloud):
    response = cloud.api("Shop").get("/nothing")
    assert response.header("Access-Control-Allow-Origin") is None
    assert response.json() == MISSING_TOKEN


# ---------------------------------------------------------------------------------------- throttling


def test_a_method_throttle_answers_429_until_time_refills_its_bucket(cloud):
    shop = cloud.api("Shop")
    assert [shop.get("/limited").status_code for _ in range(3)] == [200, 200, 429], "burst of 2"
    throttled = shop.get("/limited")
    assert (throttled.status_code, throttled.json()) == (429, {"message": "Too Many Requests"})
    assert shop.get("/items").status_code == 200, "other methods have their own bucket"
    cloud.advance(1)
    assert [shop.get("/limited").status_code for _ in range(2)] == [200, 429], "one token a second"
    cloud.advance(5)
    assert [shop.get("/limited").status_code for _ in range(3)] == [200, 200, 429], "refilled up to the burst"


def test_the_account_limit_is_the_one_http_and_websocket_apis_use_too(cloud):
    """One bucket per account and region for every kind of API, as AWS counts it."""
    shared = cloud.kernel.account_limits
    now = cloud.kernel.clock.elapsed()
    while shared.take_api_gateway_account(now):
        pass
    assert cloud.api("Shop").get("/items").status_code == 429
    cloud.advance(1)
    assert cloud.api("Shop").get("/items").status_code == 200


def test_the_stage_default_throttle_covers_every_method(cloud):
    shop = cloud.api("Shop")
    statuses = [shop.get("/items").status_code for _ in range(51)]
    assert statuses.count(200) == 50 and statuses[-1] == 429, "the stage's burst of 50"


# ---------------------------------------------------------------------------------------- lookups


def test_apis_are_found_by_name_and_a_wrong_name_lists_them(cloud):
    with pytest.raises(ApiGatewayError, match=r"has 2 instead of exactly one REST API.*Shop.*Styled"):
        cloud.api()
    with pytest.raises(ApiGatewayError, match=r"one REST API named 'Nope'.*Shop.*Styled"):
        cloud.api("Nope")
    with pytest.raises(ApiGatewayError, match=r"Styled has no stage 'prod'; its stages: \['v1'\]"):
        cloud.api("Styled", stage="prod")
    endpoints = {e.name: e for e in cloud.apigateway.endpoints()}
    shop = endpoints["Shop"]
    assert shop.stages == ["test"]
    assert shop.stage_urls == {"test": f"https://{shop.api_id}.execute-api.us-east-1.amazonaws.com/test/"}
    assert re.fullmatch(r"Shop[0-9A-F]{8}", shop.logical_id)
    assert cloud.api(shop.logical_id).url == shop.stage_urls["test"]
    routes = {(r.method, r.path): r for r in cloud.apigateway.routes(shop.api_id)}
    assert routes[("POST", "/validated")].example_body() == {"sku": "x", "qty": 1}
    assert ("OPTIONS", "/cors") in routes and ("ANY", "/items/{id}") in routes
