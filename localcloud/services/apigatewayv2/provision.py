"""API Gateway v2 (HTTP and WebSocket APIs): each part of the template into the cloud's model.

Ids are what ``Ref`` returns, as in CloudFormation: a stage's name, a custom domain's name, an id
for everything else; ``Fn::GetAtt`` gives ``ApiEndpoint``/``ApiId`` of an API and the ``*Id`` of
its parts. What AWS refuses when it creates a part (an HTTP route key that is no ``METHOD /path``,
a WebSocket API without a route selection expression, a route to an unknown authorizer) is refused
here too, naming the resource and the property.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.errors import ApiGatewayError, Unsupported
from localcloud.services.apigatewayv2.model import (
    AccessLog,
    Api,
    ApiMapping,
    Authorizer,
    Cors,
    Deployment,
    DomainName,
    Integration,
    IntegrationResponse,
    Route,
    RouteResponse,
    RouteSettings,
    Stage,
)

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.apigatewayv2.gateway import ApiGatewayV2

HTTP_METHODS = frozenset({"ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
HTTP_ROUTE_SELECTION = "${request.method} ${request.path}"
INTEGRATION_TYPES = frozenset({"AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"})
_PATH_PART = re.compile(r"^(\{[A-Za-z0-9._-]+\+?\}|[^{}]+)$")
_TARGET = re.compile(r"^integrations/(?P<id>[A-Za-z0-9]+)$")
_QUICK_LAMBDA = re.compile(r"^arn:[^:]+:lambda:")

_API_PROPS = {
    "ApiKeySelectionExpression",
    "CorsConfiguration",
    "CredentialsArn",
    "Description",
    "DisableExecuteApiEndpoint",
    "DisableSchemaValidation",
    "FailOnWarnings",
    "IpAddressType",
    "Name",
    "ProtocolType",
    "RouteKey",
    "RouteSelectionExpression",
    "Tags",
    "Target",
    "Version",
}


def _gateway(cloud: Kernel) -> ApiGatewayV2:
    return cloud.service("apigatewayv2")


def _api(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Api:
    api_id = props.get("ApiId")
    api = _gateway(cloud).apis.get(str(api_id))
    if api is None:
        raise ApiGatewayError(f"{logical_id}: ApiId {api_id!r} is no AWS::ApiGatewayV2::Api of the stack")
    return api


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


@provisions("AWS::ApiGatewayV2::Api")
def api(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    if "Body" in props or "BodyS3Location" in props:
        raise Unsupported(
            logical_id, "AWS::ApiGatewayV2::Api from an OpenAPI Body", "define routes as resources"
        )
    refuse_unknown_properties(logical_id, "AWS::ApiGatewayV2::Api", props, _API_PROPS)
    protocol = props.get("ProtocolType")
    if protocol not in ("HTTP", "WEBSOCKET"):
        raise ApiGatewayError(f"{logical_id}: ProtocolType must be HTTP or WEBSOCKET, not {protocol!r}")
    if not props.get("Name"):
        raise ApiGatewayError(f"{logical_id}: an API needs a Name")
    selection = props.get("RouteSelectionExpression")
    if protocol == "WEBSOCKET" and not selection:
        raise ApiGatewayError(f"{logical_id}: a WEBSOCKET API needs a RouteSelectionExpression")
    if protocol == "HTTP" and selection not in (None, HTTP_ROUTE_SELECTION):
        raise ApiGatewayError(
            f"{logical_id}: RouteSelectionExpression of an HTTP API must be {HTTP_ROUTE_SELECTION!r}"
        )
    if protocol == "WEBSOCKET" and ("CorsConfiguration" in props or "Target" in props):
        raise ApiGatewayError(f"{logical_id}: CorsConfiguration and Target are for HTTP APIs only")
    api_id = cloud.short_id(logical_id)
    model = Api(
        id=api_id,
        logical_id=logical_id,
        name=str(props["Name"]),
        protocol=protocol,
        region=cloud.region,
        route_selection_expression=selection or HTTP_ROUTE_SELECTION,
        api_key_selection_expression=props.get("ApiKeySelectionExpression"),
        cors=_cors(props["CorsConfiguration"]) if "CorsConfiguration" in props else None,
        default_endpoint=not _flag(props.get("DisableExecuteApiEndpoint", False)),
    )
    _gateway(cloud).apis[api_id] = model
    if "Target" in props:
        _quick_create(cloud, logical_id, model, props)
    elif "RouteKey" in props or "CredentialsArn" in props:
        raise ApiGatewayError(f"{logical_id}: RouteKey and CredentialsArn need a Target (quick create)")
    return Provisioned(api_id, {"ApiId": api_id, "ApiEndpoint": model.endpoint})


def _cors(config: dict[str, Any]) -> Cors:
    age = config.get("MaxAge")
    return Cors(
        allow_origins=_as_list(config.get("AllowOrigins")),
        allow_methods=[m.upper() for m in _as_list(config.get("AllowMethods"))],
        allow_headers=[h.lower() for h in _as_list(config.get("AllowHeaders"))],
        expose_headers=[h.lower() for h in _as_list(config.get("ExposeHeaders"))],
        max_age=int(age) if age is not None else None,
        allow_credentials=_flag(config.get("AllowCredentials", False)),
    )


def _quick_create(cloud: Kernel, logical_id: str, model: Api, props: dict[str, Any]) -> None:
    """``Target`` makes the route (``RouteKey``, else ``$default``), its integration and an
    auto-deploying ``$default`` stage, as AWS's quick create does."""
    target = str(props["Target"])
    integration_id = cloud.short_id(f"{logical_id}/quick/integration")
    lambda_target = bool(_QUICK_LAMBDA.match(target))
    model.integrations[integration_id] = Integration(
        id=integration_id,
        logical_id=logical_id,
        type="AWS_PROXY" if lambda_target else "HTTP_PROXY",
        uri=target,
        method=None if lambda_target else "ANY",
        payload_format_version="2.0" if lambda_target else "1.0",
        credentials=props.get("CredentialsArn"),
    )
    key = str(props.get("RouteKey", "$default"))
    _check_http_route_key(logical_id, key)
    model.routes[key] = Route(cloud.short_id(f"{logical_id}/quick/route"), logical_id, key, integration_id)
    model.stages["$default"] = Stage("$default", logical_id, auto_deploy=True)


