"""Cache, origin request and response headers policies: the template's own and AWS's managed ones.

A cache policy decides the cache key and the TTLs, and what it keys on is forwarded to the origin;
an origin request policy forwards more without keying on it; a response headers policy adds
security, CORS and custom headers to what the viewer gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localcloud.lib.http import HttpRequest, HttpResponse

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@dataclass(frozen=True)
class Selection:
    """Which headers, cookies or query strings a policy takes: ``none``, ``whitelist``, ``allExcept``,
    ``all`` (``allViewer`` and ``allViewerAndWhitelistCloudFront`` for an origin request policy's headers)."""

    behavior: str = "none"
    names: tuple[str, ...] = ()

    def takes(self, name: str, *, case_sensitive: bool) -> bool:
        matches = name in self.names if case_sensitive else name.lower() in {n.lower() for n in self.names}
        if self.behavior in ("all", "allViewer"):
            return True
        if self.behavior == "allExcept":
            return not matches
        if self.behavior == "allViewerAndWhitelistCloudFront":
            return not name.lower().startswith("cloudfront-") or matches
        return self.behavior == "whitelist" and matches


@dataclass(frozen=True)
class CachePolicy:
    id: str
    name: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    headers: Selection = Selection()
    cookies: Selection = Selection()
    query: Selection = Selection()

    def ttl(self, response: HttpResponse) -> int:
        """How long CloudFront keeps ``response``: the origin's ``Cache-Control`` within the policy's bounds."""
        directives = _cache_control(response.header("Cache-Control") or "")
        if {"no-store", "no-cache", "private"} & set(directives):
            return self.min_ttl
        age = directives.get("s-maxage", directives.get("max-age"))
        if age is None or not age.isdigit():
            return self.default_ttl
        return max(self.min_ttl, min(int(age), self.max_ttl))


@dataclass(frozen=True)
class OriginRequestPolicy:
    id: str
    name: str
    headers: Selection = Selection()
    cookies: Selection = Selection()
    query: Selection = Selection()


@dataclass(frozen=True)
class Cors:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    expose: tuple[str, ...] = ()
    credentials: bool = False
    max_age: int | None = None
    override: bool = False


@dataclass(frozen=True)
class ResponseHeadersPolicy:
    id: str
    name: str
    headers: tuple[tuple[str, str, bool], ...] = ()
    """(name, value, override) for the security and custom headers, in the order they apply."""
    cors: Cors | None = None
    remove: tuple[str, ...] = field(default=())

    def apply(self, request: HttpRequest, response: HttpResponse) -> None:
        """Add the policy's headers to ``response`` for ``request`` (CORS only for a matching ``Origin``)."""
        if self.cors is not None:
            self._apply_cors(request, response)
        for name, value, override in self.headers:
            if override or response.header(name) is None:
                _set(response, name, value)
        for name in self.remove:
            _remove(response, name)

    def _apply_cors(self, request: HttpRequest, response: HttpResponse) -> None:
        cors = self.cors
        assert cors is not None
        origin = request.header("Origin")
        if origin is None or not ("*" in cors.origins or origin in cors.origins):
            return
        if not cors.override and any(name.lower().startswith("access-control-") for name in response.headers):
            return
        _set(response, "Access-Control-Allow-Origin", "*" if "*" in cors.origins else origin)
        if cors.credentials:
            _set(response, "Access-Control-Allow-Credentials", "true")
        if request.method == "OPTIONS" and request.header("Access-Control-Request-Method"):
            methods = ALL_METHODS if "ALL" in cors.methods else cors.methods
            _set(response, "Access-Control-Allow-Methods", ", ".join(methods))
            if cors.headers:
                _set(response, "Access-Control-Allow-Headers", ", ".join(cors.headers))
            if cors.max_age is not None:
                _set(response, "Access-Control-Max-Age", str(cors.max_age))
        elif cors.expose:
            _set(response, "Access-Control-Expose-Headers", ", ".join(cors.expose))


# ---------------------------------------------------------------------------------------- parsing


def cache_policy(policy_id: str, config: dict[str, Any]) -> CachePolicy:
    """From a ``CachePolicyConfig`` as the template writes it."""
    keys = config.get("ParametersInCacheKeyAndForwardedToOrigin", {})
    return CachePolicy(
        policy_id,
        config["Name"],
        int(config.get("MinTTL", 0)),
        int(config.get("DefaultTTL", 86400)),
        int(config.get("MaxTTL", 31536000)),
        _selection(keys.get("HeadersConfig"), "HeaderBehavior", "Headers"),
        _selection(keys.get("CookiesConfig"), "CookieBehavior", "Cookies"),
        _selection(keys.get("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings"),
    )


def legacy_cache_policy(behavior: dict[str, Any]) -> CachePolicy:
    """A behavior's ``ForwardedValues`` and TTLs, from before cache policies."""
    forwarded = behavior.get("ForwardedValues", {})
    headers = tuple(forwarded.get("Headers", []))
    cookies = forwarded.get("Cookies", {})
    query_keys = tuple(forwarded.get("QueryStringCacheKeys", []))
    query = (
        Selection("whitelist" if query_keys else "all", query_keys)
        if str(forwarded.get("QueryString", "false")).lower() == "true"
        else Selection()
    )
    return CachePolicy(
        "legacy",
        "ForwardedValues",
        int(behavior.get("MinTTL", 0)),
        int(behavior.get("DefaultTTL", 86400)),
        int(behavior.get("MaxTTL", 31536000)),
        Selection("all") if "*" in headers else Selection("whitelist" if headers else "none", headers),
        Selection(cookies.get("Forward", "none"), tuple(cookies.get("WhitelistedNames", []))),
        query,
    )


def origin_request_policy(policy_id: str, config: dict[str, Any]) -> OriginRequestPolicy:
    return OriginRequestPolicy(
        policy_id,
        config["Name"],
        _selection(config.get("HeadersConfig"), "HeaderBehavior", "Headers"),
        _selection(config.get("CookiesConfig"), "CookieBehavior", "Cookies"),
        _selection(config.get("QueryStringsConfig"), "QueryStringBehavior", "QueryStrings"),
    )


def response_headers_policy(policy_id: str, config: dict[str, Any]) -> ResponseHeadersPolicy:
    """From a ``ResponseHeadersPolicyConfig`` as the template writes it."""
    headers: list[tuple[str, str, bool]] = []
    security = config.get("SecurityHeadersConfig", {})
    for key, (name, value) in _security_headers(security).items():
        headers.append((name, value, _true(security[key].get("Override"))))
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers.append((item["Header"], item["Value"], _true(item.get("Override"))))
    cors = config.get("CorsConfig")
    return ResponseHeadersPolicy(
        policy_id,
        config["Name"],
        tuple(headers),
        _cors(cors) if cors else None,
        tuple(item["Header"] for item in config.get("RemoveHeadersConfig", {}).get("Items", [])),
    )


def _security_headers(security: dict[str, Any]) -> dict[str, tuple[str, str]]:
    headers = {}
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        value = f"max-age={int(hsts['AccessControlMaxAgeSec'])}"
        value += "; includeSubDomains" if _true(hsts.get("IncludeSubdomains")) else ""
        value += "; preload" if _true(hsts.get("Preload")) else ""
        headers["StrictTransportSecurity"] = ("Strict-Transport-Security", value)
    if "ContentTypeOptions" in security:
        headers["ContentTypeOptions"] = ("X-Content-Type-Options", "nosniff")
    if "FrameOptions" in security:
        headers["FrameOptions"] = ("X-Frame-Options", security["FrameOptions"]["FrameOption"])
    if "ReferrerPolicy" in security:
        headers["ReferrerPolicy"] = ("Referrer-Policy", security["ReferrerPolicy"]["ReferrerPolicy"])
    if "ContentSecurityPolicy" in security:
        csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        headers["ContentSecurityPolicy"] = ("Content-Security-Policy", csp)
    if "XSSProtection" in security:
        xss = security["XSSProtection"]
        value = "1" if _true(xss.get("Protection")) else "0"
        if value == "1" and _true(xss.get("ModeBlock")):
            value += "; mode=block"
        elif value == "1" and xss.get("ReportUri"):
            value += f"; report={xss['ReportUri']}"
        headers["XSSProtection"] = ("X-XSS-Protection", value)
    return headers


def _cors(config: dict[str, Any]) -> Cors:
    def items(key: str) -> tuple[str, ...]:
        return tuple(config.get(key, {}).get("Items", []))

    return Cors(
        items("AccessControlAllowOrigins"),
        items("AccessControlAllowMethods"),
        items("AccessControlAllowHeaders"),
        items("AccessControlExposeHeaders"),
        _true(config.get("AccessControlAllowCredentials")),
        int(config["AccessControlMaxAgeSec"]) if "AccessControlMaxAgeSec" in config else None,
        _true(config.get("OriginOverride")),
    )


def _selection(config: dict[str, Any] | None, behavior_key: str, names_key: str) -> Selection:
    if not config:
        return Selection()
    return Selection(config.get(behavior_key, "none"), tuple(config.get(names_key, [])))


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _cache_control(value: str) -> dict[str, str]:
    directives = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            directives[name.lower()] = argument.strip('"')
    return directives


def _set(response: HttpResponse, name: str, value: str) -> None:
    _remove(response, name)
    response.headers[name] = [value]


def _remove(response: HttpResponse, name: str) -> None:
    for key in [key for key in response.headers if key.lower() == name.lower()]:
        del response.headers[key]


# ---------------------------------------------------------------------------------------- managed

_SECURITY = {
    "StrictTransportSecurity": {"AccessControlMaxAgeSec": 31536000, "Override": False},
    "ContentTypeOptions": {"Override": False},
    "FrameOptions": {"FrameOption": "SAMEORIGIN", "Override": False},
    "ReferrerPolicy": {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": False},
    "XSSProtection": {"Protection": True, "ModeBlock": True, "Override": False},
}
_SIMPLE_CORS = {
    "AccessControlAllowOrigins": {"Items": ["*"]},
    "AccessControlAllowMethods": {"Items": ["GET", "HEAD"]},
    "AccessControlAllowHeaders": {"Items": []},
    "AccessControlAllowCredentials": False,
    "OriginOverride": False,
}
_PREFLIGHT_CORS = {
    "AccessControlAllowOrigins": {"Items": ["*"]},
    "AccessControlAllowMethods": {"Items": ["ALL"]},
    "AccessControlAllowHeaders": {"Items": ["*"]},
    "AccessControlExposeHeaders": {"Items": ["*"]},
    "AccessControlAllowCredentials": False,
    "OriginOverride": False,
}

#: AWS's managed cache policies, by id, as AWS documents them.
MANAGED_CACHE_POLICIES = {
    policy.id: policy
    for policy in (
        CachePolicy("658327ea-f89d-4fab-a63d-7e88639e58f6", "Managed-CachingOptimized", 1, 86400, 31536000),
        CachePolicy(
            "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
            "Managed-CachingOptimizedForUncompressedObjects",
            1,
            86400,
            31536000,
        ),
        CachePolicy("4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "Managed-CachingDisabled", 0, 0, 0),
        CachePolicy(
            "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
            "Managed-UseOriginCacheControlHeaders",
            0,
            0,
            31536000,
            Selection(
                "whitelist",
                ("host", "origin", "x-http-method-override", "x-http-method", "x-method-override"),
            ),
            Selection("all"),
        ),
        CachePolicy(
            "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
            "Managed-UseOriginCacheControlHeaders-QueryStrings",
            0,
            0,
            31536000,
            Selection(
                "whitelist",
                ("host", "origin", "x-http-method-override", "x-http-method", "x-method-override"),
            ),
            Selection("all"),
            Selection("all"),
        ),
        CachePolicy(
            "2e54312d-136d-493c-8eb9-b001f22f67d2",
            "Managed-Amplify",
            2,
            2,
            31536000,
            Selection("whitelist", ("Authorization", "CloudFront-Viewer-Country", "Host")),
            Selection("all"),
            Selection("all"),
        ),
    )
}

#: AWS's managed origin request policies, by id.
MANAGED_ORIGIN_REQUEST_POLICIES = {
    policy.id: policy
    for policy in (
        OriginRequestPolicy(
            "216adef6-5c7f-47e4-b989-5492eafa07d3",
            "Managed-AllViewer",
            Selection("allViewer"),
            Selection("all"),
            Selection("all"),
        ),
        OriginRequestPolicy(
            "b689b0a8-53d0-40ab-baf2-68738e2966ac",
            "Managed-AllViewerExceptHostHeader",
            Selection("allExcept", ("host",)),
            Selection("all"),
            Selection("all"),
        ),
        OriginRequestPolicy(
            "33f36d7e-f396-46d9-90e0-52428a34d9dc",
            "Managed-AllViewerAndCloudFrontHeaders-2022-06",
            Selection("allViewer"),
            Selection("all"),
            Selection("all"),
        ),
        OriginRequestPolicy(
            "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
            "Managed-CORS-S3Origin",
            Selection(
                "whitelist", ("origin", "access-control-request-headers", "access-control-request-method")
            ),
        ),
        OriginRequestPolicy(
            "59781a5b-3903-41f3-afcb-af62929ccde1",
            "Managed-CORS-CustomOrigin",
            Selection("whitelist", ("origin",)),
        ),
        OriginRequestPolicy(
            "acba4595-bd28-49b8-b9fe-13317c0390fa",
            "Managed-UserAgentRefererHeaders",
            Selection("whitelist", ("user-agent", "referer")),
        ),
    )
}

#: AWS's managed response headers policies, by id.
MANAGED_RESPONSE_HEADERS_POLICIES = {
    policy.id: policy
    for policy in (
        response_headers_policy(
            "67f7725c-6f97-4210-82d7-5512b31e9d03",
            {"Name": "Managed-SecurityHeadersPolicy", "SecurityHeadersConfig": _SECURITY},
        ),
        response_headers_policy(
            "60669652-455b-4ae9-85a4-c4c02393f86c", {"Name": "Managed-SimpleCORS", "CorsConfig": _SIMPLE_CORS}
        ),
        response_headers_policy(
            "5cc3b908-e619-4b99-88e5-2cf7f45965bd",
            {"Name": "Managed-CORS-With-Preflight", "CorsConfig": _PREFLIGHT_CORS},
        ),
        response_headers_policy(
            "e61eb60c-9c35-4d20-a928-2b84e02af89c",
            {
                "Name": "Managed-CORS-and-SecurityHeadersPolicy",
                "CorsConfig": _SIMPLE_CORS,
                "SecurityHeadersConfig": _SECURITY,
            },
        ),
        response_headers_policy(
            "eaab4381-ed33-4a86-88ca-d9558dc6cd63",
            {
                "Name": "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
                "CorsConfig": _PREFLIGHT_CORS,
                "SecurityHeadersConfig": _SECURITY,
            },
        ),
    )
}
