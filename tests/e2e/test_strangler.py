"""The strangler facade offline, in front of a real (small) legacy server on localhost: the migrated
route is answered by Lambda, every other request by the legacy server, passed through unchanged."""

from __future__ import annotations

import http.client
import json

import pytest

from localcloud.lib.http import HttpRequest
from localcloud.server import LocalServer
from patterns.defaults import SecureDefaultOverridden
from patterns.strangler import PATH_TRAVERSAL_RULE
from scenarios.strangler import SERVED_BY, LegacyServer

pytestmark = pytest.mark.e2e

TEAPOT = {"id": "p-1", "name": "teapot", "price_cents": 1800}


@pytest.fixture
def legacy():
    with LegacyServer() as server:
        yield server


def facade_parameters(legacy: LegacyServer) -> dict[str, str]:
    return {"LegacyApiScheme": "http", "LegacyApiHost": legacy.host}


def with_products(cloud):
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["ProductsTableName"],
        Item={"id": {"S": "p-1"}, "name": {"S": "teapot"}, "price_cents": {"N": "1800"}},
    )
    return cloud


@pytest.fixture
def cloud(local_cloud, legacy):
    return with_products(local_cloud("strangler", parameters=facade_parameters(legacy)))


def new_service_runs(cloud) -> int:
    name = cloud.function("Pattern/ProductsFunction").name
    return len([s for s in cloud.trace.find(kind="invoke") if s.target == name])


def test_the_migrated_route_is_answered_by_lambda_and_never_reaches_the_legacy_server(cloud, legacy):
    answer = cloud.api().get("/products/p-1")
    assert (answer.status, answer.json()) == (200, TEAPOT)
    missing = cloud.api().get("/products/p-9")
    assert (missing.status, missing.json()["message"]) == (404, "product p-9 not found")
    assert legacy.requests == []
    assert new_service_runs(cloud) == 2
    assert cloud.outputs["LegacyUrl"] == f"http://{legacy.host}"


def test_every_other_route_reaches_the_legacy_server_with_method_path_query_and_body_unchanged(cloud, legacy):
    body = '{"sku": "p-1", "quantity": 2, "note": "caf\\u00e9 & tea"}'
    answer = cloud.api().put(
        "/orders/o-7",
        body=body,
        query={"channel": "web", "tag": ["a", "b"]},
        headers={
            "Content-Type": "application/json",
            "Authorization": "Legacy s3cret",
            "X-Request-Tag": "t-1",
        },
    )
    assert answer.status == 200 and answer.header("Content-Type") == "application/json"
    [seen] = legacy.requests
    assert answer.json() == seen, "the legacy answer comes back as it was sent"
    assert (seen["served_by"], seen["method"], seen["path"]) == (SERVED_BY, "PUT", "/orders/o-7")
    assert seen["query"] == "channel=web&tag=a&tag=b"
    assert seen["body"] == body and json.loads(seen["body"])["note"] == "café & tea"
    assert seen["headers"]["authorization"] == "Legacy s3cret"
    assert seen["headers"]["x-request-tag"] == "t-1"
    assert new_service_runs(cloud) == 0


def test_a_served_legacy_answer_carries_one_date_and_one_server_header_as_api_gateway_remaps_them(
    cloud, legacy
):
    """API Gateway sends its own Date and passes the backend's as x-amzn-Remapped-Date (Server too)."""
    answer = cloud.api().get("/orders/o-1")
    assert answer.status == 200
    assert answer.header("Date") is None and answer.header("Server") is None
    assert answer.header("x-amzn-Remapped-Date") and answer.header("x-amzn-Remapped-Server").startswith(
        "BaseHTTP"
    )
    with LocalServer(cloud, real_time=False) as server:
        server.start()
        port = int(server.front_doors[0].url.split(":")[2].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/prod/orders/o-1")
        headers = [name.lower() for name, _ in connection.getresponse().getheaders()]
        connection.close()
    assert (headers.count("date"), headers.count("server"), headers.count("x-amzn-remapped-date")) == (
        1,
        1,
        1,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/products/p-1"),  # another method of the migrated resource
        ("POST", "/products/p-1"),
        ("GET", "/products"),  # the migrated route's parent
        ("GET", "/products/p-1/reviews"),  # below the migrated route
        ("PATCH", "/products/p-1/reviews/9"),
        ("GET", "/"),
        ("OPTIONS", "/customers/c-1"),
    ],
)
def test_requests_next_to_the_migrated_route_still_reach_the_legacy_server(cloud, legacy, method, path):
    answer = cloud.api().request(method, path, query={"page": "2"})
    assert answer.status == 200
    [seen] = legacy.requests
    assert (seen["method"], seen["path"], seen["query"]) == (method, path, "page=2")
    assert new_service_runs(cloud) == 0


