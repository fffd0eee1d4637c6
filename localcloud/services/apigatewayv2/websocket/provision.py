"""The ``AWS::ApiGatewayV2::*`` resources of a WebSocket API, read into :mod:`.model`.

Ids are generated as API Gateway's look (10 lowercase characters for an API, 7 for the rest), the
same every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import Unsupported
from localcloud.services.apigatewayv2.websocket import model

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

NAME = model.SERVICE_NAME


def _websockets(kernel: Kernel) -> Any:
    return kernel.service(NAME)


def _api(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> model.WebSocketApi:
    api = _websockets(kernel).apis.get(str(props.get("ApiId")))
    if api is None:
        raise Unsupported(logical_id, f"ApiId {props.get('ApiId')}", "it names no WebSocket API of the stack")
    return api


@provisions("AWS::ApiGatewayV2::Api")
def provision_api(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    if props.get("ProtocolType") != "WEBSOCKET":
        raise Unsupported(logical_id, f"ApiGatewayV2 ProtocolType {props.get('ProtocolType')}")
    api_id = kernel.short_id(logical_id)
    api = model.WebSocketApi(
        api_id, logical_id, str(props.get("Name", logical_id)), str(props.get("RouteSelectionExpression", ""))
    )
    _websockets(kernel).apis[api_id] = api
    endpoint = f"wss://{api_id}.execute-api.{kernel.region}.amazonaws.com"
    return Provisioned(api_id, {"ApiId": api_id, "ApiEndpoint": endpoint})


@provisions("AWS::ApiGatewayV2::Integration")
def provision_integration(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    api = _api(kernel, logical_id, props)
    integration_id = kernel.short_id(logical_id, 7)
    api.integrations[integration_id] = model.integration(logical_id, integration_id, props)
    return Provisioned(integration_id, {"IntegrationId": integration_id})


@provisions("AWS::ApiGatewayV2::Authorizer")
def provision_authorizer(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    api = _api(kernel, logical_id, props)
    authorizer_id = kernel.short_id(logical_id, 6)
    api.authorizers[authorizer_id] = model.authorizer(logical_id, authorizer_id, props)
    return Provisioned(authorizer_id, {"AuthorizerId": authorizer_id})


@provisions("AWS::ApiGatewayV2::Route")
def provision_route(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    api = _api(kernel, logical_id, props)
    if props.get("AuthorizationType") not in (None, "NONE", "CUSTOM"):
        raise Unsupported(logical_id, f"WebSocket route AuthorizationType {props['AuthorizationType']}")
    if props.get("AuthorizationType") == "CUSTOM" and props.get("RouteKey") != "$connect":
        raise Unsupported(
            logical_id, "an authorizer on a route other than $connect", "AWS allows it on $connect only"
        )
    route_id = kernel.short_id(logical_id, 7)
    api.routes[str(props["RouteKey"])] = model.route(route_id, props)
    return Provisioned(route_id, {"RouteId": route_id})


@provisions("AWS::ApiGatewayV2::RouteResponse")
def provision_route_response(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    _api(kernel, logical_id, props)
    if props.get("RouteResponseKey") != "$default":
        raise Unsupported(
            logical_id, f"RouteResponseKey {props.get('RouteResponseKey')}", "only $default is served"
        )
    return Provisioned(kernel.short_id(logical_id, 6))


@provisions("AWS::ApiGatewayV2::Stage")
def provision_stage(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    api = _api(kernel, logical_id, props)
    name = str(props["StageName"])
    api.stages[name] = {k: str(v) for k, v in (props.get("StageVariables") or {}).items()}
    return Provisioned(name)


@provisions("AWS::ApiGatewayV2::Deployment")
def provision_deployment(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    _api(kernel, logical_id, props)
    return Provisioned(kernel.short_id(logical_id, 6))
