"""API Gateway v2: HTTP APIs served offline from the synthesized template; WebSocket APIs share
its model (``AWS::ApiGatewayV2::*`` is one set of resource types for both protocols).

``cloud.http_api()`` gives a test client of an HTTP API's stage; ``dispatch(api_id, request)`` is
the entry the localhost server uses. Integrations are chosen by type in
:mod:`.integrations` (``INTEGRATIONS``), route authorization by type in :mod:`.authorizers`
(``AUTHORIZATIONS``). See ``docs/localcloud.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.front_doors import FrontDoor, bind
from localcloud.core.service import Service
from localcloud.services.apigatewayv2 import provision
from localcloud.services.apigatewayv2.client import HttpApiClient
from localcloud.services.apigatewayv2.gateway import ApiGatewayV2

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

__all__ = ["SERVICE", "ApiGatewayV2", "HttpApiClient"]


def _front_doors(kernel: Kernel) -> list[FrontDoor]:
    """Each HTTP API, once: its ``$default`` stage at the root, its named stages under ``/{stage}``;
    each custom domain mapping an HTTP API, its paths starting with the mapping's key."""
    gateway: ApiGatewayV2 = kernel.service("apigatewayv2")
    return [
        FrontDoor(
            "http-api",
            f"{api.logical_id} ({api.id}) HTTP API, stages {', '.join(sorted(api.stages)) or 'none'}",
            "",
            bind(gateway.dispatch, api.id),
            api.id,
        )
        for api in gateway.http_apis()
    ] + [
        FrontDoor(
            "http-api-domain",
            f"{domain.name} custom domain of HTTP APIs",
            "",
            bind(gateway.dispatch_domain, domain.name),
            domain.name,
        )
        for domain in gateway.domains.values()
        if any(gateway.apis[m.api_id].protocol == "HTTP" for m in domain.mappings)
    ]


SERVICE = Service.of("apigatewayv2", provision, state=ApiGatewayV2, front_doors=_front_doors)
