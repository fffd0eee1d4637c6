"""HTTP APIs (API Gateway v2): provisioning of both protocols, routes in AWS's priority, stages,
and Lambda proxy integrations with payload formats 2.0 and 1.0."""

from __future__ import annotations

import base64
import json

import pytest
from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as v2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_logs as logs

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import ApiGatewayError, LocalCloudError
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud

SHOP = "https://shop.example.com"
DOMAIN = "api.shop.example.com"
ACCESS_FORMAT = (
    '{"id":"$context.requestId","route":"$context.routeKey","status":"$context.status",'
    '"ip":"$context.identity.sourceIp","error":"$context.error.message","latency":"$context.integrationLatency",'
    '"nothing":"$context.authorizer.error"}'
)
NOT_FOUND = {"message": "Not Found"}
INTERNAL = {"message": "Internal Server Error"}


def build(stack: Stack) -> None:
    echo = python_function(stack, "Echo", "http_echo")
    v2_echo = integrations.HttpLambdaIntegration("EchoV2", echo)
    v1_echo = integrations.HttpLambdaIntegration(
        "EchoV1", echo, payload_format_version=v2.PayloadFormatVersion.VERSION_1_0
    )
    api = v2.HttpApi(
        stack,
        "Api",
        api_name="shop",
        default_integration=v2_echo,
        cors_preflight=v2.CorsPreflightOptions(
            allow_origins=[SHOP, "http://*"],
            allow_methods=[v2.CorsHttpMethod.GET, v2.CorsHttpMethod.POST],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Total"],
            allow_credentials=True,
            max_age=Duration.minutes(10),
        ),
    )
    api.add_routes(path="/items", methods=[v2.HttpMethod.GET], integration=v2_echo)
    # ANY first: the method route must win by rank, not by the order the routes came in.
    api.add_routes(path="/items/{id}", methods=[v2.HttpMethod.ANY], integration=v2_echo)
    api.add_routes(path="/items/{id}", methods=[v2.HttpMethod.GET], integration=v2_echo)
    api.add_routes(path="/items/special", methods=[v2.HttpMethod.ANY], integration=v2_echo)
    api.add_routes(path="/items/{proxy+}", methods=[v2.HttpMethod.ANY], integration=v2_echo)
    api.add_routes(path="/v1/{name}", methods=[v2.HttpMethod.POST], integration=v1_echo)
    prod = v2.HttpStage(
        stack, "Prod", http_api=api, stage_name="prod", auto_deploy=True, stage_variables={"color": "blue"}
    )
    access = logs.LogGroup(stack, "Access", removal_policy=RemovalPolicy.DESTROY)
    prod.node.default_child.access_log_settings = v2.CfnStage.AccessLogSettingsProperty(
        destination_arn=access.log_group_arn, format=ACCESS_FORMAT
    )
    slow = v2.HttpStage(
        stack,
        "Slow",
        http_api=api,
        stage_name="slow",
        auto_deploy=True,
        throttle=v2.ThrottleSettings(rate_limit=1, burst_limit=2),
    )
    slow.node.default_child.route_settings = {
        "GET /items": {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 100}
    }

    # A route whose function gives API Gateway no permission: a 500, as on AWS.
    closed = v2.CfnIntegration(
        stack,
        "Closed",
        api_id=api.api_id,
        integration_type="AWS_PROXY",
        integration_uri=python_function(stack, "Unreachable", "http_echo").function_arn,
        payload_format_version="2.0",
    )
    v2.CfnRoute(
        stack, "ClosedRoute", api_id=api.api_id, route_key="GET /closed", target=f"integrations/{closed.ref}"
    )

    certificate = acm.Certificate.from_certificate_arn(
        stack, "Certificate", "arn:aws:acm:us-east-1:123456789012:certificate/shop"
    )
    domain = v2.DomainName(stack, "Domain", domain_name=DOMAIN, certificate=certificate)
    v2.ApiMapping(stack, "RootMapping", api=api, domain_name=domain, stage=api.default_stage)
    v2.ApiMapping(stack, "ProdMapping", api=api, domain_name=domain, stage=prod, api_mapping_key="v1/shop")
    keyed = v2.DomainName(stack, "Keyed", domain_name="keyed.example.com", certificate=certificate)
    v2.ApiMapping(stack, "KeyedMapping", api=api, domain_name=keyed, stage=prod, api_mapping_key="v1")

    hidden = v2.HttpApi(stack, "Hidden", disable_execute_api_endpoint=True)
    hidden.add_routes(
        path="/ping",
        methods=[v2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration("HiddenEcho", echo),
    )
    v2.ApiMapping(
        stack,
        "HiddenMapping",
        api=hidden,
        domain_name=keyed,
        stage=hidden.default_stage,
        api_mapping_key="hidden",
    )

    quiet = v2.HttpApi(stack, "Quiet", create_default_stage=False)
    quiet.add_routes(
        path="/ping",
        methods=[v2.HttpMethod.GET],
        integration=integrations.HttpLambdaIntegration("QuietEcho", echo),
    )
    v2.HttpStage(stack, "Undeployed", http_api=quiet, stage_name="draft", auto_deploy=False)

    chat = v2.WebSocketApi(
        stack,
        "Chat",
        connect_route_options=v2.WebSocketRouteOptions(
            integration=integrations.WebSocketLambdaIntegration("Connect", echo)
        ),
    )
    chat.add_route(
        "send", integration=integrations.WebSocketLambdaIntegration("Send", echo), return_response=True
    )
    v2.WebSocketStage(stack, "ChatStage", web_socket_api=chat, stage_name="dev", auto_deploy=True)

    CfnOutput(stack, "ApiId", value=api.api_id)
    CfnOutput(stack, "ApiEndpoint", value=api.api_endpoint)
    CfnOutput(stack, "ProdUrl", value=prod.url)
    CfnOutput(stack, "ChatEndpoint", value=chat.api_endpoint)
    CfnOutput(
        stack,
        "SendRouteId",
        value=Fn.get_att(
            chat.node.find_child("send-Route").node.default_child.logical_id, "RouteId"
        ).to_string(),
    )


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("HttpApi", build), start=FIXED_START) as running:
        yield running


