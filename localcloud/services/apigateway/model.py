"""REST APIs as the template defines them: resources, methods, integrations, stages and the rest.

Built from what the provisioners kept (``ApiGateway.definitions``: resolved properties by logical id),
so every ``Ref`` and ``Fn::GetAtt`` is already an id. Everything of a template's API that is
deployed is served: CloudFormation deploys a REST API's current definition to each stage.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.errors import ApiGatewayError
from localcloud.lib.token_bucket import ACCOUNT_BURST_LIMIT, ACCOUNT_RATE_LIMIT
from localcloud.services.apigateway.domains import Domain
from localcloud.services.apigateway.domains import build as build_domains
from localcloud.services.apigateway.openapi import Imported

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: API Gateway's payload limit: 10 MB, counted as 10 MiB as the localhost server counts it.
MAX_PAYLOAD = 10 * 1024 * 1024
DEFAULT_TIMEOUT_MS = 29_000
DEFAULT_AUTHORIZER_TTL = 300


@dataclass
class IntegrationResponse:
    status: str
    selection_pattern: str | None
    parameters: dict[str, str]
    templates: dict[str, str]


@dataclass
class Integration:
    type: str
    """``AWS``, ``AWS_PROXY``, ``HTTP``, ``HTTP_PROXY`` or ``MOCK``."""
    uri: str
    http_method: str
    credentials: str | None
    request_parameters: dict[str, str]
    request_templates: dict[str, str]
    passthrough: str
    responses: list[IntegrationResponse]
    timeout_ms: int


@dataclass
class Method:
    http_method: str
    resource: Resource
    authorization_type: str
    authorizer_id: str | None
    authorization_scopes: list[str]
    api_key_required: bool
    request_parameters: dict[str, bool]
    """``method.request.header.X``/``querystring``/``path`` names, and whether each is required."""
    request_models: dict[str, str]
    validator_id: str | None
    integration: Integration
    logical_id: str


@dataclass
class Resource:
    id: str
    parent_id: str | None
    path_part: str
    path: str = ""
    methods: dict[str, Method] = field(default_factory=dict)
    children: list[Resource] = field(default_factory=list)

    @property
    def greedy(self) -> bool:
        return self.path_part.startswith("{") and self.path_part.endswith("+}")

    @property
    def variable(self) -> str | None:
        """The path parameter this part captures (``id`` for ``{id}``, ``proxy`` for ``{proxy+}``)."""
        if self.path_part.startswith("{") and self.path_part.endswith("}"):
            return self.path_part[1:-1].removesuffix("+")
        return None


@dataclass(frozen=True)
class Throttle:
    rate: float
    burst: int


@dataclass
class MethodSetting:
    resource_path: str
    """``*`` for every resource, else the resource's path (``/items/{id}``)."""
    http_method: str
    throttle: Throttle | None


@dataclass
class Stage:
    name: str
    deployment_id: str
    variables: dict[str, str]
    settings: list[MethodSetting]

    def throttle_for(self, resource_path: str, http_method: str) -> Throttle | None:
        """The most specific method setting's limits: the method's own, else the stage default."""
        ranked = sorted(
            (
                s
                for s in self.settings
                if s.throttle is not None
                and s.resource_path in ("*", resource_path)
                and s.http_method in ("*", http_method)
            ),
            key=lambda s: (s.resource_path != "*", s.http_method != "*"),
        )
        return ranked[-1].throttle if ranked else None


@dataclass
class Authorizer:
    id: str
    name: str
    type: str
    """``TOKEN``, ``REQUEST`` or ``COGNITO_USER_POOLS``."""
    uri: str | None
    credentials: str | None
    identity_sources: list[str]
    validation_expression: str | None
    ttl: int
    provider_arns: list[str]


@dataclass
class GatewayResponse:
    type: str
    status: str | None
    parameters: dict[str, str]
    templates: dict[str, str]


@dataclass
class Validator:
    body: bool
    parameters: bool


@dataclass
class RestApi:
    logical_id: str
    id: str
    name: str
    binary_media_types: list[str]
    api_key_source: str
    root: Resource
    resources: dict[str, Resource]
    stages: dict[str, Stage]
    models: dict[str, Any]
    validators: dict[str, Validator]
    authorizers: dict[str, Authorizer]
    gateway_responses: dict[str, GatewayResponse]
    policy: dict[str, Any] | None = None
    """The resource policy (``Policy``, or the OpenAPI body's ``x-amazon-apigateway-policy``)."""
    endpoint_types: list[str] = field(default_factory=lambda: ["EDGE"])
    vpc_endpoint_ids: list[str] = field(default_factory=list)
    default_endpoint: bool = True
    """False when ``DisableExecuteApiEndpoint``: only custom domains reach the API."""

    @property
    def private(self) -> bool:
        return "PRIVATE" in self.endpoint_types