@provisions("AWS::ApiGatewayV2::Stage")
def stage(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::ApiGatewayV2::Stage",
        props,
        {
            "AccessLogSettings",
            "AccessPolicyId",
            "ApiId",
            "AutoDeploy",
            "ClientCertificateId",
            "DefaultRouteSettings",
            "DeploymentId",
            "Description",
            "RouteSettings",
            "StageName",
            "StageVariables",
            "Tags",
        },
    )
    model = _api(cloud, logical_id, props)
    name = str(props.get("StageName") or "")
    if not name:
        raise ApiGatewayError(f"{logical_id}: a stage needs a StageName")
    if name in model.stages:
        raise ApiGatewayError(f"{logical_id}: {model.name} already has a stage {name!r}")
    if name == "$default" and model.protocol == "WEBSOCKET":
        raise ApiGatewayError(f"{logical_id}: a WEBSOCKET API has no $default stage")
    variables = props.get("StageVariables") or {}
    bad = [k for k in variables if not re.fullmatch(r"[A-Za-z0-9_]+", k)]
    if bad:
        raise ApiGatewayError(f"{logical_id}: StageVariables names must be alphanumeric or _, not {bad}")
    logs = props.get("AccessLogSettings")
    access_log = None
    if logs:
        if not logs.get("DestinationArn") or not logs.get("Format"):
            raise ApiGatewayError(f"{logical_id}: AccessLogSettings needs DestinationArn and Format")
        access_log = AccessLog(str(logs["DestinationArn"]), str(logs["Format"]))
    model.stages[name] = Stage(
        name=name,
        logical_id=logical_id,
        auto_deploy=_flag(props.get("AutoDeploy", False)),
        deployment_id=props.get("DeploymentId"),
        variables={str(k): str(v) for k, v in variables.items()},
        default_route_settings=_route_settings(props.get("DefaultRouteSettings") or {}),
        route_settings={
            str(key): _route_settings(value) for key, value in (props.get("RouteSettings") or {}).items()
        },
        access_log=access_log,
    )
    return Provisioned(name)


