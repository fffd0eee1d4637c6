"""Hosting microservices offline: the domain stack and both service stacks in one local cloud, as one
account holds them. Each service answers under its base path through the one domain; a stack
left out (not deployed, or removed) takes only its own path with it."""

from __future__ import annotations

import pytest

from localcloud.core.clock import FIXED_START
from localcloud.testing import cloud_for_stacks
from patterns.registry import get

pytestmark = pytest.mark.e2e

DOMAIN = "api.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
PATTERN = get("hosting_microservices")
DOMAIN_STACK = PATTERN.stack_name
ORDERS, USERS = PATTERN.variant_stack_name("orders"), PATTERN.variant_stack_name("users")
PARAMETERS = {
    DOMAIN_STACK: {"DomainName": DOMAIN, "CertificateArn": CERTIFICATE},
    ORDERS: {"MountOnDomain": DOMAIN},
    USERS: {"MountOnDomain": DOMAIN},
}


def account(cloud_assembly, *stacks: str):
    return cloud_for_stacks(
        cloud_assembly.directory,
        stacks,
        parameters={stack: PARAMETERS[stack] for stack in stacks},
        start=FIXED_START,
    )


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with account(cloud_assembly, DOMAIN_STACK, ORDERS, USERS) as cloud:
        yield cloud


def test_each_service_answers_under_its_path_through_the_one_domain(cloud):
    domain = cloud.api(domain=DOMAIN)
    order = domain.post("/orders", json={"sku": "TEA-1", "quantity": 2})
    user = domain.post("/users", json={"name": "Ada", "email": "ada@example.com"})
    assert (order.status_code, user.status_code) == (201, 201)
    assert domain.get(f"/orders/{order.json()['id']}").json()["sku"] == "TEA-1"
    assert domain.get(f"/users/{user.json()['id']}").json()["email"] == "ada@example.com"
    assert domain.get(f"/users/{order.json()['id']}").status_code == 404, "each service reads its own table"
