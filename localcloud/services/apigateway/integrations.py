"""Integrations: what API Gateway does with a request once it is let in, and what it answers.

- ``AWS_PROXY`` to Lambda: the proxy event in, the proxy response contract out (a malformed answer
  or a function error is a 502); the function is invoked through the local cloud's invoker, and
  only if its resource policy lets API Gateway in for this method's ARN (else 500), or the
  integration's credentials role may invoke it.
- ``HTTP_PROXY``: method, path, query, headers and body passed through to the URL, and the answer
  passed back unchanged but for its hop-by-hop headers (dropped) and its ``Date``, ``Server``,
  ``Connection``, ``Content-Length`` and ``x-amzn-RequestId`` (renamed ``x-amzn-Remapped-<name>``).
- ``AWS`` (Lambda or another service), ``HTTP`` and ``MOCK``: the request template (chosen by
  ``Content-Type``, with the passthrough behaviour) and parameter mappings make the integration
  request; the integration response is chosen by its ``SelectionPattern`` (against a Lambda error
  message, else the status code; the response without one is the default), and its parameters
  and template (chosen by ``Accept``) make the answer.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from localcloud.core import outbound
from localcloud.errors import FunctionNotFound, PayloadTooLarge, Throttled
from localcloud.lib.http import HttpResponse
from localcloud.lib.proxy_response import MalformedProxyResponse, read_proxy_response
from localcloud.services.apigateway.model import Integration, IntegrationResponse, with_stage_variables
from localcloud.services.apigateway.responses import GatewayError, request_value
from localcloud.services.apigateway.services import ServiceRequest, call_service, parse_uri

if TYPE_CHECKING:
    from localcloud.services.apigateway.call import Call

log = logging.getLogger("localcloud.apigateway")

PRINCIPAL = "apigateway.amazonaws.com"
DEFAULT_CONTENT_TYPE = "application/json"
PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
#: Headers of an HTTP_PROXY backend's answer that API Gateway passes on renamed
#: ``x-amzn-Remapped-<name>``, sending its own in their place (a client sees one ``Date``).
REMAPPED = frozenset({"connection", "content-length", "date", "server", "x-amzn-requestid"})
#: Headers that belong to one connection: not passed on by an HTTP proxy.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_FUNCTION_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")
_MOCK_STATUS = re.compile(r"[\"']?statusCode[\"']?\s*:\s*[\"']?(\d{3})")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")


@dataclass
class IntegrationRequest:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    """The template's ``$context``, with the overrides it set."""


@dataclass
class Answer:
    """What the integration answered, before the integration response maps it."""

    status: int
    body: bytes
    headers: dict[str, list[str]] = field(default_factory=dict)
    error_message: str | None = None
    """A Lambda function error's ``errorMessage``: what selection patterns are matched against."""
    from_lambda: bool = False
    """A Lambda answer: selection patterns see only its errors; a success takes the default response."""


def integrate(call: Call) -> HttpResponse:
    assert call.method is not None
    integration = call.method.integration
    if integration.type == "AWS_PROXY":
        return _lambda_proxy(call, integration)
    if integration.type == "HTTP_PROXY":
        return _http_proxy(call, integration)
    request = _integration_request(call, integration)
    if integration.type == "MOCK":
        answer = _mock(request)
    elif integration.type == "HTTP":
        answer = _http(call, integration, request)
    elif _FUNCTION_URI.search(integration.uri):
        answer = _lambda(call, integration, request)
    else:
        answer = _service(call, integration, request)
    return _integration_response(call, integration, answer, request.context)


# ---------------------------------------------------------------------------------------- Lambda


