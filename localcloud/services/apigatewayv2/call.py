"""One request on its way through an HTTP API, and the events API Gateway builds from it.

The same facts make the Lambda proxy event of payload format 2.0 and 1.0, a Lambda authorizer's
event and the access log's ``$context`` variables, so they always agree.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from localcloud.lib.http import HttpRequest

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.apigatewayv2.model import Api, Route, Stage

#: Media types whose bodies a Lambda proxy receives as text; any other body is base64-encoded.
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")
TEXT_SUFFIXES = ("+json", "+xml")


def new_request_id() -> str:
    """An id in the shape of an HTTP API's ``apigw-requestid`` (``Ab1CdEfGhIjKlMn=``)."""
    return base64.b64encode(uuid.uuid4().bytes[:11]).decode()[:15] + "="


@dataclass
class HttpCall:
    cloud: Kernel
    api: Api
    stage: Stage
    request: HttpRequest
    path: str
    """The path below the stage: ``/items/1`` (``request.path`` keeps the stage: ``/prod/items/1``)."""
    received: datetime
    span: int
    route: Route | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None
    """``requestContext.authorizer``: ``{"jwt": {...}}``, ``{"lambda": {...}}`` (format 2.0)."""
    principal_id: str | None = None
    """A Lambda authorizer's ``principalId`` (policy answers only)."""
    authorizer_error: str | None = None
    """Why the authorizer refused (``$context.authorizer.error`` of the access log)."""
    integration_error: str | None = None
    integration_status: int | None = None
    integration_latency_ms: int | None = None
    custom_domain: str | None = None
    request_id: str = field(default_factory=lambda: new_request_id())

    # ------------------------------------------------------------------------------------ names

    @property
    def domain_name(self) -> str:
        return self.custom_domain or f"{self.api.id}.execute-api.{self.cloud.region}.amazonaws.com"

    @property
    def label(self) -> str:
        """How the trace names the API: ``api:Name``."""
        return f"api:{self.api.name}"

    @property
    def route_key(self) -> str:
        return self.route.key if self.route else "-"

    def execute_api_arn(self) -> str:
        """The ARN a Lambda permission's ``SourceArn`` matches: ``{api}/{stage}/{METHOD}{route path}``,
        the route's path as its key spells it (``/items/{id}``), ``{api}/{stage}/$default`` for ``$default``."""
        cloud = self.cloud
        route = self.route
        tail = f"{self.request.method}{route.path}" if route is not None and route.path else "$default"
        return f"arn:{cloud.partition}:execute-api:{cloud.region}:{cloud.account}:{self.api.id}/{self.stage.name}/{tail}"

    def route_arn(self) -> str:
        """The ARN an authorizer's policy must allow: ``{api}/{stage}/{METHOD}{request path}``."""
        cloud = self.cloud
        return (
            f"arn:{cloud.partition}:execute-api:{cloud.region}:{cloud.account}:"
            f"{self.api.id}/{self.stage.name}/{self.request.method}{self.path}"
        )

    # ------------------------------------------------------------------------------------ request parts

    def header(self, name: str) -> str | None:
        """A header's values joined with commas, as API Gateway hands them on; None when absent."""
        lowered = name.lower()
        values = [v for key, vs in self.request.headers.items() if key.lower() == lowered for v in vs]
        return ",".join(values) if values else None

    def headers(self) -> dict[str, str]:
        """Lower-cased names, duplicate values joined with commas, ``cookie`` left out (it is
        ``cookies``), and what API Gateway adds (``host``, ``x-forwarded-*``, ``x-amzn-trace-id``)."""
        joined: dict[str, list[str]] = {}
        for name, values in self.request.headers.items():
            joined.setdefault(name.lower(), []).extend(values)
        joined.pop("cookie", None)
        joined.pop("content-length", None)
        added = {
            "host": self.domain_name,
            "x-amzn-trace-id": f"Root=1-{int(self.received.timestamp()):08x}-{uuid.uuid5(uuid.NAMESPACE_URL, self.request_id).hex[:24]}",
            "x-forwarded-for": self.request.source_ip,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        }
        for name, value in added.items():
            joined.setdefault(name, [value])
        if self.request.body:
            joined["content-length"] = [str(len(self.request.body))]
        return {name: ",".join(values) for name, values in joined.items()}

    def cookies(self) -> list[str]:
        found = [v for key, vs in self.request.headers.items() if key.lower() == "cookie" for v in vs]
        return [part.strip() for value in found for part in value.split(";") if part.strip()]

    def query(self) -> dict[str, str]:
        return {name: ",".join(values) for name, values in self.request.query.items()}

    @property
    def raw_query_string(self) -> str:
        return "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}"
            for name, values in self.request.query.items()
            for value in values
        )

    def body(self) -> tuple[str | None, bool]:
        """The body as a Lambda proxy gets it and whether it is base64-encoded (any body whose
        ``Content-Type`` is not text)."""
        if not self.request.body:
            return None, False
        media = (self.request.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media.startswith(TEXT_TYPES) or media.endswith(TEXT_SUFFIXES):
            return self.request.body.decode("utf-8", errors="replace"), False
        return base64.b64encode(self.request.body).decode(), True

    # ------------------------------------------------------------------------------------ shapes

    def request_time(self) -> str:
        return self.received.strftime("%d/%b/%Y:%H:%M:%S +0000")

    def request_time_epoch(self) -> int:
        return int(self.received.timestamp() * 1000)

    def http_context(self) -> dict[str, Any]:
        return {
            "method": self.request.method,
            "path": self.request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": self.request.source_ip,
            "userAgent": self.request.header("User-Agent") or "",
        }

    def event_v2(self) -> dict[str, Any]:
        """The Lambda proxy event of payload format 2.0: fields with nothing to say are left out."""
        context: dict[str, Any] = {
            "accountId": self.cloud.account,
            "apiId": self.api.id,
            "domainName": self.domain_name,
            "domainPrefix": self.domain_name.split(".", 1)[0],
            "http": self.http_context(),
            "requestId": self.request_id,
            "routeKey": self.route_key,
            "stage": self.stage.name,
            "time": self.request_time(),
            "timeEpoch": self.request_time_epoch(),
        }
        if self.authorizer is not None:
            context["authorizer"] = self.authorizer
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.request.path,
            "rawQueryString": self.raw_query_string,
        }
        cookies = self.cookies()
        if cookies:
            event["cookies"] = cookies
        event["headers"] = self.headers()
        if self.request.query:
            event["queryStringParameters"] = self.query()
        event["requestContext"] = context
        if self.path_parameters:
            event["pathParameters"] = dict(self.path_parameters)
        if self.stage.variables:
            event["stageVariables"] = dict(self.stage.variables)
        body, encoded = self.body()
        if body is not None:
            event["body"] = body
        event["isBase64Encoded"] = encoded
        return event

    def event_v1(self) -> dict[str, Any]:
        """The Lambda proxy event of payload format 1.0: the REST API's shape, with ``version``."""
        multi_headers: dict[str, list[str]] = {}
        for name, values in self.request.headers.items():
            multi_headers.setdefault(name, []).extend(values)
        for name, value in self.headers().items():
            if not any(key.lower() == name for key in multi_headers):
                multi_headers[name] = [value]
        query = {name: list(values) for name, values in self.request.query.items()}
        body, encoded = self.body()
        route_path = self.route.path if self.route and self.route.path else self.route_key
        context: dict[str, Any] = {
            "accountId": self.cloud.account,
            "apiId": self.api.id,
            "domainName": self.domain_name,
            "domainPrefix": self.domain_name.split(".", 1)[0],
            "extendedRequestId": self.request_id,
            "httpMethod": self.request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": self.request.source_ip,
                "user": None,
                "userAgent": self.request.header("User-Agent") or "",
                "userArn": None,
            },
            "path": self.request.path,
            "protocol": "HTTP/1.1",
            "requestId": self.request_id,
            "requestTime": self.request_time(),
            "requestTimeEpoch": self.request_time_epoch(),
            "resourceId": self.route_key,
            "resourcePath": route_path,
            "routeKey": self.route_key,
            "stage": self.stage.name,
        }
        if self.authorizer is not None:
            context["authorizer"] = self.authorizer_v1()
        return {
            "version": "1.0",
            "resource": route_path,
            "path": self.request.path,
            "httpMethod": self.request.method,
            "headers": {name: values[-1] for name, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": context,
            "pathParameters": dict(self.path_parameters) or None,
            "stageVariables": dict(self.stage.variables) or None,
            "body": body,
            "isBase64Encoded": encoded,
        }

    def authorizer_v1(self) -> dict[str, Any]:
        """``requestContext.authorizer`` of format 1.0: JWT claims and scopes, or a Lambda's context."""
        found = self.authorizer or {}
        if "jwt" in found:
            return {"claims": found["jwt"]["claims"], "scopes": found["jwt"]["scopes"]}
        context = dict(found.get("lambda") or {})
        if self.principal_id is not None:
            context["principalId"] = self.principal_id
        return context
