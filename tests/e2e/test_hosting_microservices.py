"""Hosting microservices offline: the domain stack and both service stacks in one local cloud, as one
account holds them. Each service answers under its base path through the one domain; a stack left
out (not deployed, or removed) takes only its own path with it; a path no service is mounted on is
API Gateway's 403."""

from __future__ import annotations

import pytest

from localcloud.core.clock import FIXED_START
from localcloud.errors import ApiGatewayError
from localcloud.lib.http import HttpRequest
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


@pytest.fixture(scope="module")
def account(cloud_assembly):
    """``account(*stacks)``: a running cloud holding those stacks; the one before it stops first (one
    cloud runs at a time), and asking for the same stacks again gives the same cloud."""
    running = {}

    def start(*stacks: str):
        if stacks not in running:
            for cloud in running.values():
                cloud.stop()
            running.clear()
            parameters = {stack: PARAMETERS[stack] for stack in stacks}
            cloud = cloud_for_stacks(
                cloud_assembly.directory, stacks, parameters=parameters, start=FIXED_START
            )
            cloud.start()
            running[stacks] = cloud
        return running[stacks]

    yield start
    for cloud in running.values():
        cloud.stop()


@pytest.fixture
def cloud(account):
    return account(DOMAIN_STACK, ORDERS, USERS)


def test_each_service_answers_under_its_path_through_the_one_domain(cloud):
    domain = cloud.api(domain=DOMAIN)
    order = domain.post("/orders", json={"sku": "TEA-1", "quantity": 2})
    user = domain.post("/users", json={"name": "Ada", "email": "ada@example.com"})
    assert (order.status_code, user.status_code) == (201, 201)
    assert domain.get(f"/orders/{order.json()['id']}").json() == order.json()
    assert domain.get(f"/users/{user.json()['id']}").json()["email"] == "ada@example.com"
    assert domain.get(f"/users/{order.json()['id']}").status_code == 404, "each service reads its own table"
    table = cloud.outputs["HostingMicroservicesOrdersStackTableName"]
    assert table.startswith(f"{ORDERS}-PatternTable"), "names as the orders stack alone would make them"
    assert cloud.client("dynamodb").get_item(TableName=table, Key={"id": {"S": order.json()["id"]}})["Item"]
    served = {span.target for span in cloud.trace.find("invoke")}
    assert len(served) == 2, f"each service's own function answered: {served}"


def test_the_domain_routes_by_host_header_as_serve_does(cloud):
    """``serve`` hands every request to the gateway; the Host header picks the domain."""
    request = HttpRequest.build(
        "POST",
        "/users",
        headers={"Host": f"{DOMAIN}:4566"},
        body=b'{"name": "Bo", "email": "bo@example.com"}',
    )
    assert cloud.apigateway.dispatch("", request).status == 201


def test_bad_input_is_a_4xx_naming_the_field_through_the_domain(cloud):
    domain = cloud.api(domain=DOMAIN)
    invocations = len(cloud.trace.find("invoke"))
    refused = domain.post("/orders", json={"sku": "", "quantity": 0})
    assert refused.status_code == 400
    assert "sku" in refused.json()["message"] and "quantity" in refused.json()["message"]
    email = domain.post("/users", json={"name": "Cy", "email": "not-an-address"})
    assert email.status_code == 400 and "email" in email.json()["message"]
    assert len(cloud.trace.find("invoke")) == invocations, "the service's model refused them: no invocation"
    unmodelled = domain.post(
        "/orders", body='{"sku": "", "quantity": 0}', headers={"Content-Type": "text/plain"}
    )
    assert (unmodelled.status_code, unmodelled.json()["message"]) == (
        400,
        "sku: shorter than 1; quantity: less than 1",
    )
    assert domain.get("/orders/no-such-order").json() == {
        "statusCode": 404,
        "message": "order no-such-order not found",
    }


def test_a_path_no_service_is_mounted_on_is_api_gateways_403(cloud):
    invocations = len(cloud.trace.find("invoke"))
    for path in ("/payments/1", "/", "/ordersx", "/Orders/1"):
        answer = cloud.api(domain=DOMAIN).get(path)
        assert (answer.status_code, answer.json()) == (403, {"message": "Forbidden"}), path
    assert len(cloud.trace.find("invoke")) == invocations


def test_each_service_also_answers_on_its_own_api_url(cloud):
    """The same function behind its stage URL, without the base path: the service does not know its mount."""
    orders = cloud.api("orders-service")
    created = orders.post("/", json={"sku": "MUG-2", "quantity": 1})
    assert created.status_code == 201
    assert cloud.api(domain=DOMAIN).get(f"/orders/{created.json()['id']}").json()["sku"] == "MUG-2"


def test_removing_a_service_stack_leaves_the_others_serving(account):
    cloud = account(DOMAIN_STACK, USERS)
    domain = cloud.api(domain=DOMAIN)
    assert domain.post("/users", json={"name": "Di", "email": "di@example.com"}).status_code == 201
    assert (domain.get("/orders/1").status_code, domain.get("/orders/1").json()) == (
        403,
        {"message": "Forbidden"},
    )


def test_a_service_mounted_on_a_domain_not_deployed_is_refused(account):
    cloud = account(ORDERS)
    with pytest.raises(ApiGatewayError, match="Invalid domain name identifier specified"):
        cloud.api("orders-service").get("/1")


def test_serve_takes_the_stacks_side_by_side_and_its_try_lines_work_through_the_domain(cloud_assembly, cloud):
    from localcloud.__main__ import served_artifact
    from localcloud.server import LocalServer
    from localcloud.try_lines import door_lines
    from tests.e2e.test_try_lines import curl_request, curl_words

    stacks = (DOMAIN_STACK, ORDERS, USERS)
    pairs = [f"{stack}.{name}={value}" for stack in stacks for name, value in PARAMETERS[stack].items()]
    artifact, parameters = served_artifact(cloud_assembly.directory, ",".join(stacks), pairs)
    assert artifact.template == cloud.artifact.template
    assert parameters == {
        "HostingMicroservicesStackDomainName": DOMAIN,
        "HostingMicroservicesStackCertificateArn": CERTIFICATE,
        "HostingMicroservicesOrdersStackMountOnDomain": DOMAIN,
        "HostingMicroservicesUsersStackMountOnDomain": DOMAIN,
    }
    with pytest.raises(LookupError, match=r"name it STACK\.NAME"):
        served_artifact(cloud_assembly.directory, ",".join(stacks), ["MountOnDomain=api.example.com"])
    with LocalServer(cloud, port=0, real_time=False) as server:
        [door] = [d for d in server.front_doors if d.resource_id == DOMAIN]
        lines = door_lines(cloud, door)
        assert {line.split()[4].removeprefix(door.url.rstrip("/")) for line in lines} == {
            "/orders",
            "/orders/example",
            "/users",
            "/users/example",
        }
        for line in lines:
            answer = door.dispatch(curl_request(curl_words(line, {})))
            assert answer.status in (201, 404), f"{line}: {answer.status} {answer.body[:200]}"
