"""The gatekeeper: a Lambda TOKEN authorizer that answers with the caller's whole IAM policy.

API Gateway caches the answer by token for the authorizer's TTL and applies it to every route, so
the policy lists everything the principal may call, not just the route asked for: a policy for one
route, cached, would refuse the principal's other routes until it expired.

- no token, or one this service never issued: ``Unauthorized`` (API Gateway answers 401);
- a revoked principal: a policy denying every route (403), cached like any other answer;
- otherwise: an ``Allow`` for each of its permissions (403 for any other route), with the
  principal in the context the backend receives (``requestContext.authorizer.principal``).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)

from principals import bearer_token, parse_permission, secret_matches
from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics

principals = Table(os.environ["PRINCIPALS_TABLE_NAME"])


class Unauthorized(Exception):
    """Raised for a missing or unknown token: API Gateway turns the message ``Unauthorized`` into 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = APIGatewayAuthorizerTokenEvent(event)
    token = bearer_token(request.get("authorizationToken"))
    if token is None:
        logger.info("refused: no bearer token")
        raise Unauthorized
    principal = principals.get_item({"principal_id": token.principal_id})
    stored_hash = principal.get("secret_hash") if principal else None
    if principal is None or not secret_matches(stored_hash, token.secret):
        metrics.add_metric(name="UnknownTokens", unit=MetricUnit.Count, value=1)
        logger.info("refused: unknown token", extra={"principal_id": token.principal_id})
        raise Unauthorized
    route = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=token.principal_id,
        region=route.region,
        aws_account_id=route.aws_account_id,
        api_id=route.api_id,
        stage=route.stage,
        partition=route.partition,
        context={"principal": token.principal_id},
    )
    permissions = [parse_permission(text) for text in principal.get("permissions", [])]
    if "revoked_at" in principal or not permissions:
        policy.deny_all_routes()
        logger.info("denied every route", extra={"principal_id": token.principal_id})
    else:
        for permission in permissions:
            policy.allow_route(permission.method, permission.path)
    metrics.add_metric(name="PoliciesIssued", unit=MetricUnit.Count, value=1)
    return policy.asdict()
