"""The OpenAPI-defined orders API provisions and behaves: validation by its model, the Lambda
proxy writing to its table, its IP-restricting policy, and its custom domain's base path."""

from __future__ import annotations

import pytest

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
