"""An HTTP API route's integration, chosen by its type through one table.

``integrate(call)`` runs the route's integration: ``INTEGRATIONS[type](call, integration)``. Each
entry answers the request (an ``HttpResponse``) or raises :class:`Refusal`. A type without an
entry is a 500 naming it (:class:`UnsupportedIntegration`). Lambda proxies (``AWS_PROXY`` without
a subtype) are in :mod:`.lambda_proxy`; ``AWS_PROXY`` with an ``IntegrationSubtype`` is an AWS
service integration, dispatched by ``SUBTYPES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from localcloud.services.apigatewayv2 import service_integrations
from localcloud.services.apigatewayv2.answers import INTERNAL_SERVER_ERROR, Refusal, UnsupportedIntegration
from localcloud.services.apigatewayv2.http_proxy import http_proxy
from localcloud.services.apigatewayv2.lambda_proxy import lambda_proxy

if TYPE_CHECKING:
    from localcloud.lib.http import HttpResponse
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Integration

Handler = Callable[["HttpCall", "Integration"], "HttpResponse"]


def _aws_proxy(call: HttpCall, integration: Integration) -> HttpResponse:
    if integration.subtype is None:
        return lambda_proxy(call, integration)
    handler = SUBTYPES.get(integration.subtype)
    if handler is None:
        raise UnsupportedIntegration(f"AWS service integration subtype {integration.subtype}")
    return handler(call, integration)


INTEGRATIONS: dict[str, Handler] = {"AWS_PROXY": _aws_proxy, "HTTP_PROXY": http_proxy}
"""Integration type -> what serves it."""
SUBTYPES: dict[str, Handler] = {**service_integrations.HANDLERS}
"""``IntegrationSubtype`` (``SQS-SendMessage``...) -> what serves that AWS service integration."""


def integrate(call: HttpCall) -> HttpResponse:
    """The route's integration's answer to ``call``."""
    assert call.route is not None
    if call.route.integration_id is None:
        raise Refusal(INTERNAL_SERVER_ERROR, f"route {call.route.key} of {call.api.name} has no integration")
    integration = call.api.integrations[call.route.integration_id]
    handler = INTEGRATIONS.get(integration.type)
    if handler is None:
        raise UnsupportedIntegration(f"{integration.type} integration {integration.logical_id}")
    return handler(call, integration)
