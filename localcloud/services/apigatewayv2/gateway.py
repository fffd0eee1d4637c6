"""API Gateway v2's state in one cloud, and the request pipeline of its HTTP APIs.

For each request to an HTTP API, in AWS's order: the stage (by the first path part, else
``$default``), a CORS preflight, the route (404 ``Not Found``), the account's and the route's
throttle (429), the route's authorization (401/403), then the integration; CORS headers go on
the answer, and the stage's access log gets its line. Each request is a ``request`` span in the
trace, the cause of what its integration does; an answer API Gateway gives itself logs one line
with its cause (logger ``localcloud.apigatewayv2``). WebSocket APIs share the model and are served
elsewhere.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from localcloud.core.metrics import api_request_served
from localcloud.errors import ApiGatewayError
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.lib.token_bucket import ACCOUNT_BURST_LIMIT, ACCOUNT_RATE_LIMIT, TokenBuckets
from localcloud.services.apigatewayv2 import access_log
from localcloud.services.apigatewayv2.answers import (
    FORBIDDEN,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    TOO_MANY_REQUESTS,
    Refusal,
)
from localcloud.services.apigatewayv2.authorizers import authorize
from localcloud.services.apigatewayv2.call import HttpCall, new_request_id
from localcloud.services.apigatewayv2.cors import decorate, is_preflight, preflight
from localcloud.services.apigatewayv2.integrations import integrate
from localcloud.services.apigatewayv2.model import (
    MAX_PAYLOAD,
    Api,
    DomainName,
    Stage,
)
from localcloud.services.apigatewayv2.routing import route

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.apigatewayv2.client import HttpApiClient

log = logging.getLogger("localcloud.apigatewayv2")


class ApiGatewayV2:
    """The stack's HTTP and WebSocket APIs (``kernel.service("apigatewayv2")``); ``cloud.http_api()``
    gives a test client of an HTTP API's stage."""

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.apis: dict[str, Api] = {}
        """Every API of the stack, both protocols, by id."""
        self.domains: dict[str, DomainName] = {}
        """Custom domains by (lower-cased) name."""
        self.buckets = TokenBuckets()
        self.authorizer_cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        """Lambda authorizers' answers: (authorizer id, identity) -> (until when, the answer)."""
        self.trusted_issuers: dict[str, Any] = {}
        """JWT issuers' signing keys given by :meth:`trust_issuer`, by issuer URL."""

    def trust_issuer(self, issuer: str, jwks: dict[str, Any]) -> None:
        """Give JWT authorizers of ``issuer`` its key set (a JWKS document: ``{"keys": [...]}``), as
        AWS would fetch it from the issuer; the local cloud fetches nothing from the network.
        Cognito user pools of the stack need none: their keys are the cloud's own."""
        from localcloud.lib.jwks import key_set

        self.trusted_issuers[issuer.rstrip("/")] = key_set(jwks)

    # ------------------------------------------------------------------------------------ lookups

    def http_apis(self) -> list[Api]:
        return [api for api in self.apis.values() if api.protocol == "HTTP"]

    def find(self, name: str | None = None, protocol: str = "HTTP") -> Api:
        """An API of ``protocol`` by logical id, id, ``Name`` or a unique part of its logical id;
        None: the stack's only one."""
        apis = [api for api in self.apis.values() if api.protocol == protocol]
        if name is None:
            found = apis
        else:
            found = [a for a in apis if name in (a.logical_id, a.name, a.id)]
            found = found or [a for a in apis if name in a.logical_id]
        if len(found) != 1:
            there = ", ".join(f"{a.logical_id} ({a.name})" for a in apis) or "none"
            wanted = f"exactly one {protocol} API" if name is None else f"one {protocol} API named {name!r}"
            raise ApiGatewayError(
                f"{self.cloud.stack_name} has {len(found)} instead of {wanted}; its {protocol} APIs: {there}"
            )
        return found[0]

    def client(self, name: str | None = None, *, stage: str | None = None) -> HttpApiClient:
        from localcloud.services.apigatewayv2.client import HttpApiClient

        api = self.find(name)
        if stage is None:
            if len(api.stages) != 1:
                raise ApiGatewayError(f"{api.name} has stages {sorted(api.stages) or 'none'}: pass stage=")
            stage = next(iter(api.stages))
        elif stage not in api.stages:
            raise ApiGatewayError(f"{api.name} has no stage {stage!r}; its stages: {sorted(api.stages)}")
        return HttpApiClient(self, api.id, stage)

    def domain_client(self, domain: str) -> HttpApiClient:
        """A client of custom domain ``domain``: paths start with the mapping's key."""
        from localcloud.services.apigatewayv2.client import HttpApiClient

        if domain.lower() not in self.domains:
            raise ApiGatewayError(
                f"{domain!r} is not a custom domain of {self.cloud.stack_name}; its domains: {sorted(self.domains) or 'none'}"
            )
        return HttpApiClient(self, "", "", domain=domain.lower())

    def stage_url(self, api: Api, stage: str) -> str:
        """The stage's invoke URL as CDK's ``url`` spells it: ``.../`` for ``$default``, ``.../prod``."""
        return f"{api.endpoint}/" if stage == "$default" else f"{api.endpoint}/{stage}"

    # ------------------------------------------------------------------------------------ serving

    def dispatch(self, api_id: str, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` to HTTP API ``api_id`` as API Gateway would: its path starts with a
        named stage (``/prod/items``), or is the ``$default`` stage's path (``/items``)."""
        host = (request.header("Host") or "").rsplit(":", 1)[0].lower()
        if host in self.domains:
            return self.dispatch_domain(host, request)
        api = self.apis.get(api_id)
        if api is None or api.protocol != "HTTP":
            raise ApiGatewayError(f"no HTTP API {api_id!r} in {self.cloud.stack_name}")
        first, _, rest = request.path.lstrip("/").partition("/")
        if first in api.stages and first != "$default":
            return self._serve(api, api.stages[first], request, "/" + rest)
        return self._serve(api, api.stages.get("$default"), request, request.path)

    def dispatch_domain(self, domain_name: str, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` made to custom domain ``domain_name``: the mapping whose key is the
        longest leading part of the path picks the API and stage, and the rest is the route's path;
        no mapping is 404 ``Not Found``."""
        domain = self.domains.get(domain_name.lower())
        if domain is None:
            raise ApiGatewayError(
                f"{domain_name!r} is not a custom domain of {self.cloud.stack_name}; its domains: "
                f"{sorted(self.domains) or 'none'}"
            )
        path = request.path.lstrip("/")
        found = [m for m in domain.mappings if not m.key or path == m.key or path.startswith(f"{m.key}/")]
        if not found:
            log.info(
                "%s %s: no API mapping of %s serves it -> 404", request.method, request.path, domain.name
            )
            return Refusal(NOT_FOUND, "no mapping").response(new_request_id())
        mapping = max(found, key=lambda m: len(m.key))
        api = self.apis[mapping.api_id]
        rest = "/" + path[len(mapping.key) :].lstrip("/")
        return self._serve(api, api.stages.get(mapping.stage), request, rest, domain.name)

    def _serve(
        self, api: Api, stage: Stage | None, request: HttpRequest, path: str, domain: str | None = None
    ) -> HttpResponse:
        cloud = self.cloud
        source, parent = cloud.caller()
        span = cloud.trace.record(
            "request",
            "client" if source == "test" else source,
            f"api:{api.name}",
            f"{request.method} {request.path}",
            at=cloud.clock.elapsed(),
            parent=parent,
        )
        call: HttpCall | None = None
        request_id = new_request_id()
        error: tuple[str, str] | None = None
        try:
            if stage is None or not _deployed(api, stage):
                why = "no stage serves the path" if stage is None else f"stage {stage.name} is not deployed"
                raise Refusal(NOT_FOUND, f"{api.name}: {why}")
            if api.cors is not None and is_preflight(request):
                response = preflight(api.cors, request, request_id)
                span.outcome = str(response.status)
                span.data.update(status=response.status, request_id=request_id, cors="preflight")
                return response
            call = HttpCall(
                cloud, api, stage, request, path or "/", cloud.clock.now(), span.id, request_id=request_id
            )
            call.custom_domain = domain
            if domain is None and not api.default_endpoint:
                raise Refusal(FORBIDDEN, f"{api.name} disables its execute-api endpoint")
            if len(request.body) > MAX_PAYLOAD:
                raise Refusal(
                    PAYLOAD_TOO_LARGE, f"the body of {len(request.body)} bytes is over {MAX_PAYLOAD}"
                )
            match = route(api, request.method, call.path)
            if match is None:
                raise Refusal(NOT_FOUND, f"{api.name} has no route for {request.method} {call.path}")
            call.route, call.path_parameters = match.route, match.path_parameters
            self._throttle(call)
            authorize(call)
            response = integrate(call)
        except Refusal as refusal:
            level = logging.WARNING if refusal.status >= 500 else logging.INFO
            log.log(
                level,
                "%s %s %s -> %s: %s",
                api.name,
                request.method,
                request.path,
                refusal.status,
                refusal.cause,
            )
            span.data["cause"] = refusal.cause
            error = (refusal.message, refusal.response_type)
            response = refusal.response(request_id)
        except Exception as error:
            span.outcome = f"crashed: {type(error).__name__}"
            raise
        if api.cors is not None:
            response = decorate(api.cors, request, response)
        if stage is not None:
            access_log.write(cloud, api, stage, request, response, call, request_id, error)
            # An HTTP API's metrics: ApiId, and ApiId with Stage; its error counts are 4xx and 5xx.
            dimensions = [{"ApiId": api.id}, {"ApiId": api.id, "Stage": stage.name}]
            api_request_served(cloud, dimensions, response.status, span, errors=("4xx", "5xx"))
        span.outcome = str(response.status)
        span.data["status"] = response.status
        span.data["request_id"] = request_id
        return response

    def _throttle(self, call: HttpCall) -> None:
        now = self.cloud.clock.elapsed()
        if not self.cloud.account_limits.take_api_gateway_account(now):
            raise Refusal(TOO_MANY_REQUESTS, "the account's limit of requests per second is used up")
        assert call.route is not None
        settings = call.stage.settings_for(call.route.key)
        if settings.throttling_rate is None and settings.throttling_burst is None:
            return
        rate = settings.throttling_rate if settings.throttling_rate is not None else ACCOUNT_RATE_LIMIT
        burst = settings.throttling_burst if settings.throttling_burst is not None else ACCOUNT_BURST_LIMIT
        key = (call.api.id, call.stage.name, call.route.key)
        if not self.buckets.take(key, rate, burst, now):
            raise Refusal(
                TOO_MANY_REQUESTS,
                f"stage {call.stage.name} allows {rate:g} requests per second, burst {burst}, on {call.route.key}",
            )


def _deployed(api: Api, stage: Stage) -> bool:
    """A stage serves once deployed: by itself (auto-deploy) or by a deployment naming it."""
    return (
        stage.auto_deploy
        or stage.deployment_id is not None
        or any(d.stage_name == stage.name for d in api.deployments.values())
    )
