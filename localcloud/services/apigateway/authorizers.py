"""Authorizers: Lambda (TOKEN and REQUEST) and Cognito user pools, as API Gateway runs them.

A Lambda authorizer is not invoked when one of its identity sources is missing, or a TOKEN fails
the ``IdentityValidationExpression``: 401. Its answer is cached for ``AuthorizerResultTtlInSeconds``
of virtual time (0: no cache), keyed by the identity source values, and the cached policy is
evaluated again for each request's method ARN. In the policy an explicit Deny wins (403 "...with an
explicit deny"); a method no statement allows is refused too (403). An authorizer that raises
``Unauthorized`` gives 401; one that crashes or answers without a policy gives 500. What it returns
as ``principalId`` and ``context`` reaches ``requestContext.authorizer`` and
``$context.authorizer``. It is invoked with its ``AuthorizerCredentials`` role, or else through its
function's resource policy (``.../authorizers/{id}``).

A Cognito authorizer accepts a token moto's user pool issued: signature, issuer (one of the
``ProviderARNs``), expiry on the virtual clock, the app client, and ``token_use``: an ID token
when the method names no scopes, an access token carrying one of them when it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.core import authorizer_policy
from localcloud.errors import FunctionNotFound, Throttled
from localcloud.lib.jwks import cognito_keys, verified_claims
from localcloud.services.apigateway.model import Authorizer
from localcloud.services.apigateway.responses import GatewayError, request_value

if TYPE_CHECKING:
    from localcloud.services.apigateway.call import Call

PRINCIPAL = "apigateway.amazonaws.com"
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
NOT_ALLOWED = "User is not authorized to access this resource"
_FUNCTION_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$")


@dataclass
class _Cached:
    until: datetime
    output: dict[str, Any]


class AuthorizerCache:
    """Authorizer answers by authorizer and identity, until their TTL passes on the virtual clock."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, tuple[str, ...]], _Cached] = {}

    def get(self, key: tuple[str, tuple[str, ...]], now: datetime) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry.until <= now:
            self._entries.pop(key, None)
            return None
        return entry.output

    def put(self, key: tuple[str, tuple[str, ...]], output: dict[str, Any], until: datetime) -> None:
        self._entries[key] = _Cached(until, output)


def authorize(call: Call, cache: AuthorizerCache) -> None:
    """Run the method's authorizer: set ``call.authorizer``, or raise the 401/403/500 AWS answers."""
    method = call.method
    assert method is not None
    kind = method.authorization_type
    if kind == "NONE":
        return
    if kind == "AWS_IAM":
        _iam(call)
        return
    authorizer = call.api.authorizers.get(method.authorizer_id or "")
    if authorizer is None:
        raise GatewayError(
            "AUTHORIZER_CONFIGURATION_ERROR",
            f"method {method.http_method} {method.resource.path} has no authorizer {method.authorizer_id}",
        )
    if authorizer.type == "COGNITO_USER_POOLS":
        _cognito(call, authorizer)
    else:
        _lambda(call, authorizer, cache)


# ---------------------------------------------------------------------------------------- IAM


def _iam(call: Call) -> None:
    """SigV4 and ``execute-api:Invoke``, decided by :mod:`localcloud.core.execute_api`."""
    from localcloud.core import execute_api
    from localcloud.services.apigateway.policies import condition_keys, statements

    try:
        call.iam_caller = execute_api.authorize(
            call.cloud,
            call.request,
            call.execute_api_arn(),
            host=call.domain_name,
            resource_policy=statements(call),
            context=condition_keys(call),
        )
    except execute_api.Refused as refused:
        raise GatewayError(
            refused.response_type, refused.cause, message=refused.message, body_key=refused.body_key
        ) from None


# ---------------------------------------------------------------------------------------- Lambda