def integration_function(call: Call, integration: Integration) -> Any:
    """The integration's function, if API Gateway may invoke it for this request; else a 500."""

    match = _FUNCTION_URI.search(with_stage_variables(integration.uri, call.stage.variables))
    if match is None:
        raise GatewayError(
            "API_CONFIGURATION_ERROR", f"integration URI {integration.uri} names no Lambda function"
        )
    try:
        function = call.cloud.service("lambda").function(match["arn"])
    except FunctionNotFound:
        raise GatewayError(
            "API_CONFIGURATION_ERROR", f"integration function {match['arn']} does not exist"
        ) from None
    cloud = call.cloud
    if integration.credentials:
        if not cloud.iam.decide(integration.credentials, "lambda:InvokeFunction", function.arn).allowed:
            raise GatewayError(
                "API_CONFIGURATION_ERROR",
                f"Invalid permissions on Lambda function {function.name}: role {integration.credentials} may not invoke it",
            )
        return function
    source_arn = call.execute_api_arn()
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": cloud.account}
    if not cloud.iam.allows(
        cloud.iam.resource.get(function.arn, []), PRINCIPAL, "lambda:InvokeFunction", function.arn, context
    ):
        raise GatewayError(
            "API_CONFIGURATION_ERROR",
            f"Invalid permissions on Lambda function {function.name}: no Lambda permission lets "
            f"{PRINCIPAL} invoke it from {source_arn}",
        )
    return function


def _lambda_proxy(call: Call, integration: Integration) -> HttpResponse:
    function = integration_function(call, integration)
    try:
        result = call.cloud.service("lambda").invoker.invoke_sync(
            function, call.proxy_event(), source=call.label, cause=call.span
        )
    except Throttled as error:
        raise GatewayError("INTEGRATION_FAILURE", f"Lambda throttled {function.name}: {error}") from None
    except PayloadTooLarge as error:
        raise _event_too_large(function, error) from None
    _check_timeout(function, integration, result.duration)
    if result.failed:
        error = result.error or {}
        raise GatewayError(
            "INTEGRATION_FAILURE",
            f"Lambda function {function.name} failed: {error.get('errorType')}: {error.get('errorMessage')}",
            message="Internal server error",
            status=502,
        )
    return proxy_response(result.payload, function.name, call)


def _event_too_large(function: Any, error: PayloadTooLarge) -> GatewayError:
    """Lambda refused the event as too large (a body under API Gateway's 10 MB, over Lambda's 6 MB):
    API Gateway answers 413 ``Request Too Long``."""
    return GatewayError("REQUEST_TOO_LARGE", f"Lambda refused the event for {function.name}: {error}")


def _check_timeout(function: Any, integration: Integration, took: float) -> None:
    """504 when the invocation took longer in virtual time (its ``duration``, and any wait on what it
    called) than the integration's timeout (29 s unless ``TimeoutInMillis`` says less)."""
    if took * 1000 > integration.timeout_ms:
        raise GatewayError(
            "INTEGRATION_TIMEOUT",
            f"{function.name} ran {took:g} s, longer than the integration timeout of {integration.timeout_ms} ms",
        )


def proxy_response(payload: Any, function_name: str, call: Call) -> HttpResponse:
    """A Lambda proxy response as the HTTP answer; anything off the contract is a 502."""

    def malformed(why: str) -> GatewayError:
        return GatewayError(
            "INTEGRATION_FAILURE",
            f"Malformed Lambda proxy response from {function_name}: {why}",
            message="Internal server error",
            status=502,
        )

    try:
        status, headers, raw = read_proxy_response(payload, PROXY_RESPONSE_KEYS)
    except MalformedProxyResponse as why:
        raise malformed(str(why)) from None
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = [DEFAULT_CONTENT_TYPE]
    headers["x-amzn-RequestId"] = [call.request_id]
    return HttpResponse(status, headers, raw)