@dataclass
class ApiKey:
    id: str
    value: str
    enabled: bool


@dataclass
class Quota:
    limit: int
    period: str
    """``DAY``, ``WEEK`` or ``MONTH``."""


@dataclass
class UsagePlan:
    id: str
    stages: dict[tuple[str, str], dict[str, Throttle]]
    """Per (api id, stage): the plan's per-method limits, by ``/resource/path/METHOD``."""
    throttle: Throttle | None
    quota: Quota | None
    key_ids: set[str] = field(default_factory=set)


@dataclass
class Account:
    """Every API of the stack, and the keys and plans they share."""

    apis: dict[str, RestApi]
    keys: dict[str, ApiKey]
    plans: dict[str, UsagePlan]
    domains: dict[str, Domain] = field(default_factory=dict)
    """Custom domain names, by name in lower case."""


def build(cloud: Kernel, definitions: dict[str, tuple[str, dict[str, Any]]]) -> Account:
    """The stack's REST APIs from the resolved definitions the provisioners kept."""
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, (resource_type, props) in definitions.items():
        by_type.setdefault(resource_type.removeprefix("AWS::ApiGateway::"), []).append((logical_id, props))

    def physical(logical_id: str) -> str:
        return cloud.resources[logical_id].physical_id

    apis: dict[str, RestApi] = {}
    imported: list[tuple[RestApi, Imported]] = []
    for logical_id, props in by_type.get("RestApi", []):
        if "CloneFrom" in props:
            raise ApiGatewayError(f"{logical_id}: a REST API cloned from another is not served offline")
        api_id = physical(logical_id)
        root_id = cloud.resources[logical_id].attributes["RootResourceId"]
        root = Resource(root_id, None, "", "/")
        spec = None
        if "Body" in props:
            spec = Imported(
                api_id,
                props["Body"],
                lambda seed, lid=logical_id: cloud.short_id(f"{lid}/{seed}"),
                logical_id,
            ).run(root_id)
        endpoint = props.get("EndpointConfiguration") or {}
        spec_endpoint = spec.endpoint_configuration if spec else {}
        policy = props.get("Policy") or (spec.policy if spec else None)
        api = RestApi(
            logical_id=logical_id,
            id=api_id,
            name=props.get("Name") or (spec.title if spec else None) or logical_id,
            binary_media_types=[
                t.replace("~1", "/")
                for t in props.get("BinaryMediaTypes") or (spec.binary_media_types if spec else [])
            ],
            api_key_source=props.get("ApiKeySourceType")
            or (spec.api_key_source if spec else None)
            or "HEADER",
            root=root,
            resources={root_id: root},
            stages={},
            models={},
            validators={},
            authorizers={},
            gateway_responses={},
            policy=json.loads(policy) if isinstance(policy, str) else policy,
            endpoint_types=[
                t.upper() for t in endpoint.get("Types") or spec_endpoint.get("types") or ["EDGE"]
            ],
            vpc_endpoint_ids=list(
                endpoint.get("VpcEndpointIds") or spec_endpoint.get("vpcEndpointIds") or []
            ),
            default_endpoint=not _bool(
                props.get("DisableExecuteApiEndpoint", spec_endpoint.get("disableExecuteApiEndpoint", False))
            ),
        )
        if api.private and not api.policy:
            raise ApiGatewayError(
                f"{logical_id}: a PRIVATE REST API needs a resource policy to be deployed "
                "(AWS: Private REST API doesn't have a resource policy attached to it)"
            )
        apis[api_id] = api
        if spec is not None:
            imported.append((api, spec))

    def api_of(logical_id: str, props: dict[str, Any]) -> RestApi:
        api = apis.get(props.get("RestApiId", ""))
        if api is None:
            raise ApiGatewayError(
                f"{logical_id}: RestApiId {props.get('RestApiId')!r} is not a REST API here"
            )
        return api

    for logical_id, props in by_type.get("Resource", []):
        api = api_of(logical_id, props)
        resource_id = physical(logical_id)
        api.resources[resource_id] = Resource(resource_id, props["ParentId"], props["PathPart"])
    for api, spec in imported:
        for resource_id, parent_id, path_part in spec.resources:
            api.resources[resource_id] = Resource(resource_id, parent_id, path_part)
    for api in apis.values():
        _link(api)
    for api, spec in imported:
        api.models.update(spec.models)
        for name, props in spec.validators.items():
            api.validators[name] = Validator(props["ValidateRequestBody"], props["ValidateRequestParameters"])
        for authorizer_id, props in spec.authorizers.items():
            api.authorizers[authorizer_id] = _authorizer(authorizer_id, props)
        for response_type, props in spec.gateway_responses.items():
            api.gateway_responses[response_type] = GatewayResponse(
                type=response_type,
                status=str(props["StatusCode"]) if props.get("StatusCode") else None,
                parameters=props["ResponseParameters"],
                templates=props["ResponseTemplates"],
            )
        for name, resource_id, props in spec.methods:
            method = _method(name, props, api.resources[resource_id])
            api.resources[resource_id].methods[method.http_method] = method

    for logical_id, props in by_type.get("Model", []):
        api_of(logical_id, props).models[physical(logical_id)] = props.get("Schema", {})
    for logical_id, props in by_type.get("RequestValidator", []):
        api_of(logical_id, props).validators[physical(logical_id)] = Validator(
            body=_bool(props.get("ValidateRequestBody")),
            parameters=_bool(props.get("ValidateRequestParameters")),
        )
    for logical_id, props in by_type.get("Authorizer", []):
        api_of(logical_id, props).authorizers[physical(logical_id)] = _authorizer(physical(logical_id), props)
    for logical_id, props in by_type.get("GatewayResponse", []):
        api_of(logical_id, props).gateway_responses[props["ResponseType"]] = GatewayResponse(
            type=props["ResponseType"],
            status=str(props["StatusCode"]) if props.get("StatusCode") else None,
            parameters=props.get("ResponseParameters", {}),
            templates=props.get("ResponseTemplates", {}),
        )
    for logical_id, props in by_type.get("Method", []):
        api = api_of(logical_id, props)
        resource = api.resources.get(props["ResourceId"])
        if resource is None:
            raise ApiGatewayError(
                f"{logical_id}: ResourceId {props['ResourceId']!r} is not a resource of {api.name}"
            )
        method = _method(logical_id, props, resource)
        resource.methods[method.http_method] = method

    deployments = {physical(lid): (lid, props) for lid, props in by_type.get("Deployment", [])}
    for logical_id, props in deployments.values():
        if props.get("StageName"):
            description = props.get("StageDescription", {})
            api = api_of(logical_id, props)
            stage = _stage(props["StageName"], physical(logical_id), description, description)
            api.stages[stage.name] = stage
    for logical_id, props in by_type.get("Stage", []):
        api = api_of(logical_id, props)
        if props.get("DeploymentId") not in deployments:
            raise ApiGatewayError(f"{logical_id}: stage {props['StageName']} has no deployment of {api.name}")
        api.stages[props["StageName"]] = _stage(props["StageName"], props["DeploymentId"], props, {})

    keys = {
        physical(lid): ApiKey(physical(lid), props["Value"], _bool(props.get("Enabled", False)))
        for lid, props in by_type.get("ApiKey", [])
    }
    plans = {physical(lid): _plan(physical(lid), props) for lid, props in by_type.get("UsagePlan", [])}
    for logical_id, props in by_type.get("UsagePlanKey", []):
        plan = plans.get(props["UsagePlanId"])
        if plan is None or props["KeyId"] not in keys:
            raise ApiGatewayError(
                f"{logical_id}: usage plan {props['UsagePlanId']} or key {props['KeyId']} is unknown"
            )
        plan.key_ids.add(props["KeyId"])
    return Account(apis, keys, plans, build_domains(definitions, apis))


