"""A stage's access log: one line per request, in the stage's ``Format``, to its log group.

``$context.*`` variables are replaced by the request's values; one without a value is ``-``, as
on AWS. Lines go to the log group the ``DestinationArn`` names, stream ``{api id}_{stage}`` (the
stream name is the local cloud's choice), stamped with the request's time on the virtual clock.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

from localcloud.lib.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.apigatewayv2.call import HttpCall
    from localcloud.services.apigatewayv2.model import Api, Stage

log = logging.getLogger("localcloud.apigatewayv2")
_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.:-]+[A-Za-z0-9_])")
_GROUP = re.compile(r":log-group:(?P<name>[^:]+)")


def write(
    cloud: Kernel,
    api: Api,
    stage: Stage,
    request: HttpRequest,
    response: HttpResponse,
    call: HttpCall | None,
    request_id: str,
    error: tuple[str, str] | None,
) -> None:
    """Log the request if the stage has an access log; ``error`` is (message, response type) of
    an answer API Gateway gave itself."""
    settings = stage.access_log
    if settings is None:
        return
    values = _context(cloud, api, stage, request, response, call, request_id, error)
    line = _VARIABLE.sub(lambda m: str(values.get(m[1], "-")), settings.format)
    match = _GROUP.search(settings.destination_arn)
    if match is None:
        log.warning(
            "%s stage %s: access log destination %s is no log group",
            api.name,
            stage.name,
            settings.destination_arn,
        )
        return
    group, stream = match["name"], f"{api.id}_{stage.name}"
    logs = cloud.admin_client("logs")
    try:
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        moment = call.request_time_epoch() if call is not None else int(cloud.clock.now().timestamp() * 1000)
        logs.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": moment, "message": line}]
        )
    except logs.exceptions.ResourceNotFoundException:
        log.warning("%s stage %s: access log group %s does not exist", api.name, stage.name, group)


def _context(
    cloud: Kernel,
    api: Api,
    stage: Stage,
    request: HttpRequest,
    response: HttpResponse,
    call: HttpCall | None,
    request_id: str,
    error: tuple[str, str] | None,
) -> dict[str, Any]:
    now = cloud.clock.now()
    received = call.received if call is not None else now
    values: dict[str, Any] = {
        "requestId": request_id,
        "extendedRequestId": request_id,
        "apiId": api.id,
        "domainName": call.domain_name if call else f"{api.id}.execute-api.{cloud.region}.amazonaws.com",
        "httpMethod": request.method,
        "path": request.path,
        "protocol": "HTTP/1.1",
        "requestTime": received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(received.timestamp() * 1000),
        "routeKey": call.route_key if call else "-",
        "stage": stage.name,
        "status": response.status,
        "responseLength": len(response.body),
        "responseLatency": int((now - received).total_seconds() * 1000),
        "identity.sourceIp": request.source_ip,
        "identity.userAgent": request.header("User-Agent") or "-",
    }
    values["domainPrefix"] = str(values["domainName"]).split(".", 1)[0]
    if error is not None:
        values["error.message"], values["error.responseType"] = error
        values["error.messageString"] = f'"{error[0]}"'
    if call is None:
        return values
    for name, value in (
        ("integrationStatus", call.integration_status),
        ("integration.status", call.integration_status),
        ("integrationLatency", call.integration_latency_ms),
        ("integration.latency", call.integration_latency_ms),
        ("integrationErrorMessage", call.integration_error),
        ("integration.error", call.integration_error),
        ("authorizer.error", call.authorizer_error),
        ("authorizer.principalId", call.principal_id),
    ):
        if value is not None:
            values[name] = value
    found = call.authorizer or {}
    for claim, value in (found.get("jwt") or {}).get("claims", {}).items():
        values[f"authorizer.claims.{claim}"] = value
    for key, value in (found.get("lambda") or {}).items():
        values[f"authorizer.{key}"] = value
    return values
