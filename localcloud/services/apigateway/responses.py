"""What API Gateway answers by itself (an unknown route, a refused token, a throttle, a failed
integration), and how an API's gateway responses change it.

Each answer has a response type (``MISSING_AUTHENTICATION_TOKEN``, ``THROTTLED``...) with AWS's
default status and message. An ``AWS::ApiGateway::GatewayResponse`` of that type, or else of
``DEFAULT_4XX``/``DEFAULT_5XX``, may set the status, headers (``gatewayresponse.header.*``) and body
templates, which read ``$context.error.message``, ``messageString`` and ``responseType``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from localcloud.lib.http import HttpResponse
from localcloud.services.apigateway.model import GatewayResponse, RestApi

if TYPE_CHECKING:
    from localcloud.services.apigateway.call import Call

log = logging.getLogger("localcloud.apigateway")

#: Response type: (default status, default message, x-amzn-ErrorType).
TYPES: dict[str, tuple[int, str | None, str]] = {
    "ACCESS_DENIED": (403, "Forbidden", "AccessDeniedException"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error", "InternalServerErrorException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None, "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, None, "AuthorizerFailureException"),
    "BAD_REQUEST_PARAMETERS": (400, "Bad request", "BadRequestException"),
    "BAD_REQUEST_BODY": (400, "Invalid request body", "BadRequestException"),
    "EXPIRED_TOKEN": (403, "The security token included in the request is expired", "ExpiredTokenException"),
    "INCOMPLETE_SIGNATURE": (403, None, "IncompleteSignatureException"),
    "INTEGRATION_FAILURE": (500, "Internal server error", "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out", "InternalServerErrorException"),
    "INVALID_API_KEY": (403, "Forbidden", "ForbiddenException"),
    "INVALID_SIGNATURE": (403, None, "InvalidSignatureException"),
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded", "LimitExceededException"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long", "RequestTooLargeException"),
    "RESOURCE_NOT_FOUND": (404, "Not Found", "NotFoundException"),
    "THROTTLED": (429, "Too Many Requests", "TooManyRequestsException"),
    "UNAUTHORIZED": (401, "Unauthorized", "UnauthorizedException"),
    "UNRECOGNIZED_CLIENT": (403, None, "UnrecognizedClientException"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type", "UnsupportedMediaTypeException"),
    "WAF_FILTERED": (403, "Forbidden", "ForbiddenException"),
}


class GatewayError(Exception):
    """API Gateway answers the request itself, with the response of ``response_type``.

    ``cause`` is the one log line that says why; ``status`` overrides the type's default (a Lambda
    proxy failure is a 502 of the same body as a 500); ``body_key`` is ``Message`` where AWS
    capitalizes it.
    """

    def __init__(
        self,
        response_type: str,
        cause: str,
        *,
        message: str | None = "",
        status: int | None = None,
        body_key: str = "message",
        validation_errors: list[str] | None = None,
    ) -> None:
        super().__init__(cause)
        self.response_type = response_type
        self.cause = cause
        default_status, default_message, _ = TYPES[response_type]
        self.message = default_message if message == "" else message
        self.status = status or default_status
        self.body_key = body_key
        self.validation_errors = validation_errors or []
        """What ``$context.error.validationErrorString`` lists for a request a validator refused."""


def gateway_response(api: RestApi | None, error: GatewayError, call: Call | None) -> HttpResponse:
    """The answer to ``error``, as the API's gateway responses shape it."""
    _, _, error_type = TYPES[error.response_type]
    default_body = json.dumps({error.body_key: error.message}).encode()
    headers = {"Content-Type": ["application/json"], "x-amzn-ErrorType": [error_type]}
    if call is not None:
        headers["x-amzn-RequestId"] = [call.request_id]
    override = _override(api, error)
    if override is None:
        return HttpResponse(error.status, headers, default_body)
    status = int(override.status) if override.status else error.status
    for target, source in override.parameters.items():
        name = target.removeprefix("gatewayresponse.header.")
        value = _parameter(source, call)
        if value is not None:
            headers[name] = [value]
    body = default_body
    if override.templates:
        content_type, template = _template(override.templates)
        headers["Content-Type"] = [content_type]
        body = _render(template, error, call, api, status).encode()
    return HttpResponse(status, headers, body)


def _validation_error_string(error: GatewayError) -> str:
    """AWS's ``[problem, problem]`` list, already escaped for a JSON string as AWS escapes it."""
    if not error.response_type.startswith("BAD_REQUEST"):
        return ""
    listed = f"[{', '.join(error.validation_errors or [error.message])}]"
    return json.dumps(listed)[1:-1]


def _override(api: RestApi | None, error: GatewayError) -> GatewayResponse | None:
    if api is None:
        return None
    own = api.gateway_responses.get(error.response_type)
    if own is not None:
        return own
    return api.gateway_responses.get("DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX")


def _template(templates: dict[str, str]) -> tuple[str, str]:
    if "application/json" in templates:
        return "application/json", templates["application/json"]
    return next(iter(templates.items()))


def _render(template: str, error: GatewayError, call: Call | None, api: RestApi | None, status: int) -> str:
    from localcloud.services.apigateway.vtl import TemplateFailed, render

    context: dict[str, Any] = call.template_context() if call is not None else {}
    context["error"] = {
        "message": error.message,
        "messageString": json.dumps(error.message),
        "responseType": error.response_type,
        "validationErrorString": _validation_error_string(error),
    }
    context["status"] = status
    try:
        return render(
            template,
            body="",
            params=call.params() if call is not None else {},
            context=context,
            stage_variables=call.stage.variables if call is not None else {},
        )
    except TemplateFailed as failure:
        log.error(
            "%s: gateway response %s template failed: %s",
            api.name if api else "-",
            error.response_type,
            failure,
        )
        return json.dumps({error.body_key: error.message})


def _parameter(source: str, call: Call | None) -> str | None:
    """A response parameter's value: a quoted literal, or a method request, context or stage value."""
    if source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if call is None:
        return None
    return request_value(source, call)


def request_value(source: str, call: Call) -> str | None:
    """``method.request.header.X``, ``method.request.querystring.X``, ``method.request.path.X``,
    ``context.X`` or ``stageVariables.X`` for this request; None when the request has none."""
    params = call.params()
    for prefix, kind in (
        ("method.request.header.", "header"),
        ("method.request.querystring.", "querystring"),
        ("method.request.path.", "path"),
    ):
        if source.startswith(prefix):
            name = source.removeprefix(prefix)
            if kind == "header":
                return call.header(name)
            return params[kind].get(name)
    if source.startswith("method.request.multivalueheader."):
        name = source.removeprefix("method.request.multivalueheader.").lower()
        values = [v for key, vs in call.headers().items() if key.lower() == name for v in vs]
        return ",".join(values) if values else None
    if source.startswith("method.request.multivaluequerystring."):
        values = call.request.query.get(source.removeprefix("method.request.multivaluequerystring."))
        return ",".join(values) if values else None
    if source.startswith("stageVariables."):
        return call.stage.variables.get(source.removeprefix("stageVariables."))
    if source.startswith("context."):
        value: Any = call.template_context()
        for part in source.removeprefix("context.").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)
    return None