def _lambda(call: Call, authorizer: Authorizer, cache: AuthorizerCache) -> None:
    values = []
    for source in authorizer.identity_sources:
        value = request_value(source, call)
        if not value:
            raise GatewayError(
                "UNAUTHORIZED", f"authorizer {authorizer.name}: identity source {source} is missing"
            )
        values.append(value)
    expression = authorizer.validation_expression if authorizer.type == "TOKEN" else None
    if expression and not re.fullmatch(expression, values[0]):
        raise GatewayError("UNAUTHORIZED", f"authorizer {authorizer.name}: the token fails {expression}")
    now = call.cloud.clock.now()
    key = (authorizer.id, tuple(values))
    output = cache.get(key, now) if authorizer.ttl > 0 else None
    if output is None:
        output = _invoke(call, authorizer, values[0] if authorizer.type == "TOKEN" else None)
        if authorizer.ttl > 0:
            cache.put(key, output, now + timedelta(seconds=authorizer.ttl))
    else:
        call.cloud.trace.record(
            "authorize",
            call.label,
            authorizer.name,
            "cached answer",
            at=call.cloud.clock.elapsed(),
            parent=call.span,
        )
    _check_policy(call, authorizer, output["policyDocument"])
    context = {key: _context_value(value) for key, value in (output.get("context") or {}).items()}
    call.authorizer = {**context, "principalId": output["principalId"], "integrationLatency": 0}
    if output.get("usageIdentifierKey") is not None:
        call.authorizer_api_key = str(output["usageIdentifierKey"])


