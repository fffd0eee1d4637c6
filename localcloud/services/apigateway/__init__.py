"""API Gateway REST APIs served offline, from the synthesized template.

``cloud.api()`` gives a test client for a stage; ``cloud.apigateway.dispatch(api_id, request)`` is
the entry the localhost server and CloudFront's API origins use. See ``docs/localcloud.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.front_doors import FrontDoor, bind
from localcloud.core.service import Service
from localcloud.services.apigateway import control, provision
from localcloud.services.apigateway.client import ApiClient
from localcloud.services.apigateway.gateway import ApiEndpoint, ApiGateway, Route

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

__all__ = ["SERVICE", "ApiClient", "ApiEndpoint", "ApiGateway", "Route"]


def _front_doors(kernel: Kernel) -> list[FrontDoor]:
    """Each stage of each REST API, at the path its deployed URL has (``/prod``)."""
    gateway: ApiGateway = kernel.service("apigateway")
    stages = [
        FrontDoor(
            "api",
            f"{endpoint.logical_id} ({endpoint.api_id}) stage {stage}",
            "",
            bind(gateway.dispatch, endpoint.api_id),
            endpoint.api_id,
            base_path=f"/{stage}",
        )
        for endpoint in gateway.endpoints()
        for stage in endpoint.stages
    ]
    domains = [
        FrontDoor(
            "api", f"custom domain {domain.name}", "", bind(gateway.dispatch_domain, domain.name), domain.name
        )
        for domain in gateway.account.domains.values()
        if domain.mappings  # a domain nothing is mounted on answers every path 403: nothing to try
    ]
    return stages + domains


SERVICE = Service.of(
    "apigateway",
    provision,
    state=ApiGateway,
    front_doors=_front_doors,
    answers={"apigateway": control.answer},
)