def event_of(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["event"]


# ---------------------------------------------------------------------------------------- provisioning


def test_both_protocols_are_modelled_with_ids_endpoints_and_route_keys(cloud):
    gateway = cloud.service("apigatewayv2")
    outputs = cloud.outputs
    api = gateway.apis[outputs["ApiId"]]
    assert api.protocol == "HTTP" and api.name == "shop"
    assert outputs["ApiEndpoint"] == f"https://{api.id}.execute-api.{cloud.region}.amazonaws.com"
    assert outputs["ProdUrl"] == f"https://{api.id}.execute-api.{cloud.region}.amazonaws.com/prod"
    assert {"$default", "GET /items", "GET /items/{id}", "ANY /items/{proxy+}", "GET /closed"} <= set(
        api.routes
    )
    assert set(api.stages) == {"$default", "prod", "slow"} and api.stages["prod"].variables == {
        "color": "blue"
    }
    chat = gateway.find("Chat", protocol="WEBSOCKET")
    assert outputs["ChatEndpoint"] == f"wss://{chat.id}.execute-api.{cloud.region}.amazonaws.com"
    assert chat.route_selection_expression == "$request.body.action"
    assert set(chat.routes) == {"$connect", "send"} and chat.routes["send"].id == outputs["SendRouteId"]
    assert set(chat.routes["send"].responses) == {"$default"}


# ---------------------------------------------------------------------------------------- routes


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/items", "GET /items", None),
        ("GET", "/items/7", "GET /items/{id}", {"id": "7"}),
        ("GET", "/items/special", "ANY /items/special", None),
        ("DELETE", "/items/7", "ANY /items/{id}", {"id": "7"}),
        ("DELETE", "/items/7/parts", "ANY /items/{proxy+}", {"proxy": "7/parts"}),
        ("GET", "/items/7/parts/2", "ANY /items/{proxy+}", {"proxy": "7/parts/2"}),
        ("POST", "/items", "$default", None),
        ("GET", "/elsewhere/deep", "$default", None),
    ],
)
def test_the_most_specific_route_serves_then_the_greedy_one_then_default(
    cloud, method, path, route_key, parameters
):
    event = event_of(cloud.http_api("shop", stage="$default").request(method, path))
    assert event["routeKey"] == route_key
    assert event.get("pathParameters") == parameters


