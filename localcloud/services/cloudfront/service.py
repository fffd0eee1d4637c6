"""``cloud.cloudfront``: the stack's distributions, answering viewer requests as CloudFront does.

A request takes CloudFront's path: the first behavior whose path pattern matches (the default
last); its allowed methods (else 403); its viewer-request function, which may rewrite the request
or answer it (a function that throws gives 503); the edge cache, keyed and timed by the cache
policy on the virtual clock; the origin (S3 or API Gateway), with the origin path, the default
root object for ``/``, what the cache and origin request policies forward, and failover within an
origin group; custom error responses; a viewer's conditional request (304, on a caching
behavior); the response headers policy; the viewer-response function (not for origin errors, a custom
error response's page included, as CloudFront skips it); CloudFront's own headers (``Via``, ``X-Cache``,
``X-Amz-Cf-Id``).

Viewers are taken to use HTTPS, so ``ViewerProtocolPolicy`` never redirects; compression, geo
restrictions, signed URLs and Lambda@Edge are not modelled (the last two fail the stack's start).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import TYPE_CHECKING, Any

from localcloud.core.dynamic_references import resolve_secret_references
from localcloud.errors import ResourceNotFound, TemplateError
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.services.cloudfront import conditional, origins
from localcloud.services.cloudfront.distribution import (
    DEFAULT_ERROR_CACHING_TTL,
    Behavior,
    Distribution,
    ErrorResponse,
    Origin,
    OriginAccessControl,
    OriginAccessIdentity,
    OriginGroup,
    path_pattern_regex,
)
from localcloud.services.cloudfront.functions import (
    RUNTIMES,
    CloudFrontFunction,
    FunctionError,
    FunctionRunner,
    request_from,
    response_from,
    viewer_request_event,
    viewer_response_event,
)
from localcloud.services.cloudfront.invalidations import Invalidation, path_problem
from localcloud.services.cloudfront.policies import (
    MANAGED_CACHE_POLICIES,
    MANAGED_ORIGIN_REQUEST_POLICIES,
    MANAGED_RESPONSE_HEADERS_POLICIES,
    CachePolicy,
    OriginRequestPolicy,
    ResponseHeadersPolicy,
    cache_policy,
    legacy_cache_policy,
    origin_request_policy,
    response_headers_policy,
)

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

log = logging.getLogger("localcloud.cloudfront")
#: Statuses CloudFront caches for the cache policy's TTL; other errors for the error caching TTL.
CACHEABLE = frozenset({200, 203, 206, 300, 301, 410})
POP = "LCL1-C1"


@dataclass
class _Cached:
    response: HttpResponse
    stored_at: datetime
    ttl: int


@dataclass
class _Exchange:
    """One viewer request on its way through the distribution."""

    distribution: Distribution
    viewer: HttpRequest
    behavior: Behavior
    request_id: str
    request: HttpRequest = field(init=False)
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.request, self.uri = self.viewer, self.viewer.path


class CloudFront:
    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self._distributions: dict[str, Distribution] = {}
        self._functions: dict[str, CloudFrontFunction] = {}
        self._cache_policies: dict[str, CachePolicy] = dict(MANAGED_CACHE_POLICIES)
        self._origin_request_policies: dict[str, OriginRequestPolicy] = dict(MANAGED_ORIGIN_REQUEST_POLICIES)
        self._response_headers_policies: dict[str, ResponseHeadersPolicy] = dict(
            MANAGED_RESPONSE_HEADERS_POLICIES
        )
        self._access_controls: dict[str, OriginAccessControl] = {}
        self._access_identities: dict[str, OriginAccessIdentity] = {}
        self._caches: dict[str, dict[tuple[Any, ...], _Cached]] = {}
        self.invalidations: dict[str, dict[str, Invalidation]] = {}
        """By distribution id, then invalidation id: what ``CreateInvalidation`` made."""
        self._runner = FunctionRunner()
        self._request_ids = count(1)

    # ------------------------------------------------------------------------------------ lookups

    def distributions(self) -> list[Distribution]:
        return list(self._distributions.values())

    def client(self, name: str | None = None) -> DistributionClient:
        """A distribution by logical id, id, or a unique part of its logical id or construct path;
        ``None`` when the stack has exactly one."""
        candidates = self.distributions()
        if name is not None:
            exact = [d for d in candidates if name in (d.logical_id, d.id)]
            candidates = exact or [
                d
                for d in candidates
                if name in d.logical_id or name in self.cloud.artifact.construct_path(d.logical_id)
            ]
        if len(candidates) != 1:
            names = [d.logical_id for d in self.distributions()]
            raise ResourceNotFound(
                f"{name!r} names {len(candidates)} of the distributions of {self.cloud.stack_name}: {names or 'none'}"
            )
        return DistributionClient(self, candidates[0])

    def close(self) -> None:
        """End the node process that runs CloudFront Functions, if one started."""
        self._runner.close()

    def invalidate(self, distribution_id: str, paths: list[str]) -> int:
        """Drop cached responses whose path matches one of ``paths`` (``*`` only at the end, as
        CloudFront takes it), whatever their query strings and headers; how many."""
        for path in paths:
            problem = path_problem(path)
            if problem is not None:
                raise ValueError(problem)
        patterns = [re.compile(path_pattern_regex(path), re.DOTALL) for path in paths]
        cache = self._caches.get(distribution_id, {})
        stale = [key for key in cache if any(p.fullmatch(key[1]) for p in patterns)]
        for key in stale:
            del cache[key]
        return len(stale)

    # ------------------------------------------------------------------------------------ provisioning

    def add_function(self, logical_id: str, props: dict[str, Any]) -> CloudFrontFunction:
        runtime = props["FunctionConfig"]["Runtime"]
        if runtime not in RUNTIMES:
            raise TemplateError(
                f"{logical_id}: CloudFront Functions runtime {runtime!r} is not one of {RUNTIMES}"
            )
        name = props["Name"]
        arn = f"arn:{self.cloud.partition}:cloudfront::{self.cloud.account}:function/{name}"
        function = CloudFrontFunction(
            name, arn, runtime, props["FunctionCode"], str(props.get("AutoPublish", False)).lower() == "true"
        )
        self._functions[arn] = function
        return function

    def add_policy(self, kind: str, logical_id: str, config: dict[str, Any]) -> str:
        policy_id = _uuid(self.cloud.short_id(f"cloudfront/{logical_id}", 32))
        if kind == "cache":
            self._cache_policies[policy_id] = cache_policy(policy_id, config)
        elif kind == "origin-request":
            policy = origin_request_policy(policy_id, config)
            if policy.headers.behavior == "whitelist" and any(
                name.lower() == "authorization" for name in policy.headers.names
            ):
                # CloudFront answers 400: the header must be in the cache key, or a cached answer
                # to one caller would be served to every other.
                raise TemplateError(
                    f"{logical_id}: an origin request policy cannot forward the Authorization header; "
                    "put it in the cache policy's key"
                )
            self._origin_request_policies[policy_id] = policy
        else:
            self._response_headers_policies[policy_id] = response_headers_policy(policy_id, config)
        return policy_id

    def add_access_control(self, logical_id: str, config: dict[str, Any]) -> OriginAccessControl:
        control = OriginAccessControl(
            self.cloud.short_id(f"cloudfront/{logical_id}", 14).upper(),
            config["Name"],
            config["OriginAccessControlOriginType"],
            config["SigningBehavior"],
        )
        self._access_controls[control.id] = control
        return control

    def add_access_identity(self, logical_id: str) -> OriginAccessIdentity:
        identity = OriginAccessIdentity(
            "E" + self.cloud.short_id(f"cloudfront/{logical_id}", 13).upper(),
            self.cloud.short_id(f"cloudfront/{logical_id}/canonical", 64),
        )
        self._access_identities[identity.id] = identity
        return identity

    def add_distribution(self, logical_id: str, config: dict[str, Any]) -> Distribution:
        distribution_id = "E" + self.cloud.short_id(f"cloudfront/{logical_id}", 13).upper()
        parsed_origins = {item["Id"]: self._origin(logical_id, item) for item in config.get("Origins", [])}
        targets: dict[str, Origin | OriginGroup] = dict(parsed_origins)
        for group in config.get("OriginGroups", {}).get("Items", []):
            members = [parsed_origins[m["OriginId"]] for m in group["Members"]["Items"]]
            statuses = frozenset(int(s) for s in group["FailoverCriteria"]["StatusCodes"]["Items"])
            targets[group["Id"]] = OriginGroup(group["Id"], members, statuses)
        behaviors = [
            self._behavior(logical_id, item, targets, item["PathPattern"])
            for item in config.get("CacheBehaviors", [])
        ]
        behaviors.append(self._behavior(logical_id, config["DefaultCacheBehavior"], targets, None))
        errors = {
            int(item["ErrorCode"]): ErrorResponse(
                int(item["ErrorCode"]),
                int(item["ResponseCode"]) if item.get("ResponseCode") not in (None, "") else None,
                item.get("ResponsePagePath") or None,
                int(item.get("ErrorCachingMinTTL", DEFAULT_ERROR_CACHING_TTL)),
            )
            for item in config.get("CustomErrorResponses", [])
        }
        distribution = Distribution(
            logical_id,
            distribution_id,
            f"d{self.cloud.short_id(f'cloudfront/{logical_id}/domain', 13)}.cloudfront.net",
            f"arn:{self.cloud.partition}:cloudfront::{self.cloud.account}:distribution/{distribution_id}",
            str(config.get("Enabled", True)).lower() == "true",
            behaviors,
            config.get("DefaultRootObject", ""),
            errors,
        )
        self._distributions[distribution_id] = distribution
        self._caches[distribution_id] = {}
        return distribution

    def _origin(self, logical_id: str, item: dict[str, Any]) -> Origin:
        control = None
        if item.get("OriginAccessControlId"):
            control = self._access_controls.get(item["OriginAccessControlId"])
            if control is None:
                raise TemplateError(
                    f"{logical_id}: origin {item['Id']} names an unknown origin access control"
                )
        identity = None
        oai = item.get("S3OriginConfig", {}).get("OriginAccessIdentity", "")
        if oai:
            identity = self._access_identities.get(oai.rsplit("/", 1)[-1])
            if identity is None:
                raise TemplateError(
                    f"{logical_id}: origin {item['Id']} names an unknown access identity {oai}"
                )
        headers = {
            h["HeaderName"]: self._resolved(h["HeaderValue"], logical_id)
            for h in item.get("OriginCustomHeaders", [])
        }
        return Origin(
            item["Id"], item["DomainName"], item.get("OriginPath", "").rstrip("/"), headers, control, identity
        )

    def _resolved(self, value: Any, logical_id: str) -> Any:
        """A header value with its ``{{resolve:secretsmanager:...}}`` references read, as
        CloudFormation resolves them (a secret kept out of the template)."""
        if not isinstance(value, str) or "{{resolve:" not in value:
            return value
        return resolve_secret_references(self.cloud, value, logical_id)

    def _behavior(
        self,
        logical_id: str,
        item: dict[str, Any],
        targets: dict[str, Origin | OriginGroup],
        pattern: str | None,
    ) -> Behavior:
        where = f"{logical_id} behavior {pattern or '(default)'}"
        if item.get("LambdaFunctionAssociations"):
            raise TemplateError(f"{where}: Lambda@Edge functions are not run by the local cloud")
        if item.get("TrustedKeyGroups") or item.get("TrustedSigners"):
            raise TemplateError(f"{where}: signed URLs and cookies are not supported by the local cloud")
        if item["TargetOriginId"] not in targets:
            raise TemplateError(f"{where}: TargetOriginId {item['TargetOriginId']} names no origin")
        functions: dict[str, CloudFrontFunction] = {}
        for association in item.get("FunctionAssociations", []):
            function = self._functions.get(association["FunctionARN"])
            if function is None:
                raise TemplateError(f"{where}: no CloudFront function {association['FunctionARN']}")
            if not function.published:
                raise TemplateError(
                    f"{where}: function {function.name} is not published (AutoPublish), so CloudFront "
                    "cannot associate it"
                )
            functions[association["EventType"]] = function
        if "CachePolicyId" in item:
            cache = self._known(self._cache_policies, item["CachePolicyId"], "cache policy", where)
        else:
            cache = legacy_cache_policy(item)
        origin_request = response_headers = None
        if item.get("OriginRequestPolicyId"):
            origin_request = self._known(
                self._origin_request_policies, item["OriginRequestPolicyId"], "origin request policy", where
            )
        if item.get("ResponseHeadersPolicyId"):
            response_headers = self._known(
                self._response_headers_policies,
                item["ResponseHeadersPolicyId"],
                "response headers policy",
                where,
            )
        return Behavior(
            pattern,
            targets[item["TargetOriginId"]],
            tuple(item.get("AllowedMethods", ["GET", "HEAD"])),
            tuple(item.get("CachedMethods", ["GET", "HEAD"])),
            cache,
            origin_request,
            response_headers,
            functions.get("viewer-request"),
            functions.get("viewer-response"),
        )

    @staticmethod
    def _known(policies: dict[str, Any], policy_id: str, kind: str, where: str) -> Any:
        if policy_id not in policies:
            raise TemplateError(
                f"{where}: {kind} {policy_id} is neither in the template nor one of AWS's managed ones"
            )
        return policies[policy_id]

    # ------------------------------------------------------------------------------------ serving

    def dispatch(self, distribution_id: str, request: HttpRequest) -> HttpResponse:
        """CloudFront's answer to a viewer's request; never raises for what a viewer sends."""
        distribution = self._distributions.get(distribution_id)
        if distribution is None:
            log.info("no distribution %s in %s: 403", distribution_id, self.cloud.stack_name)
            return _error_page(
                403, "Bad request. We can't connect to the server for this app or website.", "Error"
            )
        started = self.cloud.clock.elapsed()
        exchange = _Exchange(
            distribution, request, distribution.behavior_for(request.path), self._request_id(distribution)
        )
        response = self._serve(exchange)
        response.headers.update(
            {
                "Via": [f"1.1 {distribution.domain_name} (CloudFront)"],
                "X-Amz-Cf-Pop": [POP],
                "X-Amz-Cf-Id": [exchange.request_id],
            }
        )
        if request.method == "HEAD":
            response.body = b""
        self.cloud.trace.record(
            "request",
            "viewer",
            f"cloudfront:{distribution.id}",
            f"{request.method} {request.path} -> {response.status} ({response.header('X-Cache')})",
            at=started,
            outcome=str(response.status),
        ).ended = self.cloud.clock.elapsed()
        return response

    def _serve(self, exchange: _Exchange) -> HttpResponse:
        distribution, behavior, viewer = exchange.distribution, exchange.behavior, exchange.viewer
        if not distribution.enabled:
            log.info("distribution %s is disabled: 403", distribution.id)
            return _error_page(403, "Bad request. The distribution is disabled.", "Error")
        if viewer.method not in behavior.allowed_methods:
            log.info(
                "%s %s: behavior %s allows only %s: 403",
                viewer.method,
                viewer.path,
                behavior.path_pattern or "(default)",
                ", ".join(behavior.allowed_methods),
            )
            return _error_page(
                403,
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
                "Error",
            )
        if behavior.viewer_request is not None:
            generated = self._viewer_request(exchange, behavior.viewer_request)
            if generated is not None:
                return generated
        response = self._cached_or_fetched(exchange)
        if behavior.cache.max_ttl > 0 and response.header("X-Cache") != "Error from cloudfront":
            # A caching behavior answers a conditional request itself; one that caches nothing
            # forwards it, and the origin decides.
            response = conditional.not_modified(viewer, response) or response
        if behavior.response_headers is not None:
            behavior.response_headers.apply(exchange.request, response)
        # CloudFront runs no viewer-response function when the origin answered 400 or more, even
        # when a custom error response turned that answer into a 200 page.
        origin_error = response.status >= 400 or response.header("X-Cache") == "Error from cloudfront"
        if behavior.viewer_response is not None and not origin_error:
            response = self._viewer_response(exchange, behavior.viewer_response, response)
        return response

    def _viewer_request(self, exchange: _Exchange, function: CloudFrontFunction) -> HttpResponse | None:
        event = viewer_request_event(
            exchange.distribution, exchange.viewer, exchange.uri, exchange.request_id
        )
        try:
            result = self._runner.run(function, event)
            if not isinstance(result, dict):
                raise FunctionError(f"it returned {json.dumps(result)}, not a request or a response")
            if "statusCode" in result:
                response = response_from(result)
                response.headers["X-Cache"] = ["FunctionGeneratedResponse from cloudfront"]
                return response
            exchange.request, exchange.uri = request_from(result, exchange.viewer)
        except FunctionError as error:
            log.info("viewer-request function %s failed: %s: 503", function.name, error)
            return _function_failed()
        return None

    def _viewer_response(
        self, exchange: _Exchange, function: CloudFrontFunction, response: HttpResponse
    ) -> HttpResponse:
        event = viewer_response_event(
            exchange.distribution, exchange.request, exchange.uri, response, exchange.request_id
        )
        try:
            result = self._runner.run(function, event)
            if not isinstance(result, dict):
                raise FunctionError(f"it returned {json.dumps(result)}, not a response")
            final = response_from(result, body=response.body)
        except FunctionError as error:
            log.info("viewer-response function %s failed: %s: 503", function.name, error)
            return _function_failed()
        if final.header("X-Cache") is None:
            final.headers["X-Cache"] = response.headers.get("X-Cache", [])
        return final

    def _cached_or_fetched(self, exchange: _Exchange) -> HttpResponse:
        behavior, request = exchange.behavior, exchange.request
        cache = self._caches[exchange.distribution.id]
        key = self._cache_key(exchange) if request.method in behavior.cached_methods else None
        now = self.cloud.clock.now()
        entry = cache.get(key) if key is not None else None
        if entry is not None and (now - entry.stored_at).total_seconds() < entry.ttl:
            response = _copy(entry.response)
            response.headers["Age"] = [str(int((now - entry.stored_at).total_seconds()))]
            if response.headers["X-Cache"] == ["Miss from cloudfront"]:
                response.headers["X-Cache"] = ["Hit from cloudfront"]
            return response
        response, ttl = self._from_origin(exchange)
        if key is not None and ttl > 0:
            cache[key] = _Cached(_copy(response), now, ttl)
        return response

    def _from_origin(self, exchange: _Exchange) -> tuple[HttpResponse, int]:
        """The origin's answer, after custom error responses, and how long the cache may keep it."""
        distribution, behavior = exchange.distribution, exchange.behavior
        path = exchange.uri
        if path == "/" and distribution.default_root_object:
            path = f"/{distribution.default_root_object.lstrip('/')}"
        response = self._fetch(exchange, behavior, path)
        if response.status < 400:
            response.headers["X-Cache"] = ["Miss from cloudfront"]
            ttl = behavior.cache.ttl(response) if response.status in CACHEABLE else 0
            return response, ttl
        response.headers["X-Cache"] = ["Error from cloudfront"]
        custom = distribution.error_responses.get(response.status)
        ttl = DEFAULT_ERROR_CACHING_TTL if behavior.cache.max_ttl > 0 else 0
        if custom is None:
            return response, ttl
        ttl = custom.caching_ttl if behavior.cache.max_ttl > 0 else 0
        if custom.page_path:
            page_behavior = distribution.behavior_for(custom.page_path)
            page = self._fetch(exchange, page_behavior, custom.page_path, method="GET")
            log.info(
                "%s %s: origin answered %s; custom error response %s with %s",
                exchange.viewer.method,
                exchange.viewer.path,
                response.status,
                custom.response_code or response.status,
                custom.page_path,
            )
            page.headers["X-Cache"] = ["Error from cloudfront"]
            if page.status >= 400:
                return page, ttl
            response = page
        response.status = custom.response_code or response.status
        return response, ttl

    def _fetch(
        self, exchange: _Exchange, behavior: Behavior, path: str, method: str | None = None
    ) -> HttpResponse:
        """Ask the behavior's origin (the next member of a group on a failover status)."""
        members = behavior.target.members if isinstance(behavior.target, OriginGroup) else [behavior.target]
        failover = behavior.target.statuses if isinstance(behavior.target, OriginGroup) else frozenset()
        response = HttpResponse(502)
        for position, origin in enumerate(members):
            request = self._origin_request(exchange, behavior, origin, path, method)
            try:
                response = origins.fetch(self.cloud, exchange.distribution, origin, request)
            except origins.OriginUnreachable as error:
                log.info("%s %s: %s: 502", exchange.viewer.method, exchange.viewer.path, error)
                response = _error_page(502, "CloudFront wasn't able to connect to the origin.", "Error")
            if response.status not in failover or position == len(members) - 1:
                break
            log.info(
                "origin %s answered %s: failing over to %s",
                origin.id,
                response.status,
                members[position + 1].id,
            )
        return response

    def _origin_request(
        self, exchange: _Exchange, behavior: Behavior, origin: Origin, path: str, method: str | None
    ) -> HttpRequest:
        """What CloudFront sends the origin: what the cache and origin request policies forward."""
        request = exchange.request
        cache, extra = behavior.cache, behavior.origin_request
        # Authorization reaches the origin only in the cache key, or through the origin request
        # policy of a behavior that caches nothing: never an answer cached without it in the key.
        forwards_extra = {
            name
            for name in request.headers
            if extra is not None
            and extra.headers.takes(name, case_sensitive=False)
            and (name.lower() != "authorization" or cache.max_ttl == 0)
        }
        headers = {
            name: values
            for name, values in request.headers.items()
            if name.lower() != "cookie"
            and (cache.headers.takes(name, case_sensitive=False) or name in forwards_extra)
        }
        cookies = [
            f"{name}={value}"
            for name, value in _cookies(request)
            if cache.cookies.takes(name, case_sensitive=True)
            or (extra is not None and extra.cookies.takes(name, case_sensitive=True))
        ]
        if cookies:
            headers["Cookie"] = ["; ".join(cookies)]
        query = {
            name: values
            for name, values in request.query.items()
            if cache.query.takes(name, case_sensitive=True)
            or (extra is not None and extra.query.takes(name, case_sensitive=True))
        }
        if not any(name.lower() == "host" for name in headers):
            headers["Host"] = [origin.domain]
        headers.update({name: [value] for name, value in origin.custom_headers.items()})
        headers["X-Forwarded-For"] = [request.source_ip]
        headers["X-Amz-Cf-Id"] = [exchange.request_id]
        headers.setdefault("Via", [f"1.1 {exchange.distribution.domain_name} (CloudFront)"])
        if not any(name.lower() == "user-agent" for name in headers):
            headers["User-Agent"] = ["Amazon CloudFront"]
        return HttpRequest(
            method or request.method, f"{origin.path}{path}", headers, query, request.body, request.source_ip
        )

    def _cache_key(self, exchange: _Exchange) -> tuple[Any, ...]:
        request, cache = exchange.request, exchange.behavior.cache
        headers = tuple(
            sorted(
                (name.lower(), tuple(values))
                for name, values in request.headers.items()
                if name.lower() != "cookie" and cache.headers.takes(name, case_sensitive=False)
            )
        )
        cookies = tuple(
            sorted(item for item in _cookies(request) if cache.cookies.takes(item[0], case_sensitive=True))
        )
        query = tuple(
            sorted(
                (name, tuple(values))
                for name, values in request.query.items()
                if cache.query.takes(name, case_sensitive=True)
            )
        )
        return (exchange.behavior.path_pattern, exchange.uri, headers, cookies, query)

    def _request_id(self, distribution: Distribution) -> str:
        seed = self.cloud.short_id(f"cloudfront/{distribution.id}/request/{next(self._request_ids)}", 56)
        return f"{seed[:54]}=="


