"""API Gateway's request pipeline for the stack's REST APIs.

For each request, in AWS's order: the stage and route (403 ``Missing Authentication Token`` when
none serves it), the account's and the stage's throttles (429), the authorizer (401/403/500), the
API key and its usage plan's throttle and quota (403/429), the request validator (400), then the
integration and the response mapping. Each request is a ``request`` span in the trace, the cause
of what its integration does; an answer API Gateway gives itself logs one line with its cause
(logger ``localcloud.apigateway``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.errors import ApiGatewayError
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.services.apigateway import metrics
from localcloud.services.apigateway.authorizers import AuthorizerCache, authorize
from localcloud.services.apigateway.call import Call
from localcloud.services.apigateway.client import ApiClient
from localcloud.services.apigateway.integrations import integrate
from localcloud.services.apigateway.model import MAX_PAYLOAD, Account, RestApi, build
from localcloud.services.apigateway.policies import check_endpoint, check_policy
from localcloud.services.apigateway.responses import GatewayError, gateway_response
from localcloud.services.apigateway.routing import methods_of, route
from localcloud.services.apigateway.throttling import Limits
from localcloud.services.apigateway.validation import prepare, validate

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

log = logging.getLogger("localcloud.apigateway")


@dataclass(frozen=True)
class ApiEndpoint:
    logical_id: str
    api_id: str
    name: str
    stages: list[str]
    url: str
    """``https://{api_id}.execute-api.{region}.amazonaws.com/``"""
    stage_urls: dict[str, str]
    """Each stage's base URL as the stack's outputs spell it: ``.../{stage}/``."""


@dataclass(frozen=True)
class Route:
    """One method of an API: what a client can call."""

    method: str
    path: str
    api: RestApi
    request_model: str | None

    def example_body(self) -> Any:
        """A body that passes the method's request model (``{}`` when it has none)."""
        from localcloud.services.apigateway.validation import example

        return example(self.api, self.request_model) if self.request_model else {}


