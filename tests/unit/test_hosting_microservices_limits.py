"""The orders and users services' schema limits at their edge and one past (the API's models say the
same), and an event routed by its resource alone: a call with no resource is the root."""

from __future__ import annotations

import boto3
import pytest

from tests.unit import test_hosting_microservices as base
from tests.unit.test_hosting_microservices import call

pytestmark = pytest.mark.unit

services = base.services  # the row's fixture: both tables, both services

ADDRESS_OF_254 = "a" * 64 + "@" + "b" * 186 + ".io"
EDGES = [
    ("orders", {"sku": "T", "quantity": 1}, None),
    ("orders", {"sku": "", "quantity": 1}, "sku: shorter than 1"),
    ("orders", {"sku": "T" * 64, "quantity": 1000}, None),
    ("orders", {"sku": "T" * 65, "quantity": 1}, "sku: longer than 64"),
    ("orders", {"sku": "T", "quantity": 0}, "quantity: less than 1"),
    ("users", {"name": "A", "email": "a@b.io"}, None),
    ("users", {"name": "A" * 100, "email": ADDRESS_OF_254}, None),
    ("users", {"name": "A" * 101, "email": "a@b.io"}, "name: longer than 100"),
    ("users", {"name": "A", "email": "a" + ADDRESS_OF_254}, "email: longer than 254"),
]


def test_each_limit_holds_at_its_edge_and_one_past(services, lambda_context):
    assert len(ADDRESS_OF_254) == 254
    created = {"orders": 0, "users": 0}
    for service, body, refusal in EDGES:
        status, answer = call(
            services[service], lambda_context, "POST", f"/{service}", resource="/", body=body
        )
        if refusal is None:
            assert status == 201 and {k: answer[k] for k in body} == body, body
            created[service] += 1
        else:
            assert (status, answer["message"]) == (400, refusal), body
    for service, count in created.items():
        assert boto3.client("dynamodb").scan(TableName=service)["Count"] == count


def test_an_event_without_a_resource_is_routed_as_the_root(services, lambda_context):
    from tests.events import api_event

    event = api_event("POST", "/orders/", body={"sku": "TEA", "quantity": 2})
    event["resource"] = None
    answer = services["orders"].handler(event, lambda_context)
    assert answer["statusCode"] == 201


def test_an_unknown_order_is_a_404_naming_it(services, lambda_context):
    status, answer = call(
        services["orders"], lambda_context, "GET", "/orders/o-9", resource="/{id}", item_id="o-9"
    )
    assert (status, answer["message"]) == (404, "order o-9 not found")