def test_an_api_without_a_default_route_answers_404_not_found(cloud):
    # The Quiet API's only stage is not deployed: nothing serves it.
    response = cloud.http_api("Quiet").get("/ping")
    assert response.status_code == 404 and response.json() == NOT_FOUND


def test_a_named_stage_serves_under_its_name_with_its_variables(cloud):
    event = event_of(cloud.http_api("shop", stage="prod").get("/items/3"))
    assert event["rawPath"] == "/prod/items/3"
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"color": "blue"}
    assert "stageVariables" not in event_of(cloud.http_api("shop", stage="$default").get("/items/3"))


def test_a_client_must_name_the_stage_of_an_api_with_several(cloud):
    with pytest.raises(ApiGatewayError, match="pass stage="):
        cloud.http_api("shop")


# ---------------------------------------------------------------------------------------- payload 2.0


def test_format_2_event_has_raw_parts_joined_values_cookies_and_lower_cased_headers(cloud):
    client = cloud.http_api("shop", stage="$default")
    request_headers = {"X-Multi": "one", "Cookie": "a=1; b=2", "User-Agent": "tests"}
    from localcloud.lib.http import HttpRequest

    request = HttpRequest.build("GET", "/items?tag=x&tag=y&q=a%20b", headers=request_headers)
    request.headers["X-Multi"].append("two")
    event = event_of(cloud.service("apigatewayv2").dispatch(client.api_id, request))
    assert event["version"] == "2.0"
    assert event["rawQueryString"] == "tag=x&tag=y&q=a%20b"
    assert event["queryStringParameters"] == {"tag": "x,y", "q": "a b"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-multi"] == "one,two" and "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    http = event["requestContext"]["http"]
    assert http == {
        "method": "GET",
        "path": "/items",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests",
    }
    assert event["isBase64Encoded"] is False and "body" not in event


def test_format_2_binary_bodies_arrive_base64_encoded_and_text_bodies_as_text(cloud):
    client = cloud.http_api("shop", stage="$default")
    binary = event_of(
        client.post("/items/1", body=b"\x00\xff", headers={"Content-Type": "application/octet-stream"})
    )
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x00\xff"
    text = event_of(client.post("/items/1", json={"a": 1}))
    assert text["isBase64Encoded"] is False and text["body"] == '{"a": 1}'


def test_format_2_answers_a_dict_without_status_code_as_200_json(cloud):
    client = cloud.http_api("shop", stage="$default")
    response = client.get("/items", query={"mode": "bare"})
    assert response.status_code == 200 and response.header("Content-Type") == "application/json"
    assert response.json() == {"route": "GET /items", "ok": True}
    assert client.get("/items", query={"mode": "text"}).json() == "just text"


def test_format_2_cookies_each_become_a_set_cookie_header(cloud):
    response = cloud.http_api("shop", stage="$default").get("/items", query={"mode": "cookies"})
    assert response.status_code == 201 and response.text == "baked"
    assert response.headers["set-cookie"] == ["a=1; Path=/", "b=2"]


@pytest.mark.parametrize("mode", ["crash", "malformed"])
def test_a_failing_or_malformed_function_is_a_500(cloud, mode):
    response = cloud.http_api("shop", stage="$default").get("/items", query={"mode": mode})
    assert response.status_code == 500 and response.json() == INTERNAL
    assert response.header("apigw-requestid")


def test_binary_answers_are_decoded(cloud):
    response = cloud.http_api("shop", stage="$default").get("/items", query={"mode": "binary"})
    assert response.body == b"\x89PNG\x00\xff" and response.header("content-type") == "image/png"


# ---------------------------------------------------------------------------------------- payload 1.0


def test_format_1_event_is_the_rest_shape_with_a_version(cloud):
    event = event_of(cloud.http_api("shop", stage="prod").post("/v1/ann?x=1&x=2", json={"b": 2}))
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/{name}" and event["path"] == "/prod/v1/ann"
    assert event["httpMethod"] == "POST" and event["pathParameters"] == {"name": "ann"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["requestContext"]["routeKey"] == "POST /v1/{name}"
    assert event["body"] == '{"b": 2}' and event["isBase64Encoded"] is False


def test_format_1_needs_the_rest_contract(cloud):
    response = cloud.http_api("shop", stage="prod").post("/v1/ann", query={"mode": "bare"})
    assert response.status_code == 500 and response.json() == INTERNAL


# ---------------------------------------------------------------------------------------- permission


def test_a_function_without_a_permission_for_api_gateway_is_not_invoked(cloud):
    before = len(cloud.trace.find("invoke", target=cloud.function("Unreachable").name))
    response = cloud.http_api("shop", stage="$default").get("/closed")
    assert response.status_code == 500 and response.json() == INTERNAL
    assert len(cloud.trace.find("invoke", target=cloud.function("Unreachable").name)) == before


# ---------------------------------------------------------------------------------------- CORS


def test_a_preflight_is_answered_by_api_gateway_before_any_route(cloud):
    before = len(cloud.trace.find("invoke"))
    response = cloud.http_api("shop", stage="$default").options(
        "/items/1",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204 and response.body == b""
    assert response.header("access-control-allow-origin") == SHOP
    assert response.header("access-control-allow-methods") == "GET,POST"
    assert response.header("access-control-allow-headers") == "authorization,content-type"
    assert response.header("access-control-allow-credentials") == "true"
    assert response.header("access-control-max-age") == "600"
    assert len(cloud.trace.find("invoke")) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
        {"Origin": SHOP, "Access-Control-Request-Method": "DELETE"},
        {
            "Origin": SHOP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-secret",
        },
    ],
)
def test_a_preflight_for_what_is_not_allowed_gets_no_allow_headers(cloud, headers):
    response = cloud.http_api("shop", stage="$default").options("/items", headers=headers)
    assert response.status_code == 204
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_answers_to_an_allowed_origin_carry_the_cors_headers(cloud):
    client = cloud.http_api("shop", stage="$default")
    response = client.get("/items", headers={"Origin": "http://localhost:3000"})
    assert response.header("access-control-allow-origin") == "http://localhost:3000"
    assert response.header("access-control-expose-headers") == "x-total"
    refused = client.get("/items", headers={"Origin": "https://evil.example.com"})
    assert refused.status_code == 200 and refused.header("access-control-allow-origin") is None


# ---------------------------------------------------------------------------------------- throttling


def test_a_stage_throttles_its_routes_on_the_virtual_clock_and_a_route_setting_overrides(cloud):
    client = cloud.http_api("shop", stage="slow")
    statuses = [client.get("/items/1").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = client.get("/items/1")
    assert throttled.json() == {"message": "Too Many Requests"}
    cloud.advance(1)
    assert client.get("/items/1").status_code == 200
    assert {client.get("/items").status_code for _ in range(5)} == {200}


def test_the_account_limit_is_the_one_rest_and_websocket_apis_use_too(cloud):
    """AWS counts 10,000 requests a second (burst 5,000) per account and region across REST, HTTP and
    WebSocket APIs: a burst the account's REST APIs took leaves an HTTP API nothing."""
    shared = cloud.kernel.account_limits
    now = cloud.kernel.clock.elapsed()
    while shared.take_api_gateway_account(now):
        pass
    client = cloud.http_api("shop", stage="$default")
    assert client.get("/items").status_code == 429
    cloud.advance(1)
    assert client.get("/items").status_code == 200


def test_each_answer_counts_in_the_apis_metrics_by_api_and_by_stage(cloud):
    """HTTP APIs report Count, 4xx, 5xx and Latency under ApiId, and ApiId with Stage."""

    def counts(client) -> dict[str, float]:
        by_stage = {"ApiId": client.api_id, "Stage": client.stage}
        return {
            name: sum(point.sum for point in cloud.metrics("AWS/ApiGateway", name, by_stage))
            for name in ("Count", "4xx", "5xx")
        }

    shop, hidden = cloud.http_api("shop", stage="$default"), cloud.http_api("Hidden")
    before = counts(shop), counts(hidden)
    assert shop.get("/items").status_code == 200
    assert hidden.get("/ping").status_code == 403
    after = counts(shop), counts(hidden)
    assert [{name: a[name] - b[name] for name in a} for a, b in zip(after, before, strict=True)] == [
        {"Count": 1, "4xx": 0, "5xx": 0},
        {"Count": 1, "4xx": 1, "5xx": 0},
    ]
    by_stage = {"ApiId": shop.api_id, "Stage": "$default"}
    assert sum(p.sum for p in cloud.metrics("AWS/ApiGateway", "Count", {"ApiId": shop.api_id})) >= 1
    assert cloud.metrics("AWS/ApiGateway", "Latency", by_stage)
    assert cloud.metrics("AWS/ApiGateway", "4XXError", by_stage) == [], "REST's names are not HTTP APIs'"


# ---------------------------------------------------------------------------------------- access log


def test_the_access_log_gets_a_line_per_request_in_the_stage_format(cloud):
    client = cloud.http_api("shop", stage="prod")
    served = client.get("/items/9", source_ip="203.0.113.9")
    missing = client.get("/closed")
    group = cloud.physical_id("Access")
    events = cloud.client("logs").filter_log_events(logGroupName=group)["events"]
    lines = {json.loads(e["message"])["id"]: json.loads(e["message"]) for e in events}
    line = lines[served.header("apigw-requestid")]
    assert line["route"] == "GET /items/{id}" and line["status"] == "200" and line["ip"] == "203.0.113.9"
    assert line["error"] == "-" and line["nothing"] == "-" and line["latency"].isdigit()
    failed = lines[missing.header("apigw-requestid")]
    assert failed["status"] == "500" and failed["error"] == "Internal Server Error"


# ---------------------------------------------------------------------------------------- refusals


def test_a_run_past_the_integration_timeout_is_503(cloud):
    echo = cloud.function("Echo")
    echo.duration = 31.0
    try:
        response = cloud.http_api("shop", stage="$default").get("/items")
    finally:
        echo.duration = 0.0
    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})


