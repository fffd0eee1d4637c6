"""``HTTP_PROXY`` integrations of HTTP APIs: the request passed on to the integration's URL, changed
by the integration's ``RequestParameters``, and the answer passed back, changed by its
``ResponseParameters`` for its status code.

The URL's ``{name}`` placeholders take the route's path parameters (``https://backend/{proxy}`` for
``ANY /{proxy+}``), its ``${stageVariables.name}`` the stage's; the method is the integration's
(``ANY``: the request's); the query string, headers (but hop-by-hop ones) and body go as sent.
A backend slower than the integration's timeout (``TimeoutInMillis``, 30 s at most) is a 503; one
that cannot be reached or answers what is not HTTP is a 500 ``Internal Server Error``; a mapping
the request cannot satisfy (a status mapped to what is not one) is a 500 too.
"""

from __future__ import annotations

import http.client
import re
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, quote, urlencode, urlsplit

from localcloud.core import outbound
from localcloud.lib.http import HttpResponse
from localcloud.lib.parameter_mapping import MappedRequest, MappingError, map_request, map_response, value
from localcloud.services.apigatewayv2.answers import INTERNAL_SERVER_ERROR, TIMEOUT, Refusal
from localcloud.services.apigatewayv2.parameters import sources_of

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Integration

#: Headers that belong to one connection, never passed on by a proxy (nor the client's Host).
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
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")


def http_proxy(call: HttpCall, integration: Integration) -> HttpResponse:
    if not integration.uri:
        raise Refusal(INTERNAL_SERVER_ERROR, f"HTTP_PROXY integration {integration.logical_id} has no URI")
    sources = sources_of(call)
    url = urlsplit(_url(call, integration.uri))
    try:
        mapped = map_request(
            integration.request_parameters,
            MappedRequest(url.path or "/", _passed_headers(call), dict(call.request.query)),
            sources,
        )
    except MappingError as error:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{integration.logical_id}: {error}") from None
    method = call.request.method if (integration.method or "ANY") == "ANY" else str(integration.method)
    target = quote(mapped.path, safe="/%:@!$&'()*+,;=~-._")
    query = [(name, item) for name, values in mapped.query.items() for item in values]
    if url.query:
        target += f"?{url.query}" + (f"&{urlencode(query)}" if query else "")
    elif query:
        target += f"?{urlencode(query)}"
    status, headers, body = _send(call, integration, url, method, target, mapped.headers)
    try:
        status, headers = map_response(
            integration.response_parameters, status, headers, sources_of(call, headers, body)
        )
    except MappingError as error:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{integration.logical_id}: {error}") from None
    headers["apigw-requestid"] = [call.request_id]
    call.integration_status = status
    return HttpResponse(status, headers, body)


def _url(call: HttpCall, uri: str) -> str:
    uri = value(uri, sources_of(call)) if "${stageVariables." in uri else uri

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in call.path_parameters:
            raise Refusal(
                INTERNAL_SERVER_ERROR, f"integration URI {uri}: the route has no path parameter {name}"
            )
        return quote(
            call.path_parameters[name], safe="/" if match[0].endswith("+}") or name == "proxy" else ""
        )

    return _PLACEHOLDER.sub(fill, uri)


def _passed_headers(call: HttpCall) -> dict[str, list[str]]:
    return {
        name: list(values) for name, values in call.request.headers.items() if name.lower() not in HOP_BY_HOP
    }


def _send(
    call: HttpCall,
    integration: Integration,
    parts: SplitResult,
    method: str,
    target: str,
    headers: dict[str, list[str]],
) -> tuple[int, dict[str, list[str]], bytes]:
    span = call.cloud.trace.record(
        "integrate",
        call.label,
        f"{parts.scheme}://{parts.netloc}",
        f"{method} {target}",
        at=call.cloud.clock.elapsed(),
        parent=call.span,
    )
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=integration.timeout_ms / 1000)
    body = call.request.body
    try:
        with outbound.waiting():  # other clients are answered meanwhile (the server lets the cloud go)
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, values in headers.items():
                for item in values:
                    connection.putheader(name, item)
            if body:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            status, answer = response.status, response.read()
        received: dict[str, list[str]] = {}
        for name, item in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                received.setdefault(name, []).append(item)
    except TimeoutError:
        span.outcome = "timeout"
        call.integration_error = "timeout"
        raise Refusal(
            TIMEOUT, f"{method} {parts.geturl()} did not answer within {integration.timeout_ms} ms"
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        # ValueError: a header or the path holds what HTTP cannot carry (CR/LF from a mapped value).
        span.outcome = "failed"
        call.integration_error = str(error)
        raise Refusal(INTERNAL_SERVER_ERROR, f"{method} {parts.geturl()} failed: {error}") from None
    finally:
        connection.close()
    span.outcome = str(status)
    return status, received, answer
