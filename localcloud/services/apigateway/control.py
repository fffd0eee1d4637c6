"""API Gateway's read calls (``aws apigateway get-rest-apis``, ``get-api-keys``...), answered from the
APIs the local cloud serves, with the ids it routes by.

moto's own API Gateway is never used (its import needs ``openapi_spec_validator``, and it would
hold none of these APIs), so every ``apigateway`` call lands here: the reads below are answered,
any other call is refused with ``BadRequestException`` naming it, since the APIs come from the
template and are not changed by calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.services.apigateway.routing import methods_of

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall
    from localcloud.services.apigateway.gateway import ApiGateway
    from localcloud.services.apigateway.model import RestApi


def answer(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    gateway: ApiGateway = kernel.service("apigateway")
    handler = _READS.get(call.operation)
    if handler is None:
        return _refused(
            400,
            "BadRequestException",
            f"apigateway {call.operation} is not answered offline: the local cloud serves the REST APIs "
            "of the template and answers only their reads (GetRestApis, GetRestApi, GetResources, GetStages, "
            "GetStage, GetApiKeys, GetApiKey, GetDomainNames, GetDomainName, GetBasePathMappings)",
        )
    return handler(gateway, call.params)


def _refused(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def _ok(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _created(gateway: ApiGateway) -> datetime:
    return gateway.cloud.clock.now()


def _api(gateway: ApiGateway, params: dict[str, Any]) -> RestApi | tuple[int, dict[str, Any]]:
    api = gateway.account.apis.get(params.get("restApiId", ""))
    if api is None:
        return _refused(404, "NotFoundException", "Invalid API identifier specified")
    return api


def _rest_api(gateway: ApiGateway, api: RestApi) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": api.id,
        "name": api.name,
        "createdDate": _created(gateway),
        "apiKeySource": api.api_key_source,
        "endpointConfiguration": {"types": list(api.endpoint_types)},
        "disableExecuteApiEndpoint": not api.default_endpoint,
        "rootResourceId": api.root.id,
    }
    if api.binary_media_types:
        shown["binaryMediaTypes"] = list(api.binary_media_types)
    if api.vpc_endpoint_ids:
        shown["endpointConfiguration"]["vpcEndpointIds"] = list(api.vpc_endpoint_ids)
    if api.policy is not None:
        shown["policy"] = json.dumps(api.policy)
    return shown


def _get_rest_apis(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return _ok({"items": [_rest_api(gateway, api) for api in gateway.account.apis.values()]})


def _get_rest_api(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    api = _api(gateway, params)
    return api if isinstance(api, tuple) else _ok(_rest_api(gateway, api))


def _get_resources(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    api = _api(gateway, params)
    if isinstance(api, tuple):
        return api
    methods: dict[str, dict[str, Any]] = {}
    for method in methods_of(api.root):
        methods.setdefault(method.resource.id, {})[method.http_method] = {
            "httpMethod": method.http_method,
            "authorizationType": method.authorization_type,
            "apiKeyRequired": method.api_key_required,
        }
    items = []
    for resource in sorted(api.resources.values(), key=lambda r: r.path):
        item: dict[str, Any] = {"id": resource.id, "path": resource.path}
        if resource.parent_id is not None:
            item.update(parentId=resource.parent_id, pathPart=resource.path_part)
        if resource.id in methods:
            item["resourceMethods"] = methods[resource.id]
        items.append(item)
    return _ok({"items": items})


def _stage(gateway: ApiGateway, name: str, api: RestApi) -> dict[str, Any]:
    stage = api.stages[name]
    return {
        "stageName": stage.name,
        "deploymentId": stage.deployment_id,
        "variables": dict(stage.variables),
        "createdDate": _created(gateway),
    }


def _get_stages(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    api = _api(gateway, params)
    if isinstance(api, tuple):
        return api
    return _ok({"item": [_stage(gateway, name, api) for name in sorted(api.stages)]})


def _get_stage(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    api = _api(gateway, params)
    if isinstance(api, tuple):
        return api
    if params.get("stageName") not in api.stages:
        return _refused(404, "NotFoundException", "Invalid Stage identifier specified")
    return _ok(_stage(gateway, params["stageName"], api))


def _key(gateway: ApiGateway, key_id: str, include_value: bool) -> dict[str, Any]:
    key = gateway.account.keys[key_id]
    logical_id = next(
        (
            lid
            for lid, (kind, _) in gateway.definitions.items()
            if kind == "AWS::ApiGateway::ApiKey" and gateway.cloud.resources[lid].physical_id == key_id
        ),
        key_id,
    )
    props = gateway.definitions.get(logical_id, ("", {}))[1]
    stage_keys = [
        f"{stage['RestApiId']}/{stage['StageName']}"
        for stage in props.get("StageKeys", [])
        if "RestApiId" in stage
    ]
    shown: dict[str, Any] = {
        "id": key.id,
        "name": props.get("Name") or logical_id,
        "enabled": key.enabled,
        "createdDate": _created(gateway),
        "lastUpdatedDate": _created(gateway),
        "stageKeys": stage_keys,
    }
    if props.get("Description"):
        shown["description"] = props["Description"]
    if include_value:
        shown["value"] = key.value
    return shown


def _get_api_keys(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    include = bool(params.get("includeValues"))
    keys = [_key(gateway, key_id, include) for key_id in gateway.account.keys]
    if params.get("nameQuery"):
        keys = [k for k in keys if k["name"].startswith(params["nameQuery"])]
    return _ok({"items": keys})


def _get_api_key(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if params.get("apiKey") not in gateway.account.keys:
        return _refused(404, "NotFoundException", "Invalid API Key identifier specified")
    return _ok(_key(gateway, params["apiKey"], bool(params.get("includeValue"))))


def _domain(gateway: ApiGateway, name: str) -> dict[str, Any]:
    domain = gateway.account.domains[name]
    attributes = gateway.cloud.resources[domain.logical_id].attributes
    props = gateway.definitions[domain.logical_id][1]
    shown = {
        "domainName": domain.name,
        "regionalDomainName": attributes["RegionalDomainName"],
        "distributionDomainName": attributes["DistributionDomainName"],
        "endpointConfiguration": {
            "types": list((props.get("EndpointConfiguration") or {}).get("Types", ["EDGE"]))
        },
    }
    for source, target in (
        ("CertificateArn", "certificateArn"),
        ("RegionalCertificateArn", "regionalCertificateArn"),
        ("SecurityPolicy", "securityPolicy"),
    ):
        if props.get(source):
            shown[target] = props[source]
    return shown


def _get_domain_names(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return _ok({"items": [_domain(gateway, name) for name in sorted(gateway.account.domains)]})


def _get_domain_name(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    name = str(params.get("domainName", "")).lower()
    if name not in gateway.account.domains:
        return _refused(404, "NotFoundException", "Invalid domain name identifier specified")
    return _ok(_domain(gateway, name))


def _get_base_path_mappings(gateway: ApiGateway, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    domain = gateway.account.domains.get(str(params.get("domainName", "")).lower())
    if domain is None:
        return _refused(404, "NotFoundException", "Invalid domain name identifier specified")
    items = [
        {
            "basePath": m.base_path or "(none)",
            "restApiId": m.api_id,
            **({"stage": m.stage} if m.stage else {}),
        }
        for m in domain.mappings
    ]
    return _ok({"items": items})


_READS: dict[str, Callable[[ApiGateway, dict[str, Any]], tuple[int, dict[str, Any]]]] = {
    "GetRestApis": _get_rest_apis,
    "GetRestApi": _get_rest_api,
    "GetResources": _get_resources,
    "GetStages": _get_stages,
    "GetStage": _get_stage,
    "GetApiKeys": _get_api_keys,
    "GetApiKey": _get_api_key,
    "GetDomainNames": _get_domain_names,
    "GetDomainName": _get_domain_name,
    "GetBasePathMappings": _get_base_path_mappings,
}
