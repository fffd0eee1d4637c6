"""Lambda (REQUEST) authorizers of HTTP API routes, with payload formats 1.0 and 2.0.

API Gateway does not run the function when an identity source is missing (401 ``Unauthorized``).
A format 2.0 authorizer with simple responses answers ``{"isAuthorized": bool, "context": {...}}``;
any other answers an IAM policy, which must allow ``execute-api:Invoke`` on the route's ARN
(``{api}/{stage}/{METHOD}{path}``) and not deny it. A refusal is a 403 ``Forbidden``; a failed
function or an answer of the wrong shape a 500. Answers are cached by the identity's values for
``AuthorizerResultTtlInSeconds`` of virtual time (not at all without identity sources or a TTL);
a cached policy is checked again against each request's route ARN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core import authorizer_policy
from localcloud.errors import Throttled
from localcloud.services.apigatewayv2.answers import FORBIDDEN, INTERNAL_SERVER_ERROR, UNAUTHORIZED, Refusal
from localcloud.services.apigatewayv2.identity import identity_values
from localcloud.services.apigatewayv2.lambda_proxy import function_of

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Authorizer


def authorize_lambda(call: HttpCall) -> None:
    assert call.route is not None and call.route.authorizer_id is not None
    authorizer = call.api.authorizers[call.route.authorizer_id]
    values = identity_values(call, authorizer.identity_sources)
    if values is None:
        call.authorizer_error = "Unauthorized"
        raise Refusal(
            UNAUTHORIZED,
            f"authorizer {authorizer.name}: an identity source of {authorizer.identity_sources} is missing",
        )
    cache = call.cloud.service("apigatewayv2").authorizer_cache
    now = call.cloud.clock.elapsed()
    key = (authorizer.id, tuple(values))
    cached = cache.get(key) if authorizer.ttl and authorizer.identity_sources else None
    if cached is not None and cached[0] > now:
        output = cached[1]
    else:
        output = _invoke(call, authorizer, values)
        if authorizer.ttl and authorizer.identity_sources:
            cache[key] = (now + authorizer.ttl, output)
    if authorizer.simple_responses:
        if output.get("isAuthorized") is not True:
            call.authorizer_error = "Forbidden"
            raise Refusal(FORBIDDEN, f"authorizer {authorizer.name} answered isAuthorized false")
    else:
        _check_policy(call, authorizer, output["policyDocument"])
    call.authorizer = {"lambda": dict(output.get("context") or {})}
    call.principal_id = None if authorizer.simple_responses else str(output["principalId"])


def _event(call: HttpCall, authorizer: Authorizer, values: list[str]) -> dict[str, Any]:
    if authorizer.payload_format_version == "2.0":
        proxy = call.event_v2()
        event = {"version": "2.0", "type": "REQUEST", "routeArn": call.route_arn(), "identitySource": values}
        keys = ("routeKey", "rawPath", "rawQueryString", "cookies", "headers", "queryStringParameters")
        event.update({k: proxy[k] for k in keys if k in proxy})
        event["requestContext"] = proxy["requestContext"]
        event.update({k: proxy[k] for k in ("pathParameters", "stageVariables") if k in proxy})
        return event
    proxy = call.event_v1()
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": call.route_arn(),
        "identitySource": ",".join(values),
        "authorizationToken": ",".join(values),
        **{k: v for k, v in proxy.items() if k not in ("version", "body", "isBase64Encoded")},
    }


def _invoke(call: HttpCall, authorizer: Authorizer, values: list[str]) -> dict[str, Any]:
    cloud = call.cloud
    source_arn = f"arn:{cloud.partition}:execute-api:{cloud.region}:{cloud.account}:{call.api.id}/authorizers/{authorizer.id}"
    what = f"authorizer {authorizer.name}"
    function = function_of(call, authorizer.uri or "", source_arn, authorizer.credentials, what)
    try:
        result = cloud.service("lambda").invoker.invoke_sync(
            function, _event(call, authorizer, values), source=call.label, cause=call.span
        )
    except Throttled as error:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{what} was throttled: {error}") from None
    if result.failed:
        error = result.error or {}
        raise Refusal(
            INTERNAL_SERVER_ERROR, f"{what} failed: {error.get('errorType')}: {error.get('errorMessage')}"
        )
    problem = _problem(result.payload, authorizer)
    if problem:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{what} answered badly: {problem}")
    return result.payload


def _problem(output: Any, authorizer: Authorizer) -> str:
    if not isinstance(output, dict):
        return f"not a JSON object but {type(output).__name__}"
    context = output.get("context")
    if context is not None and not isinstance(context, dict):
        return "context is not an object"
    if authorizer.simple_responses:
        return "" if isinstance(output.get("isAuthorized"), bool) else "no boolean isAuthorized"
    policy_problem = authorizer_policy.problem(output.get("policyDocument"))
    if policy_problem:
        return policy_problem
    if "principalId" not in output:
        return "no principalId"
    return ""


def _check_policy(call: HttpCall, authorizer: Authorizer, policy: dict[str, Any]) -> None:
    arn = call.route_arn()
    effect = authorizer_policy.effect(policy, arn)
    if effect != "Allow":
        call.authorizer_error = "Forbidden"
        why = "denies" if effect == "Deny" else "allows nothing covering"
        raise Refusal(FORBIDDEN, f"authorizer {authorizer.name}'s policy {why} {arn}")