def _route_settings(props: dict[str, Any]) -> RouteSettings:
    rate, burst = props.get("ThrottlingRateLimit"), props.get("ThrottlingBurstLimit")
    return RouteSettings(
        throttling_rate=float(rate) if rate is not None else None,
        throttling_burst=int(burst) if burst is not None else None,
        detailed_metrics=_flag(props.get("DetailedMetricsEnabled", False)),
        logging_level=props.get("LoggingLevel"),
        data_trace=_flag(props.get("DataTraceEnabled", False)),
    )


def _check_http_route_key(logical_id: str, key: str) -> None:
    if key == "$default":
        return
    method, _, path = key.partition(" ")
    if method not in HTTP_METHODS or not path.startswith("/"):
        raise ApiGatewayError(
            f"{logical_id}: RouteKey {key!r} is not '$default' or 'METHOD /path' "
            f"(METHOD one of {', '.join(sorted(HTTP_METHODS))})"
        )
    parts = [] if path == "/" else path[1:].split("/")
    for index, part in enumerate(parts):
        if not _PATH_PART.match(part):
            raise ApiGatewayError(f"{logical_id}: RouteKey {key!r} has an invalid path part {part!r}")
        if part.endswith("+}") and index != len(parts) - 1:
            raise ApiGatewayError(f"{logical_id}: RouteKey {key!r}: a greedy {part} must be the last part")


@provisions("AWS::ApiGatewayV2::Route")
def route(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::ApiGatewayV2::Route",
        props,
        {
            "ApiId",
            "ApiKeyRequired",
            "AuthorizationScopes",
            "AuthorizationType",
            "AuthorizerId",
            "ModelSelectionExpression",
            "OperationName",
            "RequestModels",
            "RequestParameters",
            "RouteKey",
            "RouteResponseSelectionExpression",
            "Target",
        },
    )
    model = _api(cloud, logical_id, props)
    key = str(props.get("RouteKey") or "")
    if not key:
        raise ApiGatewayError(f"{logical_id}: a route needs a RouteKey")
    if model.protocol == "HTTP":
        _check_http_route_key(logical_id, key)
    if key in model.routes:
        raise ApiGatewayError(f"{logical_id}: {model.name} already has a route {key!r}")
    integration_id = None
    if props.get("Target") is not None:
        match = _TARGET.match(str(props["Target"]))
        if match is None:
            raise ApiGatewayError(f"{logical_id}: Target {props['Target']!r} is not 'integrations/{{id}}'")
        integration_id = match["id"]
        if integration_id not in model.integrations:
            raise ApiGatewayError(
                f"{logical_id}: Target names integration {integration_id}, not one of {model.name}"
            )
    authorization = str(props.get("AuthorizationType", "NONE"))
    allowed = {"NONE", "AWS_IAM", "CUSTOM"} | ({"JWT"} if model.protocol == "HTTP" else set())
    if authorization not in allowed:
        raise ApiGatewayError(
            f"{logical_id}: AuthorizationType {authorization!r} is not one of {', '.join(sorted(allowed))}"
        )
    authorizer_id = props.get("AuthorizerId")
    if authorization in ("JWT", "CUSTOM"):
        wanted = "JWT" if authorization == "JWT" else "REQUEST"
        found = model.authorizers.get(str(authorizer_id))
        if found is None or found.type != wanted:
            raise ApiGatewayError(
                f"{logical_id}: AuthorizationType {authorization} needs the AuthorizerId of a {wanted} authorizer"
            )
    elif authorizer_id is not None:
        raise ApiGatewayError(f"{logical_id}: AuthorizerId is set but AuthorizationType is {authorization}")
    scopes = _as_list(props.get("AuthorizationScopes"))
    if scopes and authorization != "JWT":
        raise ApiGatewayError(f"{logical_id}: AuthorizationScopes are only for JWT routes")
    if model.protocol == "WEBSOCKET" and authorization == "CUSTOM" and key != "$connect":
        raise ApiGatewayError(f"{logical_id}: a WebSocket API authorizes only its $connect route")
    route_id = cloud.short_id(logical_id)
    model.routes[key] = Route(
        id=route_id,
        logical_id=logical_id,
        key=key,
        integration_id=integration_id,
        authorization_type=authorization,
        authorizer_id=str(authorizer_id) if authorizer_id is not None else None,
        scopes=scopes,
        api_key_required=_flag(props.get("ApiKeyRequired", False)),
        request_parameters=dict(props.get("RequestParameters") or {}),
        request_models=dict(props.get("RequestModels") or {}),
        model_selection_expression=props.get("ModelSelectionExpression"),
        route_response_selection_expression=props.get("RouteResponseSelectionExpression"),
        operation_name=props.get("OperationName"),
    )
    return Provisioned(route_id, {"RouteId": route_id})