@pytest.mark.parametrize(
    ("resource", "props", "why"),
    [
        ("Api", {"Name": "x", "ProtocolType": "GRPC"}, "ProtocolType must be HTTP or WEBSOCKET"),
        ("Api", {"Name": "x", "ProtocolType": "WEBSOCKET"}, "needs a RouteSelectionExpression"),
        ("Api", {"Name": "x", "ProtocolType": "HTTP", "Body": {}}, "OpenAPI Body is not supported"),
        ("Api", {"Name": "x", "ProtocolType": "HTTP", "Mystery": 1}, "property Mystery"),
        ("Route", {"RouteKey": "FETCH /items"}, "is not '\\$default' or 'METHOD /path'"),
        ("Route", {"RouteKey": "GET /{proxy+}/items"}, "greedy \\{proxy\\+\\} must be the last part"),
        ("Route", {"RouteKey": "GET /items"}, "already has a route 'GET /items'"),
        (
            "Route",
            {"RouteKey": "GET /x", "AuthorizationType": "JWT"},
            "needs the AuthorizerId of a JWT authorizer",
        ),
        ("Route", {"RouteKey": "GET /x", "Target": "integrations/nope"}, "names integration nope"),
        (
            "Integration",
            {"IntegrationType": "AWS_PROXY", "IntegrationUri": "arn:aws:lambda:us-east-1:1:function:f"},
            "PayloadFormatVersion",
        ),
        ("Integration", {"IntegrationType": "MOCK"}, "supports AWS_PROXY and HTTP_PROXY"),
        (
            "Integration",
            {"IntegrationType": "HTTP_PROXY", "IntegrationUri": "https://x", "TimeoutInMillis": 31000},
            "between 50 and 30000",
        ),
        (
            "Authorizer",
            {"AuthorizerType": "JWT", "Name": "j", "IdentitySource": ["$request.header.A"]},
            "needs JwtConfiguration",
        ),
        (
            "Authorizer",
            {
                "AuthorizerType": "REQUEST",
                "Name": "l",
                "AuthorizerUri": "arn:x",
                "AuthorizerPayloadFormatVersion": "1.0",
                "EnableSimpleResponses": True,
            },
            "needs AuthorizerPayloadFormatVersion 2.0",
        ),
        ("Stage", {"StageName": "prod"}, "already has a stage 'prod'"),
    ],
)
def test_what_aws_refuses_to_create_is_refused_naming_the_property(cloud, resource, props, why):
    from localcloud.services.apigatewayv2 import provision

    provisioner = {
        "Api": provision.api,
        "Route": provision.route,
        "Integration": provision.integration,
        "Authorizer": provision.authorizer,
        "Stage": provision.stage,
    }[resource]
    if resource != "Api":
        props = {"ApiId": cloud.outputs["ApiId"], **props}
    with pytest.raises(LocalCloudError, match=why):
        provisioner(cloud.kernel, f"Refused{resource}", props)


