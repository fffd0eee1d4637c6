"""JWT authorizers of HTTP API routes, checked as API Gateway checks them.

The token (the identity source's value, ``Bearer `` or not) must be signed with a key of the
issuer's JWKS (RS256): for a Cognito user pool issuer, the local cloud's own pool keys; another
issuer's keys must be given to the cloud (``trust_issuer``), since nothing is fetched over the
network. Then ``iss`` is the authorizer's issuer; ``aud`` (or, without one, ``client_id``) is one
of its audiences; ``exp`` is in the future, ``nbf`` and ``iat`` are not, on the virtual clock. A
missing token is a 401 ``Unauthorized``; an invalid one a 401 with ``www-authenticate: Bearer
... error="invalid_token"``; a token with none of the route's scopes (``scope``/``scp``) a 403
``Forbidden`` with ``error="insufficient_scope"``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.lib.jwks import cognito_keys, verified_claims
from localcloud.services.apigatewayv2.answers import FORBIDDEN, UNAUTHORIZED, Refusal
from localcloud.services.apigatewayv2.identity import identity_values

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Authorizer

_COGNITO_ISSUER = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[\w-]+)$"
)


def authorize_jwt(call: HttpCall) -> None:
    assert call.route is not None and call.route.authorizer_id is not None
    authorizer = call.api.authorizers[call.route.authorizer_id]
    values = identity_values(call, authorizer.identity_sources)
    if values is None:
        call.authorizer_error = "Unauthorized"
        raise Refusal(
            UNAUTHORIZED, f"authorizer {authorizer.name}: the request has no {authorizer.identity_sources[0]}"
        )
    token = values[0].strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    claims = _checked_claims(call, authorizer, token)
    granted = _scopes(claims)
    wanted = call.route.scopes
    if wanted and not set(wanted) & set(granted):
        call.authorizer_error = "Forbidden"
        raise Refusal(
            FORBIDDEN,
            f"authorizer {authorizer.name}: the token has none of the route's scopes {wanted}",
            headers={
                "www-authenticate": f'Bearer scope="{" ".join(wanted)}" error="insufficient_scope" '
                f'error_description="expected scopes: [{" ".join(wanted)}]"'
            },
        )
    call.authorizer = {
        "jwt": {
            "claims": {name: _claim(value) for name, value in claims.items()},
            "scopes": granted if wanted else None,
        }
    }


def _checked_claims(call: HttpCall, authorizer: Authorizer, token: str) -> dict[str, Any]:
    def invalid(why: str) -> Refusal:
        call.authorizer_error = why
        return Refusal(
            UNAUTHORIZED,
            f"authorizer {authorizer.name}: {why}",
            headers={"www-authenticate": f'Bearer scope="" error="invalid_token" error_description="{why}"'},
        )

    issuer = authorizer.issuer or ""
    keys = _keys(call, issuer)
    if keys is None:
        raise invalid(f"no signing keys of issuer {issuer} (offline: give them with trust_issuer)")
    try:
        claims = verified_claims(token, keys)
    except ValueError as error:
        raise invalid(f"the token is not valid: {error}") from None
    if claims.get("iss") != issuer:
        raise invalid(f"the token's issuer {claims.get('iss')!r} is not {issuer}")
    audience = claims.get("aud", claims.get("client_id"))
    audiences = audience if isinstance(audience, list) else [audience]
    if not set(map(str, (a for a in audiences if a is not None))) & set(authorizer.audience):
        raise invalid(f"the token's audience {audience!r} is none of {authorizer.audience}")
    now = call.cloud.clock.now().timestamp()
    exp, nbf, iat = (_number(claims.get(name)) for name in ("exp", "nbf", "iat"))
    if exp is None or exp <= now:
        raise invalid("the token has expired" if exp is not None else "the token has no exp")
    if nbf is not None and nbf > now:
        raise invalid("the token is not valid yet (nbf)")
    if iat is not None and iat > now:
        raise invalid("the token was issued in the future (iat)")
    return claims


def _keys(call: HttpCall, issuer: str) -> Any:
    trusted = call.cloud.service("apigatewayv2").trusted_issuers.get(issuer.rstrip("/"))
    if trusted is not None:
        return trusted
    match = _COGNITO_ISSUER.match(issuer)
    if match is None or match["region"] != call.cloud.region:
        return None
    from botocore.exceptions import ClientError

    try:
        call.cloud.admin_client("cognito-idp").describe_user_pool(UserPoolId=match["pool"])
    except ClientError:
        return None
    return cognito_keys()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _scopes(claims: dict[str, Any]) -> list[str]:
    found = claims.get("scope", claims.get("scp"))
    if isinstance(found, list):
        return [str(s) for s in found]
    return str(found).split() if found else []


def _claim(value: Any) -> str:
    """A claim as API Gateway passes it on: a string; a list as ``[a b]``."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