@provisions("AWS::ApiGatewayV2::Integration")
def integration(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::ApiGatewayV2::Integration",
        props,
        {
            "ApiId",
            "ConnectionId",
            "ConnectionType",
            "ContentHandlingStrategy",
            "CredentialsArn",
            "Description",
            "IntegrationMethod",
            "IntegrationSubtype",
            "IntegrationType",
            "IntegrationUri",
            "PassthroughBehavior",
            "PayloadFormatVersion",
            "RequestParameters",
            "RequestTemplates",
            "ResponseParameters",
            "TemplateSelectionExpression",
            "TimeoutInMillis",
            "TlsConfig",
        },
    )
    model = _api(cloud, logical_id, props)
    kind = props.get("IntegrationType")
    if kind not in INTEGRATION_TYPES:
        raise ApiGatewayError(
            f"{logical_id}: IntegrationType must be one of {', '.join(sorted(INTEGRATION_TYPES))}"
        )
    if model.protocol == "HTTP" and kind in ("AWS", "HTTP", "MOCK"):
        raise ApiGatewayError(
            f"{logical_id}: an HTTP API supports AWS_PROXY and HTTP_PROXY integrations, not {kind}"
        )
    version = props.get("PayloadFormatVersion")
    if model.protocol == "HTTP" and kind == "AWS_PROXY" and not props.get("IntegrationSubtype"):
        if version not in ("1.0", "2.0"):
            raise ApiGatewayError(
                f"{logical_id}: PayloadFormatVersion of a Lambda proxy integration must be 1.0 or 2.0"
            )
    elif version not in (None, "1.0"):
        raise ApiGatewayError(
            f"{logical_id}: PayloadFormatVersion {version} is only for HTTP API Lambda proxies"
        )
    timeout = int(props.get("TimeoutInMillis", 30_000 if model.protocol == "HTTP" else 29_000))
    highest = 30_000 if model.protocol == "HTTP" else 29_000
    if not 50 <= timeout <= highest:
        raise ApiGatewayError(
            f"{logical_id}: TimeoutInMillis must be between 50 and {highest}, not {timeout}"
        )
    if kind != "MOCK" and not props.get("IntegrationUri") and not props.get("IntegrationSubtype"):
        raise ApiGatewayError(f"{logical_id}: a {kind} integration needs an IntegrationUri")
    integration_id = cloud.short_id(logical_id)
    model.integrations[integration_id] = Integration(
        id=integration_id,
        logical_id=logical_id,
        type=kind,
        uri=props.get("IntegrationUri"),
        method=props.get("IntegrationMethod"),
        payload_format_version=str(version or "1.0"),
        subtype=props.get("IntegrationSubtype"),
        credentials=props.get("CredentialsArn"),
        request_parameters=dict(props.get("RequestParameters") or {}),
        response_parameters={str(k): dict(v) for k, v in (props.get("ResponseParameters") or {}).items()},
        request_templates=dict(props.get("RequestTemplates") or {}),
        template_selection_expression=props.get("TemplateSelectionExpression"),
        passthrough_behavior=props.get("PassthroughBehavior"),
        content_handling=props.get("ContentHandlingStrategy"),
        timeout_ms=timeout,
        connection_type=str(props.get("ConnectionType", "INTERNET")),
        connection_id=props.get("ConnectionId"),
        tls_config=dict(props.get("TlsConfig") or {}),
    )
    return Provisioned(integration_id, {"IntegrationId": integration_id})


