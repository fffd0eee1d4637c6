"""One request on its way through an API: what API Gateway knows about it, in the shapes it hands on.

The same facts become the Lambda proxy event, the ``$context`` of mapping templates, the
authorizer's event and the ``$input.params()`` of a template, so they always agree.
"""

from __future__ import annotations

import base64
import fnmatch
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.lib.http import HttpRequest
from localcloud.services.apigateway.model import ApiKey, Method, RestApi, Stage

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Headers API Gateway adds to what the client sent, when the client did not send them.
FORWARDED_PORT = "443"
FORWARDED_PROTO = "https"


@dataclass
class Call:
    cloud: Kernel
    api: RestApi
    stage: Stage
    request: HttpRequest
    path: str
    """The path below the stage: ``/items/1``."""
    received: datetime
    span: int
    method: Method | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None
    """What the authorizer established: ``principalId`` and its context, or Cognito's ``claims``."""
    api_key: ApiKey | None = None
    authorizer_api_key: str | None = None
    """The ``usageIdentifierKey`` a Lambda authorizer returned (for ``ApiKeySourceType: AUTHORIZER``)."""
    iam_caller: Any = None
    """Who signed the request, for an ``AWS_IAM`` method (:class:`localcloud.core.execute_api.Caller`)."""
    custom_domain: str | None = None
    """The custom domain name the request came to, if any."""
    base_path: str = ""
    """What the custom domain's mapping removed from the path (``/orders``), or ``""``."""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_request_id: str = field(
        default_factory=lambda: base64.b32encode(uuid.uuid4().bytes)[:16].decode()
    )

    # ------------------------------------------------------------------------------------ names

    @property
    def domain_name(self) -> str:
        if self.custom_domain is not None:
            return self.custom_domain
        return f"{self.api.id}.execute-api.{self.cloud.region}.amazonaws.com"

    @property
    def label(self) -> str:
        """How the trace names the API: ``api:Name``."""
        return f"api:{self.api.name}"

    @property
    def resource_path(self) -> str:
        return self.method.resource.path if self.method else self.path

    def execute_api_arn(self, http_method: str | None = None, path: str | None = None) -> str:
        """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}{path}``: what Lambda
        permissions' ``SourceArn`` and authorizer policies name (the path as requested)."""
        cloud = self.cloud
        method = http_method or self.request.method
        return (
            f"arn:{cloud.partition}:execute-api:{cloud.region}:{cloud.account}:"
            f"{self.api.id}/{self.stage.name}/{method}{path if path is not None else self.path}"
        )

    # ------------------------------------------------------------------------------------ request parts

    def headers(self) -> dict[str, list[str]]:
        """The request's headers with those API Gateway adds (``Host``, ``X-Forwarded-*``...)."""
        headers = {name: list(values) for name, values in self.request.headers.items()}
        present = {name.lower() for name in headers}
        added = {
            "Host": self.domain_name,
            "X-Amzn-Trace-Id": f"Root=1-{int(self.received.timestamp()):08x}-{self.request_id.replace('-', '')[:24]}",
            "X-Forwarded-For": self.request.source_ip,
            "X-Forwarded-Port": FORWARDED_PORT,
            "X-Forwarded-Proto": FORWARDED_PROTO,
        }
        for name, value in added.items():
            if name.lower() not in present:
                headers[name] = [value]
        return headers

    def header(self, name: str) -> str | None:
        return self.request.header(name)

    def params(self) -> dict[str, dict[str, str]]:
        """``$input.params()``: path, query string and header values (the last of several)."""
        return {
            "path": dict(self.path_parameters),
            "querystring": {name: values[-1] for name, values in self.request.query.items() if values},
            "header": {name: values[-1] for name, values in self.headers().items() if values},
        }

    def is_binary(self, content_type: str | None) -> bool:
        if not content_type:
            return False
        media = content_type.split(";", 1)[0].strip().lower()
        return any(fnmatch.fnmatch(media, pattern.lower()) for pattern in self.api.binary_media_types)

    def body_text(self) -> str:
        return self.request.body.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------------------------ shapes

    def request_time(self) -> str:
        return self.received.strftime("%d/%b/%Y:%H:%M:%S +0000")

    def request_time_epoch(self) -> int:
        return int(self.received.timestamp() * 1000)

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": self.request.source_ip,
            "user": None,
            "userAgent": self.header("User-Agent"),
            "userArn": None,
        }
        if self.api_key is not None:
            identity.update(apiKey=self.api_key.value, apiKeyId=self.api_key.id)
        if self.iam_caller is not None:
            caller = self.iam_caller
            identity.update(
                accessKey=caller.access_key,
                accountId=caller.account,
                caller=caller.user_id,
                user=caller.user_id,
                userArn=caller.arn,
            )
        return identity

    def request_context(self) -> dict[str, Any]:
        """``requestContext`` of the Lambda proxy event."""
        context: dict[str, Any] = {
            "accountId": self.cloud.account,
            "apiId": self.api.id,
            "domainName": self.domain_name,
            "domainPrefix": self.domain_name.split(".", 1)[0],
            "extendedRequestId": self.extended_request_id,
            "httpMethod": self.request.method,
            "identity": self.identity(),
            "path": f"{self.base_path}{self.path}"
            if self.custom_domain
            else f"/{self.stage.name}{self.path}",
            "protocol": "HTTP/1.1",
            "requestId": self.request_id,
            "requestTime": self.request_time(),
            "requestTimeEpoch": self.request_time_epoch(),
            "resourceId": self.method.resource.id if self.method else None,
            "resourcePath": self.resource_path,
            "stage": self.stage.name,
            "deploymentId": self.stage.deployment_id,
        }
        if self.authorizer is not None:
            context["authorizer"] = self.authorizer
        return context

    def proxy_event(self) -> dict[str, Any]:
        """The event a Lambda proxy integration (payload format 1.0) receives."""
        headers = self.headers()
        query = {name: values for name, values in self.request.query.items() if values}
        binary = self.is_binary(self.header("Content-Type"))
        body: str | None
        if not self.request.body:
            body = None
        elif binary:
            body = base64.b64encode(self.request.body).decode()
        else:
            body = self.body_text()
        return {
            "resource": self.resource_path,
            "path": f"{self.base_path}{self.path}",
            "httpMethod": self.request.method,
            "headers": {name: values[-1] for name, values in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": dict(self.path_parameters) or None,
            "stageVariables": dict(self.stage.variables) or None,
            "requestContext": self.request_context(),
            "body": body,
            "isBase64Encoded": binary and body is not None,
        }

    def template_context(self) -> dict[str, Any]:
        """``$context`` of a mapping template; a template may set its overrides."""
        authorizer = dict(self.authorizer or {})
        return {
            **self.request_context(),
            "authorizer": authorizer,
            "awsEndpointRequestId": self.request_id,
            "isCanaryRequest": False,
            "requestOverride": {"header": {}, "querystring": {}, "path": {}},
            "responseOverride": {"header": {}, "status": None},
        }
