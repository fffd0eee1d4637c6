"""Who an HTTP API route lets in, chosen by the route's authorization type through one table.

``authorize(call)`` runs ``AUTHORIZATIONS[route.authorization_type](call)``, which either returns
(setting ``call.authorizer``, what ``requestContext.authorizer`` carries) or raises
:class:`Refusal`. A type without an entry is a 500 naming it (:class:`UnsupportedIntegration`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from localcloud.services.apigatewayv2.answers import UnsupportedIntegration
from localcloud.services.apigatewayv2.iam_authorizer import authorize_iam
from localcloud.services.apigatewayv2.jwt_authorizer import authorize_jwt
from localcloud.services.apigatewayv2.lambda_authorizer import authorize_lambda

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall


def _none(call: HttpCall) -> None:
    return None


AUTHORIZATIONS: dict[str, Callable[[HttpCall], None]] = {
    "NONE": _none,
    "JWT": authorize_jwt,
    "CUSTOM": authorize_lambda,
    "AWS_IAM": authorize_iam,
}
"""Route ``AuthorizationType`` -> what checks it."""


def authorize(call: HttpCall) -> None:
    assert call.route is not None
    check = AUTHORIZATIONS.get(call.route.authorization_type)
    if check is None:
        raise UnsupportedIntegration(
            f"{call.route.authorization_type} authorization of route {call.route.key}"
        )
    check(call)