@provisions("AWS::ApiGatewayV2::IntegrationResponse")
def integration_response(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    model = _api(cloud, logical_id, props)
    found = model.integrations.get(str(props.get("IntegrationId")))
    if found is None:
        raise ApiGatewayError(f"{logical_id}: IntegrationId names no integration of {model.name}")
    response_id = cloud.short_id(logical_id)
    key = str(props.get("IntegrationResponseKey") or "")
    found.responses[key] = IntegrationResponse(
        response_id,
        key,
        dict(props.get("ResponseTemplates") or {}),
        props.get("TemplateSelectionExpression"),
        dict(props.get("ResponseParameters") or {}),
        props.get("ContentHandlingStrategy"),
    )
    return Provisioned(response_id, {"IntegrationResponseId": response_id})


@provisions("AWS::ApiGatewayV2::RouteResponse")
def route_response(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    model = _api(cloud, logical_id, props)
    found = model.route_by_id(str(props.get("RouteId")))
    if found is None:
        raise ApiGatewayError(f"{logical_id}: RouteId names no route of {model.name}")
    response_id = cloud.short_id(logical_id)
    key = str(props.get("RouteResponseKey") or "")
    found.responses[key] = RouteResponse(
        response_id,
        key,
        dict(props.get("ResponseModels") or {}),
        props.get("ModelSelectionExpression"),
        dict(props.get("ResponseParameters") or {}),
    )
    return Provisioned(response_id, {"RouteResponseId": response_id})


@provisions("AWS::ApiGatewayV2::Authorizer")
def authorizer(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::ApiGatewayV2::Authorizer",
        props,
        {
            "ApiId",
            "AuthorizerCredentialsArn",
            "AuthorizerPayloadFormatVersion",
            "AuthorizerResultTtlInSeconds",
            "AuthorizerType",
            "AuthorizerUri",
            "EnableSimpleResponses",
            "IdentitySource",
            "IdentityValidationExpression",
            "JwtConfiguration",
            "Name",
        },
    )
    model = _api(cloud, logical_id, props)
    kind = props.get("AuthorizerType")
    allowed = ("JWT", "REQUEST") if model.protocol == "HTTP" else ("REQUEST",)
    if kind not in allowed:
        raise ApiGatewayError(
            f"{logical_id}: AuthorizerType of a {model.protocol} API must be one of {', '.join(allowed)}"
        )
    sources = _as_list(props.get("IdentitySource"))
    jwt = props.get("JwtConfiguration") or {}
    version = str(props.get("AuthorizerPayloadFormatVersion", "1.0" if model.protocol == "WEBSOCKET" else ""))
    ttl = int(props.get("AuthorizerResultTtlInSeconds", 0))
    if kind == "JWT":
        if not jwt.get("Issuer") or not jwt.get("Audience"):
            raise ApiGatewayError(
                f"{logical_id}: a JWT authorizer needs JwtConfiguration.Issuer and Audience"
            )
        if len(sources) != 1:
            raise ApiGatewayError(f"{logical_id}: a JWT authorizer takes exactly one IdentitySource")
    else:
        if not props.get("AuthorizerUri"):
            raise ApiGatewayError(f"{logical_id}: a REQUEST authorizer needs an AuthorizerUri")
        if model.protocol == "HTTP" and version not in ("1.0", "2.0"):
            raise ApiGatewayError(f"{logical_id}: AuthorizerPayloadFormatVersion must be 1.0 or 2.0")
        if _flag(props.get("EnableSimpleResponses", False)) and version != "2.0":
            raise ApiGatewayError(
                f"{logical_id}: EnableSimpleResponses needs AuthorizerPayloadFormatVersion 2.0"
            )
        if not 0 <= ttl <= 3600:
            raise ApiGatewayError(f"{logical_id}: AuthorizerResultTtlInSeconds must be 0 to 3600, not {ttl}")
        if ttl and not sources:
            raise ApiGatewayError(
                f"{logical_id}: caching (AuthorizerResultTtlInSeconds) needs an IdentitySource"
            )
    authorizer_id = cloud.short_id(logical_id)
    model.authorizers[authorizer_id] = Authorizer(
        id=authorizer_id,
        logical_id=logical_id,
        name=str(props.get("Name") or logical_id),
        type=kind,
        identity_sources=sources,
        issuer=jwt.get("Issuer"),
        audience=_as_list(jwt.get("Audience")),
        uri=props.get("AuthorizerUri"),
        credentials=props.get("AuthorizerCredentialsArn"),
        payload_format_version=version or "1.0",
        simple_responses=_flag(props.get("EnableSimpleResponses", False)),
        ttl=ttl,
    )
    return Provisioned(authorizer_id, {"AuthorizerId": authorizer_id})


@provisions("AWS::ApiGatewayV2::Deployment")
def deployment(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """A deployment: every route of the template is what it deploys (CloudFormation's order
    makes the routes exist first when the template says so)."""
    model = _api(cloud, logical_id, props)
    deployment_id = cloud.short_id(logical_id)
    stage_name = props.get("StageName")
    model.deployments[deployment_id] = Deployment(deployment_id, stage_name)
    if stage_name is not None and stage_name in model.stages:
        model.stages[stage_name].deployment_id = deployment_id
    return Provisioned(deployment_id, {"DeploymentId": deployment_id})


@provisions("AWS::ApiGatewayV2::DomainName")
def domain_name(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """A custom domain: requests whose ``Host`` names it route by its API mappings (its
    certificate and mutual TLS are not checked)."""
    refuse_unknown_properties(
        logical_id,
        "AWS::ApiGatewayV2::DomainName",
        props,
        {"DomainName", "DomainNameConfigurations", "MutualTlsAuthentication", "RoutingMode", "Tags"},
    )
    name = str(props.get("DomainName") or "").lower()
    if not name:
        raise ApiGatewayError(f"{logical_id}: a custom domain needs a DomainName")
    _gateway(cloud).domains[name] = DomainName(name)
    suffix = cloud.short_id(f"{logical_id}/target")
    return Provisioned(
        name,
        {
            "RegionalDomainName": f"d-{suffix}.execute-api.{cloud.region}.amazonaws.com",
            "RegionalHostedZoneId": "Z1UJRXOUMOOFQ8",
            "DomainNameArn": f"arn:{cloud.partition}:apigateway:{cloud.region}::/domainnames/{name}",
        },
    )


@provisions("AWS::ApiGatewayV2::ApiMapping")
def api_mapping(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    model = _api(cloud, logical_id, props)
    domain = _gateway(cloud).domains.get(str(props.get("DomainName", "")).lower())
    if domain is None:
        raise ApiGatewayError(
            f"{logical_id}: DomainName {props.get('DomainName')!r} is no custom domain of the stack"
        )
    stage_name = str(props.get("Stage", ""))
    if stage_name not in model.stages:
        raise ApiGatewayError(f"{logical_id}: {model.name} has no stage {stage_name!r}")
    key = str(props.get("ApiMappingKey") or "").strip("/")
    if any(m.key == key for m in domain.mappings):
        raise ApiGatewayError(f"{logical_id}: {domain.name} already maps {key or '(none)'!r}")
    mapping_id = cloud.short_id(logical_id)
    domain.mappings.append(ApiMapping(mapping_id, model.id, stage_name, key))
    return Provisioned(mapping_id, {"ApiMappingId": mapping_id})
