"""API Gateway v2 APIs (HTTP and WebSocket) as the template defines them, one cloud's worth.

The provisioners fill it as CloudFormation creates each part, so every ``Ref`` is already an id.
Both protocols share the resource types and this model; ``Api.protocol`` says which one serves
it (``HTTP`` routes by ``METHOD /path``, ``WEBSOCKET`` by the route selection expression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: API Gateway's limit on an HTTP API integration's time: 30 s, the default too.
DEFAULT_TIMEOUT_MS = 30_000
#: An HTTP API's payload limit: 10 MB.
MAX_PAYLOAD = 10 * 1024 * 1024


@dataclass
class Integration:
    id: str
    logical_id: str
    type: str
    """``AWS_PROXY`` (Lambda, or an AWS service with a subtype), ``HTTP_PROXY``, ``AWS``, ``HTTP``, ``MOCK``."""
    uri: str | None
    method: str | None
    """``IntegrationMethod``: what an HTTP_PROXY integration sends (``ANY`` passes the request's)."""
    payload_format_version: str
    """``2.0`` or ``1.0`` for an HTTP API's Lambda proxy (``1.0`` for WebSocket)."""
    subtype: str | None = None
    """An AWS service integration's action: ``SQS-SendMessage``, ``EventBridge-PutEvents``..."""
    credentials: str | None = None
    request_parameters: dict[str, str] = field(default_factory=dict)
    response_parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    """By status code: ``overwrite:header.x`` style mappings of the answer."""
    request_templates: dict[str, str] = field(default_factory=dict)
    template_selection_expression: str | None = None
    passthrough_behavior: str | None = None
    content_handling: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    connection_type: str = "INTERNET"
    connection_id: str | None = None
    tls_config: dict[str, Any] = field(default_factory=dict)
    responses: dict[str, IntegrationResponse] = field(default_factory=dict)
    """WebSocket integration responses, by ``IntegrationResponseKey``."""


@dataclass
class IntegrationResponse:
    id: str
    key: str
    templates: dict[str, str]
    template_selection_expression: str | None
    parameters: dict[str, str]
    content_handling: str | None


@dataclass
class RouteResponse:
    id: str
    key: str
    models: dict[str, str]
    model_selection_expression: str | None
    parameters: dict[str, Any]


@dataclass
class Route:
    id: str
    logical_id: str
    key: str
    """``GET /items/{id}``, ``ANY /{proxy+}``, ``$default``; for WebSocket ``$connect``, ``sendMessage``..."""
    integration_id: str | None
    """From ``Target`` (``integrations/{id}``); None: the route has no integration."""
    authorization_type: str = "NONE"
    """``NONE``, ``JWT``, ``CUSTOM`` (a Lambda authorizer) or ``AWS_IAM``."""
    authorizer_id: str | None = None
    scopes: list[str] = field(default_factory=list)
    api_key_required: bool = False
    request_parameters: dict[str, Any] = field(default_factory=dict)
    request_models: dict[str, str] = field(default_factory=dict)
    model_selection_expression: str | None = None
    route_response_selection_expression: str | None = None
    operation_name: str | None = None
    responses: dict[str, RouteResponse] = field(default_factory=dict)

    @property
    def method(self) -> str | None:
        """The method of an HTTP route (``GET``, ``ANY``); None for ``$default`` and WebSocket routes."""
        method, _, path = self.key.partition(" ")
        return method if path else None

    @property
    def path(self) -> str | None:
        """The path of an HTTP route (``/items/{id}``); None for ``$default`` and WebSocket routes."""
        _, _, path = self.key.partition(" ")
        return path or None


@dataclass
class Authorizer:
    id: str
    logical_id: str
    name: str
    type: str
    """``JWT`` or ``REQUEST`` (a Lambda authorizer)."""
    identity_sources: list[str]
    """``$request.header.Authorization``, ``$request.querystring.token``, ``$context.x``, ``$stageVariables.x``."""
    issuer: str | None = None
    audience: list[str] = field(default_factory=list)
    uri: str | None = None
    credentials: str | None = None
    payload_format_version: str = "1.0"
    simple_responses: bool = False
    ttl: int = 0
    """Seconds a Lambda authorizer's answer is cached for its identity (0: not cached)."""


@dataclass
class RouteSettings:
    """A stage's ``DefaultRouteSettings`` or one of its ``RouteSettings``."""

    throttling_rate: float | None = None
    throttling_burst: int | None = None
    detailed_metrics: bool = False
    logging_level: str | None = None
    data_trace: bool = False


@dataclass
class AccessLog:
    destination_arn: str
    format: str


@dataclass
class Stage:
    name: str
    logical_id: str
    auto_deploy: bool = False
    deployment_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    default_route_settings: RouteSettings = field(default_factory=RouteSettings)
    route_settings: dict[str, RouteSettings] = field(default_factory=dict)
    access_log: AccessLog | None = None

    def settings_for(self, route_key: str) -> RouteSettings:
        """The route's own settings, each unset value taken from the stage's defaults."""
        own = self.route_settings.get(route_key)
        default = self.default_route_settings
        if own is None:
            return default
        return RouteSettings(
            own.throttling_rate if own.throttling_rate is not None else default.throttling_rate,
            own.throttling_burst if own.throttling_burst is not None else default.throttling_burst,
            own.detailed_metrics or default.detailed_metrics,
            own.logging_level or default.logging_level,
            own.data_trace or default.data_trace,
        )


@dataclass
class Deployment:
    id: str
    stage_name: str | None


@dataclass
class Cors:
    allow_origins: list[str] = field(default_factory=list)
    allow_methods: list[str] = field(default_factory=list)
    allow_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass
class Api:
    id: str
    logical_id: str
    name: str
    protocol: str
    """``HTTP`` or ``WEBSOCKET``."""
    region: str
    route_selection_expression: str
    """``${request.method} ${request.path}`` for HTTP; e.g. ``$request.body.action`` for WebSocket."""
    api_key_selection_expression: str | None = None
    cors: Cors | None = None
    default_endpoint: bool = True
    """False when ``DisableExecuteApiEndpoint``: only custom domains reach the API."""
    routes: dict[str, Route] = field(default_factory=dict)
    """By route key."""
    integrations: dict[str, Integration] = field(default_factory=dict)
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """``ApiEndpoint``: ``https://{id}.execute-api.{region}.amazonaws.com`` (``wss://`` for WebSocket)."""
        scheme = "wss" if self.protocol == "WEBSOCKET" else "https"
        return f"{scheme}://{self.id}.execute-api.{self.region}.amazonaws.com"

    def route_by_id(self, route_id: str) -> Route | None:
        return next((r for r in self.routes.values() if r.id == route_id), None)


@dataclass
class ApiMapping:
    id: str
    api_id: str
    stage: str
    key: str
    """The path the domain serves the stage under (``""``: the root)."""


@dataclass
class DomainName:
    name: str
    mappings: list[ApiMapping] = field(default_factory=list)
