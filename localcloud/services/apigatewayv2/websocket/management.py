"""The API Gateway Management API (``apigatewaymanagementapi``), answered in-process.

Handlers call it as AWS documents, with the stage's endpoint::

    boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{api}.execute-api.{region}.amazonaws.com/{stage}")

moto has no such service: the kernel hands each call here before anything is sent. The endpoint
names the API and stage; each call is checked against the caller's policies for
``execute-api:ManageConnections`` on ``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/@connections/{id}``
(POST, GET, DELETE), as AWS checks it. A connection that is gone (closed, or still in ``$connect``)
answers 410 ``GoneException`` with no message, as AWS does; data over 128 KB answers 413
``PayloadTooLargeException``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from localcloud.core import hooks
from localcloud.errors import aws_error
from localcloud.services.apigatewayv2.websocket.connections import MAX_MESSAGE
from localcloud.services.apigatewayv2.websocket.model import SERVICE_NAME

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall
    from localcloud.services.apigatewayv2.websocket.gateway import WebSockets

SERVICE = "apigatewaymanagementapi"
ACTION = "execute-api:ManageConnections"
METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}
_HOST = re.compile(r"^(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")


def answer(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    """The answer to one management call, or the error AWS gives it (as the caller's client raises it)."""
    try:
        return _answer(kernel, call)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return status, error.response


def _answer(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    operation = call.operation
    if operation not in METHODS:
        raise aws_error("BadRequestException", f"{operation} is not modelled by the local cloud", operation)
    websockets: WebSockets = kernel.service(SERVICE_NAME)
    parts = urlsplit(call.url)
    host = _HOST.match(parts.hostname or "")
    stage = parts.path.lstrip("/").split("/", 1)[0]
    api = websockets.apis.get(host["api"]) if host else None
    if host is None or api is None or stage not in api.stages or host["region"] != kernel.region:
        raise aws_error(
            "ForbiddenException",
            f"no WebSocket API stage at {parts.scheme}://{parts.hostname}/{stage}: the endpoint is "
            "https://{api-id}.execute-api.{region}.amazonaws.com/{stage}",
            operation,
            403,
        )
    connection_id = str(call.params.get("ConnectionId", ""))
    resource = (
        f"arn:{kernel.partition}:execute-api:{kernel.region}:{kernel.account}:"
        f"{api.id}/{stage}/{METHODS[operation]}/@connections/{connection_id}"
    )
    _authorize(kernel, operation, resource)
    connection = websockets.connections.live(connection_id)
    if connection is None or connection.api_id != api.id or connection.stage != stage:
        raise aws_error("GoneException", "", operation, 410)
    if operation == "PostToConnection":
        data = call.params.get("Data", b"")
        data = (
            data.encode() if isinstance(data, str) else bytes(data.read() if hasattr(data, "read") else data)
        )
        if len(data) > MAX_MESSAGE:
            raise aws_error(
                "PayloadTooLargeException",
                f"Data of {len(data)} bytes is over the {MAX_MESSAGE} bytes a WebSocket message may be",
                operation,
                413,
            )
        websockets.post(connection, data)
        return 200, {}
    if operation == "GetConnection":
        return 200, {
            "ConnectedAt": connection.connected_at,
            "LastActiveAt": connection.last_active_at,
            "Identity": {"SourceIp": connection.source_ip, "UserAgent": connection.user_agent},
        }
    websockets.disconnect(connection, 1000, "Connection deleted by the management API")
    return 204, {}


def _authorize(kernel: Kernel, operation: str, resource: str) -> None:
    principal = hooks.principal()
    if principal is None or not kernel.enforce_iam:
        return
    decision = kernel.iam.decide(principal.role_arn, ACTION, resource)
    if not decision.allowed:
        raise hooks.denied(kernel, principal, "execute-api", operation, ACTION, resource, decision.reason)