class ApiGateway:
    """The stack's REST APIs, served: the API Gateway service's state (``kernel.service("apigateway")``,
    ``cloud.apigateway``); ``cloud.api()`` gives a test client."""

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.definitions: dict[str, tuple[str, dict[str, Any]]] = {}
        """What the provisioners kept: ``(resource type, resolved properties)`` by logical id."""
        self._account: Account | None = None
        self.authorizer_cache = AuthorizerCache()
        self.limits = Limits()

    @property
    def account(self) -> Account:
        """The APIs, keys and plans, read from the template on first use."""
        if self._account is None:
            self._account = build(self.cloud, self.definitions)
            prepare(self._account.apis.values())
        return self._account

    # ------------------------------------------------------------------------------------ lookups

    def endpoints(self) -> list[ApiEndpoint]:
        host = f"execute-api.{self.cloud.region}.amazonaws.com"
        return [
            ApiEndpoint(
                logical_id=api.logical_id,
                api_id=api.id,
                name=api.name,
                stages=sorted(api.stages),
                url=f"https://{api.id}.{host}/",
                stage_urls={stage: f"https://{api.id}.{host}/{stage}/" for stage in sorted(api.stages)},
            )
            for api in self.account.apis.values()
        ]

    def routes(self, api_id: str) -> list[Route]:
        """The methods of an API, or, for a custom domain's name, of the APIs it maps (paths as
        the domain serves them: base path first)."""
        domain = self.account.domains.get(api_id.lower())
        if domain is not None:
            found = []
            for mapping in domain.mappings:
                api = self.account.apis[mapping.api_id]
                stage = "" if mapping.stage else f"/{min(api.stages)}" if api.stages else None
                if stage is None:
                    continue
                prefix = f"/{mapping.base_path}".rstrip("/") + stage
                found.extend(
                    Route(
                        r.method,
                        f"{prefix}{r.path}" if r.path != "/" else prefix or "/",
                        r.api,
                        r.request_model,
                    )
                    for r in self.routes(mapping.api_id)
                )
            return found
        api = self._by_id(api_id)
        routes = []
        for method in methods_of(api.root):
            model = method.request_models.get("application/json") or method.request_models.get("$default")
            routes.append(Route(method.http_method, method.resource.path, api, model))
        return routes

    def find(self, name: str | None = None) -> RestApi:
        """A REST API by logical id, a unique part of it, or its ``Name``; None: the only one."""
        apis = list(self.account.apis.values())
        if name is None:
            found = apis
        else:
            found = [a for a in apis if name in (a.logical_id, a.name, a.id)]
            found = found or [a for a in apis if name in a.logical_id]
        if len(found) != 1:
            there = ", ".join(f"{a.logical_id} ({a.name})" for a in apis) or "none"
            wanted = "exactly one REST API" if name is None else f"one REST API named {name!r}"
            raise ApiGatewayError(
                f"{self.cloud.stack_name} has {len(found)} instead of {wanted}; its REST APIs: {there}"
            )
        return found[0]

    def client(
        self, name: str | None = None, *, stage: str | None = None, domain: str | None = None
    ) -> ApiClient:
        if domain is not None:
            if domain.lower() not in self.account.domains:
                raise ApiGatewayError(
                    f"{domain!r} is not a custom domain of {self.cloud.stack_name}; its domains: "
                    f"{sorted(d.name for d in self.account.domains.values()) or 'none'}"
                )
            return ApiClient(self, "", "", domain=domain)
        api = self.find(name)
        if stage is None:
            if len(api.stages) != 1:
                raise ApiGatewayError(f"{api.name} has stages {sorted(api.stages) or 'none'}: pass stage=")
            stage = next(iter(api.stages))
        elif stage not in api.stages:
            raise ApiGatewayError(f"{api.name} has no stage {stage!r}; its stages: {sorted(api.stages)}")
        return ApiClient(self, api.id, stage)

    def api_key_value(self, name: str) -> str:
        """The value of an ``AWS::ApiGateway::ApiKey``, by logical id, construct path ending or ``Name``."""
        for logical_id, (resource_type, props) in self.definitions.items():
            if resource_type == "AWS::ApiGateway::ApiKey" and name in (logical_id, props.get("Name")):
                return props["Value"]
        resource_type, props = self.definitions.get(self.cloud.logical_id(name), ("", {}))
        if resource_type != "AWS::ApiGateway::ApiKey":
            raise ApiGatewayError(f"{name!r} is not an API key of {self.cloud.stack_name}")
        return props["Value"]

    def _by_id(self, api_id: str) -> RestApi:
        api = self.account.apis.get(api_id)
        if api is None:
            raise ApiGatewayError(f"no REST API {api_id!r} in {self.cloud.stack_name}")
        return api

    # ------------------------------------------------------------------------------------ serving

    def dispatch(self, api_id: str, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` (its path starts with the stage: ``/prod/items``) as API Gateway would.

        A ``Host`` header naming a custom domain of the stack routes by that domain's mappings."""
        host = (request.header("Host") or "").rsplit(":", 1)[0].lower()
        if host in self.account.domains:
            return self.dispatch_domain(host, request)
        stage_name, _, rest = request.path.lstrip("/").partition("/")
        return self._serve(api_id, request, stage_name, "/" + rest, None, "")

    def dispatch_domain(self, domain_name: str, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` made to custom domain ``domain_name`` (its path as the client sent it)."""
        domain = self.account.domains.get(domain_name.lower())
        if domain is None:
            raise ApiGatewayError(
                f"{domain_name!r} is not a custom domain of {self.cloud.stack_name}; "
                f"its domains: {sorted(d.name for d in self.account.domains.values()) or 'none'}"
            )
        found = domain.resolve(request.path)
        if found is None:
            return self._serve(None, request, "", request.path, domain.name, "")
        mapping, stage, rest = found
        return self._serve(
            mapping.api_id, request, stage, rest, domain.name, f"/{mapping.base_path}".rstrip("/")
        )

    def _serve(
        self,
        api_id: str | None,
        request: HttpRequest,
        stage_name: str,
        path: str,
        domain: str | None,
        base_path: str,
    ) -> HttpResponse:
        cloud = self.cloud
        api = self.account.apis.get(api_id) if api_id is not None else None
        source, parent = cloud.caller()
        span = cloud.trace.record(
            "request",
            "client" if source == "test" else source,
            f"api:{api.name if api else api_id or domain}",
            f"{request.method} {f'{domain}' if domain else ''}{request.path}",
            at=cloud.clock.elapsed(),
            parent=parent,
        )
        call: Call | None = None
        try:
            if api is None and domain is not None:
                raise GatewayError("ACCESS_DENIED", f"no base path mapping of {domain} serves {request.path}")
            if api is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN", f"no REST API {api_id}")
            if domain is None and not api.default_endpoint:
                raise GatewayError("ACCESS_DENIED", f"{api.name} disables its execute-api endpoint")
            if len(request.body) > MAX_PAYLOAD:
                raise GatewayError(
                    "REQUEST_TOO_LARGE",
                    f"the body of {len(request.body)} bytes is over API Gateway's payload limit of {MAX_PAYLOAD}",
                )
            stage = api.stages.get(stage_name)
            if stage is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN", f"{api.name} has no stage {stage_name!r}")
            # Slashes between the stage and the path collapse, as on AWS (``/prod//items`` is ``/items``).
            call = Call(cloud, api, stage, request, "/" + path.lstrip("/"), cloud.clock.now(), span.id)
            call.custom_domain, call.base_path = domain, base_path
            check_endpoint(call)
            self._filter(call)
            match = route(api.root, call.path, request.method)
            if match is None:
                raise GatewayError(
                    "MISSING_AUTHENTICATION_TOKEN", f"{api.name} has no method {request.method} {call.path}"
                )
            call.method, call.path_parameters = match.method, match.path_parameters
            check_policy(call)
            self._throttle(call)
            authorize(call, self.authorizer_cache)
            self._api_key(call)
            validate(call)
            response = integrate(call)
        except GatewayError as error:
            self._log(error, request, api)
            response = gateway_response(api, error, call)
        except ApiGatewayError as error:
            failure = GatewayError("API_CONFIGURATION_ERROR", str(error))
            self._log(failure, request, api)
            response = gateway_response(api, failure, call)
        except Exception as error:
            span.outcome = f"crashed: {type(error).__name__}"
            raise
        span.outcome = str(response.status)
        span.data["status"] = response.status
        if call is not None:
            metrics.served(cloud, api.name, stage_name, response.status, span)
        if call is not None:
            span.data["request_id"] = call.request_id
        return response

    def _log(self, error: GatewayError, request: HttpRequest, api: RestApi | None) -> None:
        level = logging.WARNING if error.status >= 500 else logging.INFO
        name = api.name if api else "-"
        log.log(
            level,
            "%s %s %s -> %s %s: %s",
            name,
            request.method,
            request.path,
            error.status,
            error.response_type,
            error.cause,
        )

    def _filter(self, call: Call) -> None:
        """The stage's web ACL, before API Gateway routes the request: a Block is WAF_FILTERED (403)."""
        acl = self.cloud.service("wafv2").for_stage(call.api.id, call.stage.name)
        if acl is None:
            return
        action, rule = acl.evaluate(call.request.path.encode("utf-8", "replace"))
        if action == "Block":
            why = f"rule {rule}" if rule else "its default action"
            self.cloud.trace.record(
                "waf",
                call.label,
                f"waf:{acl.name}",
                why,
                at=self.cloud.clock.elapsed(),
                parent=call.span,
                outcome="blocked",
                rule=rule,
            )
            raise GatewayError("WAF_FILTERED", f"web ACL {acl.name} blocked the request ({why})")

    def _throttle(self, call: Call) -> None:
        now = self.cloud.clock.elapsed()
        assert call.method is not None
        if not self.cloud.account_limits.take_api_gateway_account(now):
            raise GatewayError("THROTTLED", "the account's limit of requests per second is used up")
        throttle = call.stage.throttle_for(call.method.resource.path, call.method.http_method)
        if throttle is not None:
            key = (call.api.id, call.stage.name, call.method.resource.path, call.method.http_method)
            if not self.limits.take(key, throttle, now):
                raise GatewayError(
                    "THROTTLED",
                    f"stage {call.stage.name} allows {throttle.rate:g} requests per second, burst {throttle.burst}, "
                    f"on {call.method.http_method} {call.method.resource.path}",
                )

    def _api_key(self, call: Call) -> None:
        assert call.method is not None
        if not call.method.api_key_required:
            return
        value = (
            call.authorizer_api_key if call.api.api_key_source == "AUTHORIZER" else call.header("x-api-key")
        )
        key = next((k for k in self.account.keys.values() if k.value == value), None) if value else None
        stage = (call.api.id, call.stage.name)
        plans = [
            p
            for p in self.account.plans.values()
            if key is not None and key.id in p.key_ids and stage in p.stages
        ]
        if key is None or not key.enabled or not plans:
            why = (
                "no API key"
                if not value
                else "an unknown or disabled key"
                if key is None or not key.enabled
                else "a key in no usage plan of this stage"
            )
            raise GatewayError("INVALID_API_KEY", f"API key required; the request has {why}")
        call.api_key = key
        plan = plans[0]
        now = self.cloud.clock.elapsed()
        method_key = f"{call.method.resource.path}/{call.method.http_method}"
        for scope, throttle in (("plan", plan.throttle), (method_key, plan.stages[stage].get(method_key))):
            if throttle is not None and not self.limits.take((plan.id, key.id, scope), throttle, now):
                raise GatewayError("THROTTLED", f"usage plan {plan.id} throttles key {key.id} ({scope})")
        if plan.quota is not None and not self.limits.use_quota(
            plan.id, key.id, plan.quota, self.cloud.clock.now()
        ):
            raise GatewayError(
                "QUOTA_EXCEEDED",
                f"usage plan {plan.id}: key {key.id} used its {plan.quota.limit} requests per {plan.quota.period}",
            )