class DistributionClient:
    """A test's viewer of one distribution: ``cloud.distribution().get("/")``."""

    def __init__(self, cloudfront: CloudFront, distribution: Distribution) -> None:
        self._cloudfront = cloudfront
        self.distribution = distribution

    @property
    def id(self) -> str:
        return self.distribution.id

    @property
    def domain_name(self) -> str:
        return self.distribution.domain_name

    @property
    def url(self) -> str:
        return f"https://{self.distribution.domain_name}"

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        query: dict[str, str | list[str]] | None = None,
        json: Any = None,
    ) -> HttpResponse:
        """Send a request as a viewer would to ``https://{domain}{path}`` (``Host`` is the domain)."""
        all_headers = {"Host": self.domain_name, **(headers or {})}
        request = HttpRequest.build(method, path, json=json, body=body, headers=all_headers, query=query)
        return self._cloudfront.dispatch(self.id, request)

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", path, **kwargs)

    def invalidate(self, *paths: str) -> int:
        """Drop cached responses for ``paths`` (``/*`` for all), as an invalidation does; how many."""
        return self._cloudfront.invalidate(self.id, list(paths))


def _cookies(request: HttpRequest) -> list[tuple[str, str]]:
    pairs = []
    for name, values in request.headers.items():
        if name.lower() == "cookie":
            for value in values:
                for pair in value.split(";"):
                    key, _, item = pair.strip().partition("=")
                    if key:
                        pairs.append((key, item))
    return pairs


def _copy(response: HttpResponse) -> HttpResponse:
    return HttpResponse(
        response.status, {name: list(values) for name, values in response.headers.items()}, response.body
    )


def _function_failed() -> HttpResponse:
    return _error_page(
        503,
        "The CloudFront function associated with the CloudFront distribution is invalid or could not run.",
        "FunctionExecutionError",
    )


def _error_page(status: int, reason: str, cache_status: str) -> HttpResponse:
    """The HTML page CloudFront answers with when it cannot satisfy a request itself."""
    body = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n'
        "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n"
        f'<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size="1px">\n'
        f"{reason}\n</BODY></HTML>"
    )
    return HttpResponse(
        status,
        {
            "Content-Type": ["text/html"],
            "Server": ["CloudFront"],
            "X-Cache": [f"{cache_status} from cloudfront"],
        },
        body.encode(),
    )


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"
