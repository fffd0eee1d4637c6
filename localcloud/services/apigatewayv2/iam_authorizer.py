"""``AWS_IAM`` routes of an HTTP API: the SigV4 signature and ``execute-api:Invoke`` on the route
ARN, decided by :mod:`localcloud.core.execute_api` as for REST APIs' ``AWS_IAM`` methods (an HTTP
API has no resource policy).

An unsigned request and a caller its policies do not allow get 403 ``{"message":"Forbidden"}``; a
bad, expired or malformed signature or an unknown key gets 403 with AWS's words for it. The
caller reaches ``requestContext.authorizer.iam`` of the payload 2.0 event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core import execute_api
from localcloud.services.apigatewayv2.answers import FORBIDDEN, Refusal

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall

#: What an HTTP API words as a bare 403 rather than with the refusal's own message.
FORBIDDEN_TYPES = frozenset({"MISSING_AUTHENTICATION_TOKEN", "ACCESS_DENIED"})


def authorize_iam(call: HttpCall) -> None:
    try:
        caller = execute_api.authorize(call.cloud, call.request, call.route_arn(), host=call.domain_name)
    except execute_api.Refused as refused:
        if refused.response_type in FORBIDDEN_TYPES:
            answer = FORBIDDEN
        else:
            kind = refused.response_type if refused.response_type == "EXPIRED_TOKEN" else "INVALID_SIGNATURE"
            answer = (403, refused.message, kind)
        raise Refusal(answer, refused.cause) from None
    call.authorizer = {
        "iam": {
            "accessKey": caller.access_key,
            "accountId": caller.account,
            "callerId": caller.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller.arn,
            "userId": caller.user_id,
        }
    }
