"""Hosting microservices, one stack at a time as each deploys: the domain alone serves no path until a
service mounts itself; each service stack alone answers on its own API URL, its own table behind it.
(All three in one account, each under its path through the domain: tests/e2e/test_hosting_microservices.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from scenarios import Show

DOMAIN = "api.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


@contextlib.contextmanager
def parameters() -> Iterator[dict[str, str]]:
    """The domain stack's name and certificate; a service stack has neither, so deploys unmounted."""
    yield {"DomainName": DOMAIN, "CertificateArn": CERTIFICATE}


def run(show: Show) -> None:
    domain = show.cloud.client("apigateway").get_domain_name(domainName=DOMAIN)
    show.equal("the domain is regional", domain["endpointConfiguration"]["types"], ["REGIONAL"])
    show.equal("the domain allows TLS 1.2 and later only", domain.get("securityPolicy"), "TLS_1_2")
    show.equal("the domain uses the certificate given", domain.get("regionalCertificateArn"), CERTIFICATE)
    show.equal(
        "DNS points at the domain's regional target",
        show.cloud.outputs["AliasTarget"],
        domain["regionalDomainName"],
    )
    answer = show.cloud.api(domain=DOMAIN).get("/orders/1")
    show.equal(
        "with no service mounted a path is API Gateway's 403",
        (answer.status, answer.json()),
        (403, {"message": "Forbidden"}),
    )


def _service(show: Show, collection: str, good: dict, bad: dict, problem: str) -> None:
    api = show.cloud.api(f"{collection}-service")
    created = api.post("/", json=good)
    show.equal(f"the {collection} service, deployed alone, creates on its own API URL", created.status, 201)
    found = api.get(f"/{created.json().get('id', 'none')}")
    show.equal("and reads it back from its own table", (found.status, found.json()), (200, created.json()))
    refused = api.post("/", json=bad)
    show.that(
        "a bad body is API Gateway's 400 naming the field, before any code runs",
        refused.status == 400 and problem in refused.json().get("message", ""),
        f"{refused.status} {refused.text}",
    )
    show.equal("an unknown id is a 404", api.get("/no-such-id").status, 404)
    show.equal(
        "unmounted: no base-path mapping in the stack",
        show.cloud.client("apigateway").get_domain_names()["items"],
        [],
    )


def run_orders(show: Show) -> None:
    _service(
        show,
        "orders",
        {"sku": "TEA-1", "quantity": 2},
        {"sku": "TEA-1", "quantity": 0},
        "quantity",
    )


def run_users(show: Show) -> None:
    _service(
        show,
        "users",
        {"name": "Ada", "email": "ada@example.com"},
        {"name": "Ada", "email": "ada"},
        "email",
    )
