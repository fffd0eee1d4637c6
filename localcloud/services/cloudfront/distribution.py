"""A distribution as the template configures it: origins, behaviors by path pattern, error responses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from localcloud.services.cloudfront.functions import CloudFrontFunction
from localcloud.services.cloudfront.policies import CachePolicy, OriginRequestPolicy, ResponseHeadersPolicy

#: ``{bucket}.s3.amazonaws.com``, ``{bucket}.s3.{region}.amazonaws.com``, ``{bucket}.s3-{region}...``
S3_DOMAIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$"
)
API_DOMAIN = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")
DEFAULT_ERROR_CACHING_TTL = 10


@dataclass(frozen=True)
class OriginAccessControl:
    id: str
    name: str
    origin_type: str
    signing_behavior: str


@dataclass(frozen=True)
class OriginAccessIdentity:
    id: str
    canonical_user_id: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {self.id}"


@dataclass
class Origin:
    id: str
    domain: str
    path: str = ""
    custom_headers: dict[str, str] = field(default_factory=dict)
    access_control: OriginAccessControl | None = None
    access_identity: OriginAccessIdentity | None = None

    @property
    def bucket(self) -> str | None:
        """The bucket of an S3 REST endpoint origin."""
        match = S3_DOMAIN.match(self.domain)
        return match["bucket"] if match else None

    @property
    def api_id(self) -> str | None:
        """The REST API of an ``execute-api`` origin."""
        match = API_DOMAIN.match(self.domain)
        return match["api"] if match else None


@dataclass
class OriginGroup:
    """Failover: the second member answers when the first answers one of ``statuses``."""

    id: str
    members: list[Origin]
    statuses: frozenset[int]


@dataclass
class Behavior:
    path_pattern: str | None
    """``None`` for the default behavior."""
    target: Origin | OriginGroup
    allowed_methods: tuple[str, ...]
    cached_methods: tuple[str, ...]
    cache: CachePolicy
    origin_request: OriginRequestPolicy | None = None
    response_headers: ResponseHeadersPolicy | None = None
    viewer_request: CloudFrontFunction | None = None
    viewer_response: CloudFrontFunction | None = None
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.path_pattern is not None:
            pattern = self.path_pattern if self.path_pattern.startswith("/") else f"/{self.path_pattern}"
            self._regex = re.compile(path_pattern_regex(pattern), re.DOTALL)

    def matches(self, path: str) -> bool:
        return self._regex is None or self._regex.fullmatch(path) is not None


@dataclass(frozen=True)
class ErrorResponse:
    code: int
    response_code: int | None
    page_path: str | None
    caching_ttl: int


@dataclass
class Distribution:
    logical_id: str
    id: str
    domain_name: str
    arn: str
    enabled: bool
    behaviors: list[Behavior]
    """In the template's order, the default last."""
    default_root_object: str = ""
    error_responses: dict[int, ErrorResponse] = field(default_factory=dict)

    @property
    def distribution_id(self) -> str:
        return self.id

    def behavior_for(self, path: str) -> Behavior:
        """The first behavior whose path pattern matches, else the default, as CloudFront chooses."""
        return next(behavior for behavior in self.behaviors if behavior.matches(path))


def path_pattern_regex(pattern: str) -> str:
    """CloudFront's path patterns: ``*`` is any run of characters (``/`` included), ``?`` exactly one;
    case matters."""
    return "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