def test_the_legacy_server_is_told_the_clients_address_and_cannot_be_fed_a_spoofed_one(cloud, legacy):
    client = cloud.api()
    request = HttpRequest.build("GET", f"/{client.stage}/orders", headers={"x-forwarded-for": "10.0.0.1"})
    request.source_ip = "198.51.100.7"
    assert client.gateway.dispatch(client.api_id, request).status == 200
    assert cloud.api().get("/customers/c-1").status == 200
    assert [seen["headers"]["x-forwarded-for"] for seen in legacy.requests] == ["198.51.100.7", "127.0.0.1"]


#: Dot segments, raw and encoded, and the path each would reach the legacy server as.
TRAVERSALS = {
    "/products/p-1/%2e%2e/%2e%2e/admin": "/products/p-1/../../admin",  # escapes the legacy base path
    "/orders/%2E%2E": "/orders/..",
    "/orders/../admin": "/orders/../admin",
    "/orders/a%2F..%2Fadmin": "/orders/a/../admin",
    "/./orders": "/./orders",
}


@pytest.mark.parametrize("path", TRAVERSALS)
def test_dot_segments_are_blocked_by_the_stages_web_acl_and_never_reach_the_legacy_server(
    cloud, legacy, path
):
    answer = cloud.api().get(path)
    assert (answer.status, answer.json()) == (403, {"message": "Forbidden"})
    assert legacy.requests == [] and new_service_runs(cloud) == 0
    [blocked] = cloud.trace.find("waf", outcome="blocked")
    assert blocked.data["rule"] == PATH_TRAVERSAL_RULE


def test_names_with_dots_that_are_not_dot_segments_still_reach_the_legacy_server(cloud, legacy):
    for path in ("/files/v1.2/..hidden", "/.well-known/x", "/orders/a..b/c."):
        assert cloud.api().get(path).status == 200
    assert [seen["path"] for seen in legacy.requests] == [
        "/files/v1.2/..hidden",
        "/.well-known/x",
        "/orders/a..b/c.",
    ]


def test_without_the_web_acl_the_traversal_reaches_the_legacy_server(pattern_variant, run, legacy):
    """What the web ACL is for: API Gateway decodes the path parameter and forwards the dot segments."""
    with pytest.warns(SecureDefaultOverridden, match="block_path_traversal=False"):
        stack = pattern_variant("strangler", "StranglerNoWaf", block_path_traversal=False)
    cloud = run(stack, parameters=facade_parameters(legacy))
    for path in TRAVERSALS:
        assert cloud.api().get(path).status == 200
    assert [seen["path"] for seen in legacy.requests] == list(TRAVERSALS.values())
    assert cloud.trace.find("waf") == []


def test_when_the_legacy_server_is_down_legacy_routes_fail_and_the_migrated_route_still_answers(
    cloud, legacy
):
    legacy.stop()
    down = cloud.api().get("/orders")
    assert 500 <= down.status < 600, down.text
    assert cloud.api().get("/products/p-1").json() == TEAPOT


def test_moving_one_more_route_is_one_line_and_leaves_its_other_methods_on_the_legacy_server(
    pattern_variant, run, legacy
):
    stack = pattern_variant(
        "strangler",
        "StranglerTwoRoutes",
        migrated_routes={
            "GET /products/{id}": "products.handler",
            "GET /products": "products.handler",  # the one new line
        },
    )
    cloud = with_products(run(stack, parameters=facade_parameters(legacy)))
    listed = cloud.api().get("/products")
    assert (listed.status, listed.json()) == (200, {"products": [TEAPOT], "truncated": False})
    assert legacy.requests == []
    assert cloud.api().post("/products", json={"name": "cup"}).json()["method"] == "POST"
    assert [r["path"] for r in legacy.requests] == ["/products"]
