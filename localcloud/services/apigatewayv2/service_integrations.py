"""AWS service integrations of HTTP APIs (``AWS_PROXY`` with an ``IntegrationSubtype``): the
integration's ``RequestParameters`` name the call's parameters, and the call is made as its
``CredentialsArn`` role through the cloud's SDK hooks, so IAM decides and the other services see
the call as any other (a rule matches a put event, a state machine starts on the next drain).

The answer is the service's: 200 and its JSON (bytes in base64, times in epoch seconds;
AppConfig's ``GetConfiguration`` answers the configuration itself, with its content type), then
the ``ResponseParameters`` for that status. API Gateway answers itself: 400 ``Bad Request`` when a
required parameter maps to nothing, a value is of the wrong kind or the subtype takes no such
parameter; 500 ``Internal Server Error`` when the role is refused, or there is no role. Any other
error of the service comes back with its status and ``{"__type": code, "message": ...}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from localcloud.errors import ResourceNotFound
from localcloud.lib.http import HttpResponse
from localcloud.lib.integration_subtypes import SUBTYPES, BadParameter, Subtype, call_of, to_wire
from localcloud.lib.parameter_mapping import MappingError, map_response, service_parameters
from localcloud.services.apigatewayv2.answers import INTERNAL_SERVER_ERROR, Refusal
from localcloud.services.apigatewayv2.parameters import sources_of

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Integration

BAD_REQUEST = (400, "Bad Request", "BAD_REQUEST_PARAMETERS")
#: Error codes by which a service refuses a caller its policies do not allow.
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})


class _ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def aws_service(call: HttpCall, integration: Integration) -> HttpResponse:
    cloud = call.cloud
    subtype_name = str(integration.subtype)
    try:
        values = service_parameters(integration.request_parameters, sources_of(call))
    except MappingError as error:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{integration.logical_id}: {error}") from None
    region = values.get("Region")
    if region and region != cloud.region:
        raise Refusal(
            INTERNAL_SERVER_ERROR,
            f"{integration.logical_id}: Region {region}: the local cloud runs {cloud.region} only",
        )
    try:
        subtype, params = call_of(subtype_name, values)
    except BadParameter as error:
        raise Refusal(BAD_REQUEST, f"{integration.logical_id}: {error}") from None
    role = integration.credentials
    if not role:
        raise Refusal(
            INTERNAL_SERVER_ERROR, f"{integration.logical_id}: {subtype_name} has no CredentialsArn"
        )
    span = cloud.trace.record(
        "integrate",
        call.label,
        f"{subtype.client}:{subtype.operation}",
        f"as {role.rsplit('/', 1)[-1]}",
        at=cloud.clock.elapsed(),
        parent=call.span,
    )
    try:
        if subtype.client == "appconfig":
            status, headers, body = _configuration(call, role, params, span.id)
        else:
            status, headers, body = _call(call, role, subtype, params, span.id)
    except _ServiceError as error:
        span.outcome = error.code
        if error.code in DENIED:
            raise Refusal(
                INTERNAL_SERVER_ERROR, f"{integration.logical_id}: {subtype_name} refused: {error.message}"
            ) from None
        status = error.status
        headers = {"Content-Type": ["application/json"], "x-amzn-ErrorType": [error.code]}
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
    except ParamValidationError as error:
        span.outcome = "invalid"
        raise Refusal(BAD_REQUEST, f"{integration.logical_id}: {str(error).replace(chr(10), ' ')}") from None
    else:
        span.outcome = str(status)
    try:
        status, headers = map_response(
            integration.response_parameters, status, headers, sources_of(call, headers, body)
        )
    except MappingError as error:
        raise Refusal(INTERNAL_SERVER_ERROR, f"{integration.logical_id}: {error}") from None
    headers["apigw-requestid"] = [call.request_id]
    call.integration_status = status
    return HttpResponse(status, headers, body)


def _call(
    call: HttpCall, role: str, subtype: Subtype, params: dict[str, Any], span: int
) -> tuple[int, dict[str, list[str]], bytes]:
    cloud = call.cloud
    client = cloud.admin_client(subtype.client)
    try:
        with cloud.acting_as(role, call.label, span):
            parsed = getattr(client, xform_name(subtype.operation))(**params)
    except ClientError as error:
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
        raise _ServiceError(status, details.get("Code", "Unknown"), details.get("Message", "")) from None
    document = to_wire(parsed)
    return 200, {"Content-Type": ["application/json"]}, json.dumps(document).encode()


def _configuration(
    call: HttpCall, role: str, params: dict[str, Any], span: int
) -> tuple[int, dict[str, list[str]], bytes]:
    """AppConfig's ``GetConfiguration`` (which moto lacks), from the AppConfig service's state:
    ``appconfig:GetConfiguration`` on the profile's ARN for the role."""
    cloud = call.cloud
    appconfig = cloud.service("appconfig")
    try:
        app, env, profile = appconfig.resolve(
            params["Application"], params["Environment"], params["Configuration"]
        )
    except ResourceNotFound as error:
        raise _ServiceError(404, "ResourceNotFoundException", str(error)) from None
    arn = appconfig.profile_arn(app, env, profile)
    decision = cloud.iam.decide(role, "appconfig:GetConfiguration", arn)
    if cloud.enforce_iam and not decision.allowed:
        cloud.trace.record(
            "denied",
            call.label,
            "appconfig",
            f"appconfig:GetConfiguration on {arn}",
            at=cloud.clock.elapsed(),
            parent=span,
            outcome="AccessDenied",
        )
        raise _ServiceError(
            403, "AccessDeniedException", f"{role} may not appconfig:GetConfiguration on {arn}"
        )
    deployment = appconfig.current(app, env, profile)
    if deployment is None:
        raise _ServiceError(
            404,
            "ResourceNotFoundException",
            f"No deployment of configuration profile {profile.name} to environment {env.name}",
        )
    version = deployment.version
    headers = {
        "Content-Type": [version.content_type],
        "Configuration-Version": [str(version.number)],
    }
    return 200, headers, version.content


HANDLERS = dict.fromkeys(SUBTYPES, aws_service)
"""Every subtype :mod:`localcloud.lib.integration_subtypes` knows, served by :func:`aws_service`."""