def _lambda(call: Call, integration: Integration, request: IntegrationRequest) -> Answer:
    function = integration_function(call, integration)
    text = request.body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text) if text.strip() else {}
    except ValueError:
        raise GatewayError(
            "INTEGRATION_FAILURE", f"the payload for {function.name} is not JSON: {text[:120]!r}"
        ) from None
    invocation_type = next(
        (v for k, v in request.headers.items() if k.lower() == "x-amz-invocation-type"), "RequestResponse"
    )
    if invocation_type == "Event":
        try:
            call.cloud.service("lambda").invoker.invoke_async(
                function, payload, source=call.label, cause=call.span
            )
        except PayloadTooLarge as error:
            raise _event_too_large(function, error) from None
        return Answer(200, b"", from_lambda=True)
    try:
        result = call.cloud.service("lambda").invoker.invoke_sync(
            function, payload, source=call.label, cause=call.span
        )
    except Throttled as error:
        raise GatewayError("INTEGRATION_FAILURE", f"Lambda throttled {function.name}: {error}") from None
    except PayloadTooLarge as error:
        raise _event_too_large(function, error) from None
    _check_timeout(function, integration, result.duration)
    body = json.dumps(result.payload).encode()
    if result.failed:
        return Answer(
            200, body, error_message=str((result.error or {}).get("errorMessage", "")), from_lambda=True
        )
    return Answer(200, body, from_lambda=True)


# ---------------------------------------------------------------------------------------- requests


def _integration_request(call: Call, integration: Integration) -> IntegrationRequest:
    """The request template's output (or the body passed through) and the mapped parameters."""
    from localcloud.services.apigateway.vtl import render

    context = call.template_context()
    content_type = (call.header("Content-Type") or DEFAULT_CONTENT_TYPE).split(";", 1)[0].strip().lower()
    templates = integration.request_templates
    template = templates.get(content_type)
    if template is None:
        if integration.passthrough == "NEVER" or (
            integration.passthrough == "WHEN_NO_TEMPLATES" and templates
        ):
            raise GatewayError(
                "UNSUPPORTED_MEDIA_TYPE",
                f"no request template for {content_type} and passthrough behaviour {integration.passthrough}",
            )
        body = call.request.body
    else:
        body = render(
            template,
            body=call.body_text(),
            params=call.params(),
            context=context,
            stage_variables=call.stage.variables,
        ).encode()
    request = IntegrationRequest(body=body, context=context)
    for target, source in integration.request_parameters.items():
        value = _source_value(source, call)
        if value is None:
            continue
        kind, _, name = target.removeprefix("integration.request.").partition(".")
        bucket = {"header": request.headers, "querystring": request.query, "path": request.path}.get(kind)
        if bucket is None:
            raise GatewayError(
                "API_CONFIGURATION_ERROR", f"request parameter {target} is not a header, query string or path"
            )
        bucket[name] = value
    overrides = context.get("requestOverride", {})
    request.headers.update({k: str(v) for k, v in overrides.get("header", {}).items()})
    request.query.update({k: str(v) for k, v in overrides.get("querystring", {}).items()})
    request.path.update({k: str(v) for k, v in overrides.get("path", {}).items()})
    return request


def _source_value(source: str, call: Call) -> str | None:
    if source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source == "method.request.body":
        return call.body_text()
    if source.startswith("method.request.body."):
        from localcloud.services.apigateway.vtl import Input

        return Input(call.body_text(), {}).json("$." + source.removeprefix("method.request.body."))
    return request_value(source, call)


def _mock(request: IntegrationRequest) -> Answer:
    match = _MOCK_STATUS.search(request.body.decode("utf-8", errors="replace"))
    return Answer(int(match[1]) if match else 200, b"")


