"""Lambda proxy integrations of HTTP APIs: the event of the integration's payload format in, the
format's response rules out.

The function is invoked only if its resource policy lets API Gateway in for the route's ARN (or
the integration's credentials role may invoke it); else a 500, as on AWS. Format 2.0 takes any
JSON: a dict with ``statusCode`` is a response (``cookies`` each a ``set-cookie`` header), anything
else is the body of a 200 JSON answer. Format 1.0 takes only the REST contract. A function error,
a throttle or a malformed response is a 500 ``Internal Server Error``; a run longer than the
integration's timeout is a 503 ``Service Unavailable``. An event over Lambda's 6 MB (a body under
the API's 10 MB) is a 413 ``Request Entity Too Large``, as a REST API answers 413 (AWS does not
document an HTTP API's answer).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from localcloud.errors import FunctionNotFound, PayloadTooLarge, Throttled
from localcloud.lib.http import HttpResponse
from localcloud.lib.proxy_response import MalformedProxyResponse, read_proxy_response
from localcloud.services.apigatewayv2.answers import (
    INTERNAL_SERVER_ERROR,
    PAYLOAD_TOO_LARGE,
    TIMEOUT,
    Refusal,
)

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Integration

PRINCIPAL = "apigateway.amazonaws.com"
_FUNCTION = re.compile(r"(?:/functions/)?(?P<arn>arn:[^:]+:lambda:[^/]+?)(?:/invocations)?$")
_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_V2_KEYS = _V1_KEYS | {"cookies"}


def function_of(call: HttpCall, uri: str, source_arn: str, credentials: str | None, what: str) -> Any:
    """The Lambda function ``uri`` names (its ARN, or the ``.../functions/{arn}/invocations``
    form), if API Gateway may invoke it for ``source_arn``; else a 500 saying why."""
    uri = _with_stage_variables(uri, call.stage.variables)
    match = _FUNCTION.search(uri)
    if match is None:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{what}: {uri} names no Lambda function")
    try:
        function = call.cloud.service("lambda").function(match["arn"])
    except FunctionNotFound:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{what}: function {match['arn']} does not exist") from None
    iam = call.cloud.iam
    if credentials:
        if not iam.decide(credentials, "lambda:InvokeFunction", function.arn).allowed:
            raise Refusal(INTERNAL_SERVER_ERROR, f"{what}: role {credentials} may not invoke {function.name}")
        return function
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": call.cloud.account}
    if not iam.allows(
        iam.resource.get(function.arn, []), PRINCIPAL, "lambda:InvokeFunction", function.arn, context
    ):
        raise Refusal(
            INTERNAL_SERVER_ERROR,
            f"{what}: no Lambda permission lets {PRINCIPAL} invoke {function.name} from {source_arn}",
        )
    return function


def _with_stage_variables(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}", lambda m: variables.get(m[1], ""), text)


def lambda_proxy(call: HttpCall, integration: Integration) -> HttpResponse:
    what = f"integration {integration.logical_id}"
    function = function_of(call, integration.uri or "", call.execute_api_arn(), integration.credentials, what)
    event = call.event_v2() if integration.payload_format_version == "2.0" else call.event_v1()
    try:
        result = call.cloud.service("lambda").invoker.invoke_sync(
            function, event, source=call.label, cause=call.span
        )
    except Throttled as error:
        call.integration_error = "Lambda throttled"
        raise Refusal(INTERNAL_SERVER_ERROR, f"Lambda throttled {function.name}: {error}") from None
    except PayloadTooLarge as error:
        call.integration_error = "Lambda refused the event as too large"
        raise Refusal(PAYLOAD_TOO_LARGE, f"Lambda refused the event for {function.name}: {error}") from None
    call.integration_latency_ms = int(result.duration * 1000)
    if result.duration * 1000 > integration.timeout_ms:
        call.integration_error = "timeout"
        raise Refusal(
            TIMEOUT,
            f"{function.name} ran {result.duration:g} s, over the integration timeout of {integration.timeout_ms} ms",
        )
    if result.failed:
        error = result.error or {}
        call.integration_error = str(error.get("errorMessage", ""))
        call.integration_status = 200
        raise Refusal(
            INTERNAL_SERVER_ERROR,
            f"Lambda function {function.name} failed: {error.get('errorType')}: {error.get('errorMessage')}",
        )
    call.integration_status = 200
    if integration.payload_format_version == "2.0":
        return _response_v2(result.payload, function.name, call)
    return _response(result.payload, function.name, call, _V1_KEYS)


def _response_v2(payload: Any, name: str, call: HttpCall) -> HttpResponse:
    """A format 2.0 answer: a dict with ``statusCode`` is a response; anything else is a 200 JSON body."""
    if isinstance(payload, dict) and "statusCode" in payload:
        return _response(payload, name, call, _V2_KEYS)
    body = json.dumps(payload).encode()
    return HttpResponse(
        200, {"Content-Type": ["application/json"], "apigw-requestid": [call.request_id]}, body
    )


def _response(payload: Any, name: str, call: HttpCall, keys: frozenset[str]) -> HttpResponse:
    def malformed(why: str) -> Refusal:
        call.integration_error = f"malformed Lambda proxy response: {why}"
        return Refusal(INTERNAL_SERVER_ERROR, f"Malformed Lambda proxy response from {name}: {why}")

    try:
        status, headers, raw = read_proxy_response(payload, keys)
    except MalformedProxyResponse as why:
        raise malformed(str(why)) from None
    if not any(key.lower() == "content-type" for key in headers):
        headers["Content-Type"] = ["text/plain; charset=utf-8" if "cookies" in keys else "application/json"]
    headers["apigw-requestid"] = [call.request_id]
    call.integration_status = status
    return HttpResponse(status, headers, raw)
