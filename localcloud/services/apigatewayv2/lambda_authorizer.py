"""Lambda (REQUEST) authorizers of HTTP API routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.services.apigatewayv2.answers import UnsupportedIntegration

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall


def authorize_lambda(call: HttpCall) -> None:
    raise UnsupportedIntegration("Lambda authorization")