def _service(call: Call, integration: Integration, request: IntegrationRequest) -> Answer:
    if not integration.credentials:
        raise GatewayError(
            "API_CONFIGURATION_ERROR",
            f"AWS integration {integration.uri} has no credentials role to call it with",
        )
    if integration.credentials.startswith("arn:aws:iam::*:user/"):
        raise GatewayError(
            "API_CONFIGURATION_ERROR", "caller credentials passthrough is not supported offline"
        )
    service, kind, rest = parse_uri(with_stage_variables(integration.uri, call.stage.variables))
    target = f"{service}:{rest.split('&', 1)[0] if kind == 'action' else rest.rstrip('/').rsplit('/', 1)[-1]}"
    span = call.cloud.trace.record(
        "integrate",
        call.label,
        target,
        f"as {integration.credentials.rsplit('/', 1)[-1]}",
        at=call.cloud.clock.elapsed(),
        parent=call.span,
    )
    outer = call.span
    call.span = span.id
    try:
        answer = call_service(
            call,
            integration.credentials,
            ServiceRequest(
                service=service,
                action=rest.split("&", 1)[0] if kind == "action" else None,
                path=rest if kind == "path" else None,
                body=request.body,
                headers=request.headers,
                query=request.query,
            ),
        )
    finally:
        call.span = outer
    span.outcome = str(answer.status)
    return Answer(answer.status, answer.body, answer.headers)


# ---------------------------------------------------------------------------------------- HTTP


def _http_proxy(call: Call, integration: Integration) -> HttpResponse:
    request = IntegrationRequest(body=call.request.body)
    for target, source in integration.request_parameters.items():
        value = _source_value(source, call)
        kind, _, name = target.removeprefix("integration.request.").partition(".")
        if value is not None and kind in ("header", "querystring", "path"):
            getattr(request, {"header": "headers", "querystring": "query", "path": "path"}[kind])[name] = (
                value
            )
    mapped = {name.lower() for name in request.headers}
    headers = {
        name: values[-1]
        for name, values in call.request.headers.items()
        if name.lower() not in HOP_BY_HOP and name.lower() not in mapped
    }
    headers.update(request.headers)
    query = [
        (name, value)
        for name, values in call.request.query.items()
        for value in values
        if name not in request.query
    ]
    query.extend(request.query.items())
    method = call.request.method if integration.http_method == "ANY" else integration.http_method
    answer = _send(call, integration, method, request.path, query, headers, call.request.body)
    kept: dict[str, list[str]] = {}
    for name, values in answer.headers.items():
        if name.lower() in REMAPPED:
            kept[f"x-amzn-Remapped-{name}"] = values
        elif name.lower() not in HOP_BY_HOP:
            kept[name] = values
    kept["x-amzn-RequestId"] = [call.request_id]
    return HttpResponse(answer.status, kept, answer.body)


def _http(call: Call, integration: Integration, request: IntegrationRequest) -> Answer:
    headers = dict(request.headers)
    if not any(name.lower() == "content-type" for name in headers) and request.body:
        headers["Content-Type"] = call.header("Content-Type") or DEFAULT_CONTENT_TYPE
    method = call.request.method if integration.http_method == "ANY" else integration.http_method
    return _send(call, integration, method, request.path, list(request.query.items()), headers, request.body)


def _send(
    call: Call,
    integration: Integration,
    method: str,
    path_values: dict[str, str],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> Answer:
    """One HTTP request to the integration's URL (placeholders filled in); redirects are not followed."""
    uri = with_stage_variables(integration.uri, call.stage.variables)

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in path_values:
            raise GatewayError(
                "API_CONFIGURATION_ERROR",
                f"integration URI {uri}: no integration.request.path.{name} mapping",
            )
        # The value is already decoded, as API Gateway decodes it; dot segments go through as on AWS.
        return quote(path_values[name], safe="/" if match[0].endswith("+}") or name == "proxy" else "")

    url = urlsplit(_PLACEHOLDER.sub(fill, uri))
    target = url.path or "/"
    all_query = [*([(k, v) for k, v in _query_pairs(url.query)]), *query]
    if all_query:
        target += "?" + urlencode(all_query)
    span = call.cloud.trace.record(
        "integrate",
        call.label,
        f"{url.scheme}://{url.netloc}",
        f"{method} {target}",
        at=call.cloud.clock.elapsed(),
        parent=call.span,
    )
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(url.hostname or "", url.port, timeout=integration.timeout_ms / 1000)
    try:
        with outbound.waiting():  # other clients are answered meanwhile (the server lets the cloud go)
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.read(), _header_lists(response.getheaders()))
    except TimeoutError:
        span.outcome = "timeout"
        raise GatewayError(
            "INTEGRATION_TIMEOUT",
            f"{method} {url.geturl()} did not answer within {integration.timeout_ms} ms",
        ) from None
    except (OSError, ValueError) as error:
        # ValueError: a header or the path holds what HTTP cannot carry (CR/LF from a mapped value).
        span.outcome = "unreachable"
        raise GatewayError("INTEGRATION_FAILURE", f"{method} {url.geturl()} failed: {error}") from None
    except http.client.HTTPException as error:  # the backend answered, but not in HTTP
        span.outcome = "not HTTP"
        raise GatewayError(
            "INTEGRATION_FAILURE",
            f"{method} {url.geturl()} answered what is not HTTP: {type(error).__name__} {error}",
            status=502,
        ) from None
    finally:
        connection.close()
    span.outcome = str(answer.status)
    return answer