def _link(api: RestApi) -> None:
    """Give each resource its children and its full path, from the root down."""
    for resource in api.resources.values():
        if resource.parent_id is None:
            continue
        parent = api.resources.get(resource.parent_id)
        if parent is None:
            raise ApiGatewayError(
                f"{api.name}: resource {resource.path_part} has an unknown parent {resource.parent_id}"
            )
        parent.children.append(resource)
    pending = [api.root]
    while pending:
        resource = pending.pop()
        for child in resource.children:
            child.path = f"{resource.path.rstrip('/')}/{child.path_part}"
            pending.append(child)


def _method(logical_id: str, props: dict[str, Any], resource: Resource) -> Method:
    raw = props.get("Integration")
    if raw is None:
        raise ApiGatewayError(f"{logical_id}: {props['HttpMethod']} {resource.path} has no integration")
    integration = Integration(
        type=raw["Type"],
        uri=raw.get("Uri", ""),
        http_method=raw.get("IntegrationHttpMethod", props["HttpMethod"]),
        credentials=raw.get("Credentials"),
        request_parameters=raw.get("RequestParameters", {}),
        request_templates=raw.get("RequestTemplates", {}),
        passthrough=raw.get("PassthroughBehavior", "WHEN_NO_MATCH"),
        responses=[
            IntegrationResponse(
                status=str(r["StatusCode"]),
                selection_pattern=r.get("SelectionPattern") or None,
                parameters=r.get("ResponseParameters", {}),
                templates=r.get("ResponseTemplates", {}),
            )
            for r in raw.get("IntegrationResponses", [])
        ],
        timeout_ms=int(raw.get("TimeoutInMillis", DEFAULT_TIMEOUT_MS)),
    )
    if integration.type not in ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"):
        raise ApiGatewayError(f"{logical_id}: integration type {integration.type} is not known")
    if raw.get("ConnectionType") == "VPC_LINK":
        raise ApiGatewayError(f"{logical_id}: VPC link integrations are not served offline")
    return Method(
        http_method=props["HttpMethod"].upper(),
        resource=resource,
        authorization_type=props.get("AuthorizationType", "NONE"),
        authorizer_id=props.get("AuthorizerId"),
        authorization_scopes=list(props.get("AuthorizationScopes", [])),
        api_key_required=_bool(props.get("ApiKeyRequired", False)),
        request_parameters={
            name: _bool(required) for name, required in props.get("RequestParameters", {}).items()
        },
        request_models=props.get("RequestModels", {}),
        validator_id=props.get("RequestValidatorId"),
        integration=integration,
        logical_id=logical_id,
    )