def _invoke(call: Call, authorizer: Authorizer, token: str | None) -> dict[str, Any]:
    function = authorizer_function(call, authorizer)
    if authorizer.type == "TOKEN":
        event: dict[str, Any] = {
            "type": "TOKEN",
            "methodArn": call.execute_api_arn(),
            "authorizationToken": token,
        }
    else:
        proxy = call.proxy_event()
        event = {
            "type": "REQUEST",
            "methodArn": call.execute_api_arn(),
            **{k: proxy[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            **{
                k: proxy[k]
                for k in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters")
            },
            "stageVariables": proxy["stageVariables"],
            "requestContext": proxy["requestContext"],
        }
    try:
        result = call.cloud.service("lambda").invoker.invoke_sync(
            function, event, source=call.label, cause=call.span
        )
    except Throttled as error:
        raise GatewayError(
            "AUTHORIZER_FAILURE", f"authorizer {authorizer.name} was throttled: {error}"
        ) from None
    if result.failed:
        error = result.error or {}
        if error.get("errorMessage") == "Unauthorized":
            raise GatewayError("UNAUTHORIZED", f"authorizer {authorizer.name} answered Unauthorized")
        raise GatewayError(
            "AUTHORIZER_CONFIGURATION_ERROR",
            f"authorizer {authorizer.name} failed: {error.get('errorType')}: {error.get('errorMessage')}",
        )
    output = result.payload
    problem = _output_problem(output)
    if problem:
        raise GatewayError(
            "AUTHORIZER_CONFIGURATION_ERROR", f"authorizer {authorizer.name} answered badly: {problem}"
        )
    return output


def authorizer_function(call: Call, authorizer: Authorizer) -> Any:
    """The authorizer's function, if API Gateway may invoke it (its role, or the function's policy)."""
    from localcloud.services.apigateway.model import with_stage_variables

    match = _FUNCTION_URI.search(with_stage_variables(authorizer.uri or "", call.stage.variables))
    if match is None:
        raise GatewayError(
            "AUTHORIZER_CONFIGURATION_ERROR",
            f"authorizer {authorizer.name}: URI {authorizer.uri} names no function",
        )
    try:
        function = call.cloud.service("lambda").function(match["arn"])
    except FunctionNotFound:
        raise GatewayError(
            "AUTHORIZER_CONFIGURATION_ERROR", f"authorizer {authorizer.name}: no function {match['arn']}"
        ) from None
    cloud = call.cloud
    if authorizer.credentials:
        decision = cloud.iam.decide(authorizer.credentials, "lambda:InvokeFunction", function.arn)
        allowed = decision.allowed
    else:
        source_arn = f"arn:{cloud.partition}:execute-api:{cloud.region}:{cloud.account}:{call.api.id}/authorizers/{authorizer.id}"
        context = {"aws:sourcearn": source_arn, "aws:sourceaccount": cloud.account}
        allowed = cloud.iam.allows(
            cloud.iam.resource.get(function.arn, []),
            PRINCIPAL,
            "lambda:InvokeFunction",
            function.arn,
            context,
        )
    if not allowed:
        raise GatewayError(
            "AUTHORIZER_CONFIGURATION_ERROR",
            f"authorizer {authorizer.name}: API Gateway may not invoke {function.name} "
            f"({'its role does not allow lambda:InvokeFunction' if authorizer.credentials else 'no Lambda permission for it'})",
        )
    return function


def _output_problem(output: Any) -> str:
    if not isinstance(output, dict):
        return f"not a JSON object but {type(output).__name__}"
    if not isinstance(output.get("principalId"), str | int | float):
        return "no principalId"
    policy_problem = authorizer_policy.problem(output.get("policyDocument"))
    if policy_problem:
        return policy_problem
    context = output.get("context") or {}
    if not isinstance(context, dict):
        return "context is not an object"
    nested = [key for key, value in context.items() if isinstance(value, dict | list)]
    if nested:
        return f"context values must be strings, numbers or booleans; {', '.join(nested)} is not"
    return ""


def _context_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) or value is None else str(value)


def _check_policy(call: Call, authorizer: Authorizer, policy: dict[str, Any]) -> None:
    method_arn = call.execute_api_arn()
    effect = authorizer_policy.effect(policy, method_arn)
    if effect != "Allow":
        why = "denies" if effect == "Deny" else "allows nothing covering"
        raise GatewayError(
            "ACCESS_DENIED",
            f"authorizer {authorizer.name} {why} {method_arn}",
            message=EXPLICIT_DENY if effect == "Deny" else NOT_ALLOWED,
            body_key="Message",
        )


# ---------------------------------------------------------------------------------------- Cognito


def _cognito(call: Call, authorizer: Authorizer) -> None:
    source = (
        authorizer.identity_sources[0]
        if authorizer.identity_sources
        else "method.request.header.Authorization"
    )
    token = request_value(source, call)
    if not token:
        raise GatewayError(
            "UNAUTHORIZED", f"authorizer {authorizer.name}: identity source {source} is missing"
        )
    token = token.removeprefix("Bearer ").strip()
    try:
        claims = _verified_claims(token)
    except ValueError as error:
        raise GatewayError(
            "UNAUTHORIZED", f"authorizer {authorizer.name}: the token is not valid: {error}"
        ) from None
    cloud = call.cloud
    issuers = {
        f"https://cognito-idp.{arn.split(':')[3]}.amazonaws.com/{arn.rsplit('/', 1)[-1]}": arn.rsplit("/", 1)[
            -1
        ]
        for arn in authorizer.provider_arns
    }
    pool = issuers.get(claims.get("iss", ""))
    if pool is None:
        raise GatewayError(
            "UNAUTHORIZED",
            f"authorizer {authorizer.name}: token issuer {claims.get('iss')} is not one of its user pools",
        )
    if float(claims.get("exp", 0)) <= cloud.clock.now().timestamp():
        raise GatewayError("UNAUTHORIZED", f"authorizer {authorizer.name}: the token expired")
    client_id = claims.get("aud") or claims.get("client_id")
    if not _is_client(call, pool, client_id):
        raise GatewayError(
            "UNAUTHORIZED", f"authorizer {authorizer.name}: {client_id} is not an app client of {pool}"
        )
    scopes = call.method.authorization_scopes if call.method else []
    if scopes:
        granted = str(claims.get("scope", "")).split()
        if claims.get("token_use") != "access" or not set(scopes) & set(granted):
            raise GatewayError(
                "UNAUTHORIZED", f"authorizer {authorizer.name}: the token carries none of the scopes {scopes}"
            )
    elif claims.get("token_use") != "id":
        raise GatewayError(
            "UNAUTHORIZED",
            f"authorizer {authorizer.name}: an ID token is needed when the method names no scopes",
        )
    call.authorizer = {"claims": {key: _claim(key, value) for key, value in claims.items()}}


def _claim(key: str, value: Any) -> Any:
    """A claim as API Gateway passes it on: a string; a list (``cognito:groups``) joined with
    commas; ``exp`` and ``iat`` as dates (``Thu Jan 01 01:00:00 UTC 2026``)."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if key in {"exp", "iat"} and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    return value if isinstance(value, str) else str(value)


def _is_client(call: Call, pool: str, client_id: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        call.cloud.admin_client("cognito-idp").describe_user_pool_client(
            UserPoolId=pool, ClientId=str(client_id)
        )
    except ClientError:
        return False
    return True


def _verified_claims(token: str) -> dict[str, Any]:
    """The token's claims if moto's user pool key signed it; ValueError otherwise."""
    return verified_claims(token, cognito_keys())