def _query_pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _header_lists(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in pairs:
        headers.setdefault(name, []).append(value)
    return headers


# ---------------------------------------------------------------------------------------- responses


def _integration_response(
    call: Call, integration: Integration, answer: Answer, context: dict[str, Any]
) -> HttpResponse:
    from localcloud.services.apigateway.vtl import render

    chosen = select_response(integration.responses, answer)
    if chosen is None:
        raise GatewayError(
            "API_CONFIGURATION_ERROR",
            f"no integration response matches {answer.error_message or answer.status} and there is no default "
            "(No match for output mapping and no default output mapping configured)",
        )
    headers: dict[str, list[str]] = {}
    text = answer.body.decode("utf-8", errors="replace")
    for target, source in chosen.parameters.items():
        value = _response_value(source, answer, text, call)
        if value is not None:
            headers[target.removeprefix("method.response.header.")] = [value]
    context.setdefault("responseOverride", {"header": {}, "status": None})
    template_type = _template_for(chosen.templates, call.header("Accept"))
    if template_type is None:
        body = answer.body
        content_type = DEFAULT_CONTENT_TYPE
    else:
        content_type = template_type
        body = render(
            chosen.templates[template_type],
            body=text,
            params=call.params(),
            context=context,
            stage_variables=call.stage.variables,
        ).encode()
    status = int(chosen.status)
    override = context.get("responseOverride", {})
    if override.get("status") not in (None, ""):
        status = int(override["status"])
    for name, value in override.get("header", {}).items():
        headers[name] = [str(value)]
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = [content_type]
    headers["x-amzn-RequestId"] = [call.request_id]
    return HttpResponse(status, headers, body)


def select_response(responses: list[IntegrationResponse], answer: Answer) -> IntegrationResponse | None:
    """The integration response API Gateway picks: the first whose pattern matches the Lambda error
    message (or, for other integrations, the status code), else the default one."""
    default = next((r for r in responses if r.selection_pattern is None), None)
    if answer.from_lambda and answer.error_message is None:
        return default
    subject = answer.error_message if answer.from_lambda else str(answer.status)
    for response in responses:
        if response.selection_pattern is not None and re.fullmatch(response.selection_pattern, subject):
            return response
    return default


def _template_for(templates: dict[str, str], accept: str | None) -> str | None:
    if not templates:
        return None
    for media in (part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")):
        if media in templates:
            return media
    return DEFAULT_CONTENT_TYPE if DEFAULT_CONTENT_TYPE in templates else next(iter(templates))


def _response_value(source: str, answer: Answer, text: str, call: Call) -> str | None:
    if source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.startswith("integration.response.header."):
        name = source.removeprefix("integration.response.header.").lower()
        values = [v for key, vs in answer.headers.items() if key.lower() == name for v in vs]
        return values[-1] if values else None
    if source == "integration.response.body":
        return text
    if source.startswith("integration.response.body."):
        from localcloud.services.apigateway.vtl import Input

        return Input(text, {}).json("$." + source.removeprefix("integration.response.body.")).strip('"')
    return request_value(source, call)