def test_quick_create_makes_the_route_integration_and_default_stage(cloud):
    from localcloud.services.apigatewayv2 import provision

    echo = cloud.function("Echo")
    made = provision.api(cloud.kernel, "Quick", {"Name": "quick", "ProtocolType": "HTTP", "Target": echo.arn})
    api = cloud.service("apigatewayv2").apis[made.physical_id]
    assert set(api.routes) == {"$default"} and set(api.stages) == {"$default"}
    [integration] = api.integrations.values()
    assert (integration.type, integration.payload_format_version, integration.uri) == (
        "AWS_PROXY",
        "2.0",
        echo.arn,
    )


# ---------------------------------------------------------------------------------------- custom domains


def test_a_custom_domain_routes_by_its_longest_matching_api_mapping(cloud):
    client = cloud.http_api(domain=DOMAIN)
    prod = event_of(client.get("/v1/shop/items/3"))
    assert prod["requestContext"]["stage"] == "prod" and prod["pathParameters"] == {"id": "3"}
    assert prod["requestContext"]["domainName"] == DOMAIN and prod["rawPath"] == "/v1/shop/items/3"
    root = event_of(client.get("/items/3"))
    assert root["requestContext"]["stage"] == "$default" and root["routeKey"] == "GET /items/{id}"


def test_a_host_header_naming_a_custom_domain_routes_by_it(cloud):
    from localcloud.lib.http import HttpRequest

    request = HttpRequest.build("GET", "/v1/shop/items/4", headers={"Host": f"{DOMAIN}:4580"})
    event = event_of(cloud.service("apigatewayv2").dispatch(cloud.outputs["ApiId"], request))
    assert event["requestContext"]["stage"] == "prod"


def test_a_path_no_mapping_serves_is_404(cloud):
    response = cloud.http_api(domain="keyed.example.com").get("/v2/items")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert cloud.http_api(domain="keyed.example.com").get("/v1/items").status_code == 200


def test_an_api_without_its_execute_api_endpoint_answers_only_on_its_domain(cloud):
    response = cloud.http_api("Hidden").get("/ping")
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert cloud.http_api(domain="keyed.example.com").get("/hidden/ping").status_code == 200