def _authorizer(authorizer_id: str, props: dict[str, Any]) -> Authorizer:
    kind = props["Type"]
    sources = [s.strip() for s in props.get("IdentitySource", "").split(",") if s.strip()]
    if kind == "TOKEN" and not sources:
        sources = ["method.request.header.Authorization"]
    return Authorizer(
        id=authorizer_id,
        name=props.get("Name", authorizer_id),
        type=kind,
        uri=props.get("AuthorizerUri"),
        credentials=props.get("AuthorizerCredentials"),
        identity_sources=sources,
        validation_expression=props.get("IdentityValidationExpression"),
        ttl=int(props.get("AuthorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL)),
        provider_arns=list(props.get("ProviderARNs", [])),
    )


def _stage(name: str, deployment_id: str, props: dict[str, Any], description: dict[str, Any]) -> Stage:
    settings = [
        MethodSetting(
            resource_path=_setting_path(s.get("ResourcePath", "/*")),
            http_method=s.get("HttpMethod", "*").upper(),
            throttle=_throttle(s.get("ThrottlingRateLimit"), s.get("ThrottlingBurstLimit")),
        )
        for s in props.get("MethodSettings", [])
    ]
    default = _throttle(description.get("ThrottlingRateLimit"), description.get("ThrottlingBurstLimit"))
    if default is not None:
        settings.insert(0, MethodSetting("*", "*", default))
    return Stage(name, deployment_id, {k: str(v) for k, v in props.get("Variables", {}).items()}, settings)


def _setting_path(path: str) -> str:
    """A method setting's resource path: ``/*`` is every resource; ``/~1items`` is ``/items``."""
    if path in ("/*", "*"):
        return "*"
    return "/" + path.removeprefix("/").replace("~1", "/").removeprefix("/")


def _throttle(rate: Any, burst: Any) -> Throttle | None:
    if rate is None and burst is None:
        return None
    return Throttle(
        rate=float(rate) if rate is not None else ACCOUNT_RATE_LIMIT,
        burst=int(burst) if burst is not None else ACCOUNT_BURST_LIMIT,
    )


def _plan(plan_id: str, props: dict[str, Any]) -> UsagePlan:
    stages: dict[tuple[str, str], dict[str, Throttle]] = {}
    for entry in props.get("ApiStages", []):
        methods = {}
        for key, limits in (entry.get("Throttle") or {}).items():
            throttle = _throttle(limits.get("RateLimit"), limits.get("BurstLimit"))
            if throttle is not None:
                methods[_normalize_method_key(key)] = throttle
        stages[(entry["ApiId"], entry["Stage"])] = methods
    throttle = props.get("Throttle") or {}
    quota = props.get("Quota") or {}
    return UsagePlan(
        id=plan_id,
        stages=stages,
        throttle=_throttle(throttle.get("RateLimit"), throttle.get("BurstLimit")),
        quota=Quota(int(quota["Limit"]), quota.get("Period", "DAY"))
        if quota.get("Limit") is not None
        else None,
    )


def _normalize_method_key(key: str) -> str:
    """``/items/GET`` as the plan's method throttle key, whatever case the method is in."""
    path, _, method = key.rpartition("/")
    return f"{path or '/'}/{method.upper()}"


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


_UNRESOLVED = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


def with_stage_variables(text: str, variables: dict[str, str]) -> str:
    """``${stageVariables.name}`` in a URI or ARN, replaced by the stage's value; unknown: an error."""

    def value(match: re.Match[str]) -> str:
        if match[1] not in variables:
            raise ApiGatewayError(
                f"stage variable {match[1]} is used in {text} but the stage does not define it"
            )
        return variables[match[1]]

    return _UNRESOLVED.sub(value, text)
