"""Cognito's public endpoint (``https://cognito-idp.{region}.amazonaws.com``) as a front door, for a
page that signs in from the browser (``amazon-cognito-identity-js``, Amplify).

It answers what AWS answers there without a signature: the operations botocore's model marks
``authtype: none`` (``SignUp``, ``ConfirmSignUp``, ``InitiateAuth``, ``RespondToAuthChallenge``,
``GetUser`` with an access token...), in Cognito's JSON protocol, made through the cloud's client
so the local cloud's checks apply (real SRP, the password policy, the client's auth flows). Any
other operation is ``MissingAuthenticationTokenException``, as unsigned on AWS.

A signed request is refused (403): the AWS endpoint (``serve --aws-port``) takes signed calls, as
an administrator, and listens on loopback only; this door takes none, so it may listen where the
pages do. CORS as Cognito's endpoint answers it: any origin, ``POST`` with the headers an SDK
sends; a preflight asking for ``Authorization`` or a session token is refused.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from localcloud.aws_endpoint.protocol import ProtocolError, error_response, parse_request, success_response
from localcloud.core.front_doors import FrontDoor
from localcloud.lib.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
#: What a browser may send across origins: the SDKs' headers; never credentials.
ALLOWED_HEADERS = frozenset(
    {
        "content-type",
        "x-amz-target",
        "x-amz-user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "cache-control",
        "x-amz-date",
    }
)
#: Headers of a signed call: this door answers none.
SIGNED = ("Authorization", "X-Amz-Security-Token")
CORS = {
    "Access-Control-Allow-Origin": ["*"],
    "Access-Control-Expose-Headers": ["x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"],
}
PREFLIGHT_MAX_AGE = "86400"


def endpoint_url(region: str) -> str:
    """The AWS URL the door stands for."""
    return f"https://cognito-idp.{region}.amazonaws.com"


def front_doors(kernel: Kernel) -> list[FrontDoor]:
    """One door when the stack has a user pool: its pages sign in there."""
    from moto.cognitoidp.models import cognitoidp_backends

    if not cognitoidp_backends[kernel.account][kernel.region].user_pools:
        return []
    return [
        FrontDoor(
            "cognito",
            "Cognito user pools API (unsigned operations)",
            "",
            lambda request: answer(kernel, request),
            "cognito-idp",
            stands_for=endpoint_url(kernel.region),
        )
    ]


#: The sign-up ``serve`` prints: a password any pool's policy takes, an address to read the code for.
SIGN_UP_EXAMPLE = {"Username": "you@example.com", "Password": "Correct-horse-battery-staple-9"}


def try_lines(kernel: Kernel, door: FrontDoor) -> list[str]:
    """A sign-up as a page sends it, with the stack's first app client without a secret (one with a
    secret needs a hash no shell line computes): its code then shows in the trace."""
    from moto.cognitoidp.models import cognitoidp_backends

    for pool in cognitoidp_backends[kernel.account][kernel.region].user_pools.values():
        for client in pool.clients.values():
            if client.generate_secret:
                continue
            body = {
                "ClientId": client.id,
                **SIGN_UP_EXAMPLE,
                "UserAttributes": [{"Name": "email", "Value": SIGN_UP_EXAMPLE["Username"]}],
            }
            return [
                f"curl -i -X POST {door.url} -H 'X-Amz-Target: {TARGET_PREFIX}SignUp' "
                f"-H 'Content-Type: application/x-amz-json-1.1' -d {shlex.quote(json.dumps(body))}"
            ]
    return []


def answer(kernel: Kernel, request: HttpRequest) -> HttpResponse:
    if request.method == "OPTIONS":
        return _preflight(request)
    response = _call(kernel, request)
    response.headers.update(CORS)
    return response


def _preflight(request: HttpRequest) -> HttpResponse:
    asked = {h.strip().lower() for h in (request.header("Access-Control-Request-Headers") or "").split(",")}
    asked.discard("")
    method = request.header("Access-Control-Request-Method")
    refused = sorted(asked - ALLOWED_HEADERS)
    if method != "POST" or refused:
        why = f"headers {', '.join(refused)} are" if refused else f"method {method} is"
        return HttpResponse.of_json(403, {"message": f"CORS: {why} not allowed by the Cognito endpoint"})
    return HttpResponse(
        200,
        {
            **CORS,
            "Access-Control-Allow-Methods": ["POST"],
            "Access-Control-Allow-Headers": [", ".join(sorted(asked))],
            "Access-Control-Max-Age": [PREFLIGHT_MAX_AGE],
        },
    )


def _call(kernel: Kernel, request: HttpRequest) -> HttpResponse:
    call = None
    try:
        if request.method != "POST" or not (request.header("X-Amz-Target") or "").startswith(TARGET_PREFIX):
            raise ProtocolError(
                400, "UnknownOperationException", "expected POST with X-Amz-Target " + TARGET_PREFIX + "*"
            )
        signed = [name for name in SIGNED if request.header(name) is not None]
        if signed:
            raise ProtocolError(
                403,
                "NotAuthorizedException",
                f"this endpoint answers Cognito's unsigned operations only (the request has {signed[0]}); "
                "signed calls go to the AWS endpoint (serve --aws-port)",
            )
        call = parse_request(request)
    except ProtocolError as error:
        code = (
            "MissingAuthenticationTokenException"
            if error.code == "MissingAuthenticationToken"
            else error.code
        )
        service = call.service if call else None
        return error_response(service, error.status, code, error.message, request)
    client = kernel.admin_client("cognito-idp")
    try:
        parsed: dict[str, Any] = getattr(client, xform_name(call.operation.name))(**call.params)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        detail = error.response.get("Error", {})
        return error_response(call.service, status, detail.get("Code", "Error"), detail.get("Message", ""))
    except ParamValidationError as error:
        return error_response(call.service, 400, "InvalidParameterException", str(error))
    return success_response(call.service, call.operation, parsed)
