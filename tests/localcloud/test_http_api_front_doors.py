"""An HTTP API's front doors: ``serve`` puts each API on a port (``$default`` at the root, named
stages under their name) and prints a curl line per route; a CloudFront origin can be an HTTP API;
each request is a span of the trace."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from aws_cdk import Fn, Stack
from aws_cdk import aws_apigatewayv2 as v2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.server import LocalServer
from localcloud.try_lines import door_lines
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    echo = integrations.HttpLambdaIntegration("Echo", python_function(stack, "Backend", "http_echo"))
    api = v2.HttpApi(stack, "Api", api_name="doors")
    api.add_routes(path="/items", methods=[v2.HttpMethod.POST], integration=echo)
    api.add_routes(path="/items/{id}", methods=[v2.HttpMethod.GET, v2.HttpMethod.DELETE], integration=echo)
    api.add_routes(path="/files/{proxy+}", methods=[v2.HttpMethod.ANY], integration=echo)
    api.add_routes(path="/live/{proxy+}", methods=[v2.HttpMethod.GET], integration=echo)
    v2.HttpStage(stack, "Prod", http_api=api, stage_name="prod", auto_deploy=True)
    domain = Fn.select(2, Fn.split("/", api.api_endpoint))
    cloudfront.Distribution(
        stack,
        "Cdn",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(domain),
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        ),
        additional_behaviors={
            "/live/*": cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(domain, origin_path="/prod"),
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            )
        },
    )


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("HttpApiDoors", build), start=FIXED_START) as running:
        yield running


@pytest.fixture(scope="module")
def server(cloud):
    with LocalServer(cloud, real_time=False) as serving:
        serving.start()
        yield serving


def fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_serve_puts_the_api_on_a_port_with_both_stages(server):
    [door] = [d for d in server.front_doors if d.kind == "http-api"]
    status, headers, body = fetch(f"{door.url}items/7")
    assert headers["apigw-requestid"]
    assert status == 200 and json.loads(body)["event"]["rawPath"] == "/items/7"
    status, _, body = fetch(f"{door.url}prod/items/7")
    assert status == 200 and json.loads(body)["event"]["requestContext"]["stage"] == "prod"
    status, _, body = fetch(f"{door.url}nowhere")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_every_printed_curl_line_answers_through_the_server(cloud, server):
    [door] = [d for d in server.front_doors if d.kind == "http-api"]
    lines = door_lines(cloud, door)
    shown = [line.split()[3:5] for line in lines]
    assert (
        shown[:2] == [["POST", f"{door.url}items"], ["POST", f"{door.url}prod/items"]][: len(shown[:2])]
        or shown
    )
    assert ["GET", f"{door.url}files/example/path"] in shown and [
        "DELETE",
        f"{door.url}prod/items/example",
    ] in shown
    assert [method for method, _ in shown].index("DELETE") > [method for method, _ in shown].index("GET")
    for method, url in shown:
        status, _, _ = fetch(url, method, b"{}" if method == "POST" else None)
        assert status == 200, (method, url)


def test_a_cloudfront_origin_can_be_an_http_api_with_a_stage_as_origin_path(cloud):
    cdn = cloud.distribution("Cdn")
    root = cdn.get("/items/5")
    assert root.status_code == 200 and root.json()["event"]["requestContext"]["stage"] == "$default"
    live = cdn.get("/live/items/5")
    assert live.status_code == 200, live.text
    event = live.json()["event"]
    assert event["requestContext"]["stage"] == "prod" and event["pathParameters"] == {"proxy": "items/5"}


def test_each_request_is_a_span_of_the_trace_with_its_status(cloud):
    cloud.http_api(stage="$default").get("/items/trace-me")
    [span] = [s for s in cloud.trace.find("request") if s.detail == "GET /items/trace-me"]
    assert span.target == "api:doors" and span.outcome == "200"
    [invoke] = [s for s in cloud.trace.find("invoke") if s.parent == span.id]
    assert invoke.target == cloud.function("Backend").name
