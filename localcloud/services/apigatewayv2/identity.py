"""An authorizer's identity sources, read from the request: ``$request.header.Authorization``,
``$request.querystring.token``, ``$context.requestId``, ``$stageVariables.x``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall


def identity_values(call: HttpCall, sources: list[str]) -> list[str] | None:
    """Each source's value (several values of one joined with commas); None when one is missing
    or empty, which API Gateway answers with 401 without running the authorizer."""
    values = []
    for source in sources:
        value = _value(call, source)
        if not value:
            return None
        values.append(value)
    return values


def _value(call: HttpCall, source: str) -> str | None:
    if source.startswith("$request.header."):
        return call.header(source.removeprefix("$request.header."))
    if source.startswith("$request.querystring."):
        found = call.request.query.get(source.removeprefix("$request.querystring."))
        return ",".join(found) if found else None
    if source.startswith("$stageVariables."):
        return call.stage.variables.get(source.removeprefix("$stageVariables."))
    if source.startswith("$context."):
        context = {
            "requestId": call.request_id,
            "routeKey": call.route_key,
            "stage": call.stage.name,
            "domainName": call.domain_name,
            "apiId": call.api.id,
            "httpMethod": call.request.method,
            "path": call.request.path,
            "identity.sourceIp": call.request.source_ip,
        }
        return context.get(source.removeprefix("$context."))
    return None
