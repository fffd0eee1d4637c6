"""What an HTTP API's parameter mappings read from a request: :class:`~localcloud.lib.parameter_mapping.Sources`
made from an :class:`HttpCall`, with the ``$context`` variables of its access log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.lib.parameter_mapping import Sources

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall


def context_of(call: HttpCall) -> dict[str, Any]:
    """``$context``: the request's facts, and what its authorizer established (a Lambda
    authorizer's context, a JWT's ``claims`` and ``scopes``, an IAM caller in ``identity``)."""
    authorizer: dict[str, Any] = {}
    for kind, found in (call.authorizer or {}).items():
        if kind == "lambda":
            authorizer.update(found or {})
        elif kind == "jwt":
            authorizer.update(claims=found.get("claims", {}), scopes=found.get("scopes"))
        else:
            authorizer[kind] = found
    identity: dict[str, Any] = {
        "sourceIp": call.request.source_ip,
        "userAgent": call.request.header("User-Agent") or "",
    }
    caller = (call.authorizer or {}).get("iam")
    if caller:
        identity.update(
            accessKey=caller["accessKey"],
            accountId=caller["accountId"],
            caller=caller["callerId"],
            user=caller["userId"],
            userArn=caller["userArn"],
        )
    return {
        "accountId": call.cloud.account,
        "apiId": call.api.id,
        "authorizer": authorizer,
        "domainName": call.domain_name,
        "domainPrefix": call.domain_name.split(".", 1)[0],
        "httpMethod": call.request.method,
        "identity": identity,
        "path": call.request.path,
        "protocol": "HTTP/1.1",
        "requestId": call.request_id,
        "requestTime": call.request_time(),
        "requestTimeEpoch": call.request_time_epoch(),
        "routeKey": call.route_key,
        "stage": call.stage.name,
    }


def sources_of(
    call: HttpCall, response_headers: dict[str, list[str]] | None = None, response_body: bytes = b""
) -> Sources:
    return Sources(
        headers=call.request.headers,
        query=call.request.query,
        path_parameters=call.path_parameters,
        path=call.request.path,
        body=call.request.body,
        context=context_of(call),
        stage_variables=call.stage.variables,
        response_headers=response_headers or {},
        response_body=response_body,
    )
