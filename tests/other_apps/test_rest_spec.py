"""The OpenAPI-defined orders API provisions and behaves: validation by its model, the Lambda
proxy writing to its table, its IP-restricting policy, and its custom domain's base path."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from localcloud.server import LocalServer
from localcloud.testing import cloud_for
from tests.other_apps.rest_spec.app import DOMAIN_NAME

pytestmark = pytest.mark.localcloud

STACK = "RestSpecOrdersStack"


@pytest.fixture(scope="module")
def cloud(other_apps):
    with cloud_for(other_apps, STACK) as running:
        yield running


def test_an_order_is_created_through_the_spec_and_read_back(cloud):
    api = cloud.api()
    created = api.post("/orders", json={"item": "tea", "quantity": 3})
    assert created.status_code == 201, created.text
    order = created.json()
    fetched = api.get(f"/orders/{order['id']}")
    assert fetched.json() == {"item": "tea", "quantity": 3, "id": order["id"]}
    assert api.get("/orders/unknown").status_code == 404


def test_the_request_model_refuses_a_bad_order_before_the_function_runs(cloud):
    invocations = len(cloud.trace.find("invoke"))
    for body in ({"item": "tea"}, {"item": "tea", "quantity": 0}, {"item": "tea", "quantity": 1, "extra": 1}):
        refused = cloud.api().post("/orders", json=body)
        assert (refused.status_code, refused.json()) == (400, {"message": "Invalid request body"}), body
    assert len(cloud.trace.find("invoke")) == invocations


def test_only_the_office_addresses_get_in(cloud):
    api = cloud.api()
    assert api.get("/orders/x", source_ip="198.51.100.20").status_code == 404
    outside = api.get("/orders/x", source_ip="203.0.113.7")
    assert outside.status_code == 403
    assert outside.json()["Message"].startswith(
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:"
    )
    assert outside.json()["Message"].endswith("/v1/GET/orders/x with an explicit deny")


def test_the_custom_domain_serves_the_api_under_its_base_path(cloud):
    domain = cloud.api(domain=DOMAIN_NAME)
    created = domain.post("/shop/orders", json={"item": "cake", "quantity": 1})
    assert created.status_code == 201, created.text
    assert domain.get(f"/shop/orders/{created.json()['id']}").json()["item"] == "cake"
    assert domain.get("/orders").status_code == 403
    attributes = cloud.kernel.resources[cloud.kernel.logical_id("CustomDomain")].attributes
    assert attributes["RegionalDomainName"].endswith(".execute-api.us-east-1.amazonaws.com")


def test_serve_offers_the_custom_domain_on_its_port_and_by_host_header(cloud):
    with LocalServer(cloud, port=0, real_time=False) as server:
        server.start()
        [door] = [d for d in server.front_doors if d.resource_id == DOMAIN_NAME]
        assert {(r.method, r.path) for r in cloud.apigateway.routes(door.resource_id)} == {
            ("POST", "/shop/orders"),
            ("GET", "/shop/orders/{orderId}"),
        }
        created = _post(f"{door.url}shop/orders", {"item": "jam", "quantity": 2})
        assert created["item"] == "jam"
        [stage] = [d for d in server.front_doors if d.base_path == "/v1"]
        by_host = _post(
            stage.url.removesuffix("v1/") + "shop/orders", {"item": "oil", "quantity": 1}, DOMAIN_NAME
        )
        assert by_host["item"] == "oil"


def _post(url: str, body: dict, host: str | None = None) -> dict:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": "application/json", **({"Host": host} if host else {})}
    try:
        connection.request("POST", parts.path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        assert response.status == 201
        return json.loads(response.read())
    finally:
        connection.close()
