"""What API Gateway does with a WebSocket connection: the ``$connect`` authorizer and route, the
route a message selects, ``$disconnect`` when either side closes, and the Lambda events of each.

A refused handshake answers the HTTP status the client sees (a deny 403, a missing identity or an
``Unauthorized`` authorizer 401, a ``$connect`` integration's non-2xx ``statusCode`` that status,
a failing one 502). A message no route takes, or whose integration fails, is answered on the
connection with API Gateway's JSON error (``{"message": "Forbidden", "connectionId": ...,
"requestId": ...}``); a route's integration answer goes back only when the route has a route
response (``RouteResponseSelectionExpression``).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.core import authorizer_policy
from localcloud.errors import FunctionNotFound, LocalCloudError, Throttled
from localcloud.services.apigatewayv2.websocket.connections import (
    MAX_MESSAGE,
    NORMAL,
    TOO_BIG,
    Connection,
    Connections,
)
from localcloud.services.apigatewayv2.websocket.model import WebSocketApi, WsRoute, from_shared

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

log = logging.getLogger("localcloud.apigatewayv2")

PRINCIPAL = "apigateway.amazonaws.com"
#: The headers API Gateway sets itself on ``$connect``: the API's own host, and where the client is.
FORWARDING = frozenset({"host", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"})


@dataclass
class Refusal:
    """A handshake API Gateway refuses: the HTTP status and body the client gets, and why."""

    status: int
    body: dict[str, str]
    why: str


class Refused(Exception):
    def __init__(self, status: int, message: str, why: str) -> None:
        super().__init__(why)
        self.refusal = Refusal(status, {"message": message}, why)


class WebSockets:
    """The WebSocket APIs of one cloud and their connections."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._apis: dict[str, WebSocketApi] | None = None
        self.connections = Connections(kernel, self.disconnect)
        kernel.add_pollable(self.connections)
        self._requests = itertools.count(1)

    # ------------------------------------------------------------------------------------ naming

    @property
    def apis(self) -> dict[str, WebSocketApi]:
        """The stack's WebSocket APIs by id, read from the shared model (again if its APIs change)."""
        shared = self.kernel.service("apigatewayv2").apis
        if self._apis is None or self._apis.keys() != {
            i for i, a in shared.items() if a.protocol == "WEBSOCKET"
        }:
            self._apis = {api.id: from_shared(api) for api in shared.values() if api.protocol == "WEBSOCKET"}
        return self._apis

    def api(self, name: str | None = None) -> WebSocketApi:
        """A WebSocket API by id, logical id, construct path end or ``Name``; None: the only one."""
        from localcloud.errors import ResourceNotFound

        apis = list(self.apis.values())
        if name is None:
            if len(apis) == 1:
                return apis[0]
            raise ResourceNotFound(
                f"the stack has {len(apis)} WebSocket APIs: name one of {[a.logical_id for a in apis]}"
            )
        for api in apis:
            if name in (api.id, api.logical_id, api.name):
                return api
        try:
            logical_id = self.kernel.logical_id(name)
        except LocalCloudError:
            logical_id = None
        for api in apis:
            if api.logical_id == logical_id:
                return api
        raise ResourceNotFound(f"no WebSocket API {name!r}; the stack has {[a.logical_id for a in apis]}")

    def domain(self, api: WebSocketApi) -> str:
        return f"{api.id}.execute-api.{self.kernel.region}.amazonaws.com"

    def _request_id(self) -> str:
        return str(uuid.UUID(int=int(self.kernel.short_id(f"ws-request/{next(self._requests)}", 32), 16)))

    # ------------------------------------------------------------------------------------ lifecycle

    def connect(
        self,
        api: WebSocketApi,
        stage: str,
        headers: dict[str, list[str]],
        query: dict[str, list[str]],
        source_ip: str = "127.0.0.1",
    ) -> Connection | Refusal:
        """Open a connection, or the refusal the handshake gets."""
        headers = {
            **{k: v for k, v in headers.items() if k.lower() not in FORWARDING},
            "Host": [self.domain(api)],
            "X-Forwarded-For": [source_ip],
            "X-Forwarded-Port": ["443"],
            "X-Forwarded-Proto": ["https"],
        }
        connection = self.connections.open(api.id, stage, headers, query, source_ip)
        span = self._span("connect", connection, api, "$connect")
        try:
            if stage not in api.stages:
                raise Refused(403, "Forbidden", f"{api.name} has no stage {stage!r}")
            route = api.routes.get("$connect")
            request_id = self._request_id()
            if route is not None and route.authorization_type not in ("NONE", "CUSTOM"):
                raise Refused(
                    500,
                    "Internal server error",
                    f"$connect authorization {route.authorization_type} is not modelled",
                )
            if route is not None and route.authorizer_id:
                self._authorize(api, route, connection, request_id, span.id)
            if route is not None and api.integration_of(route) is not None:
                event = self._event(api, connection, route.key, "CONNECT", request_id)
                answer = self._integrate(api, route, event, span.id, connection)
                status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
                if not isinstance(status, int) or not 200 <= status < 300:
                    raise Refused(
                        status if isinstance(status, int) and 400 <= status < 600 else 502,
                        "Forbidden" if status == 403 else "Internal server error",
                        f"$connect answered statusCode {status}",
                    )
        except Refused as refused:
            connection.state = "CLOSED"
            self.connections.by_id.pop(connection.id, None)
            span.outcome = str(refused.refusal.status)
            log.info("WebSocket connect to %s refused: %s", api.name, refused.refusal.why)
            span.data["why"] = refused.refusal.why
            return refused.refusal
        connection.state = "OPEN"
        span.outcome = "101"
        return connection

    def receive(self, connection: Connection, data: str | bytes) -> None:
        """A message from the client: route it, and send back what the route answers."""
        if connection.state != "OPEN":
            return
        api = self.apis[connection.api_id]
        connection.last_active_at = self.kernel.clock.now()
        size = len(data.encode() if isinstance(data, str) else data)
        if size > MAX_MESSAGE:
            self._span("message", connection, api, "-", outcome=str(TOO_BIG))
            self.disconnect(
                connection, TOO_BIG, f"Message of {size} bytes is over the {MAX_MESSAGE} bytes limit"
            )
            return
        request_id = self._request_id()
        key = api.route_key(data)
        span = self._span("message", connection, api, key or "(no route)")
        if key is None:
            span.outcome = "Forbidden"
            connection.deliver(self._error("Forbidden", connection, request_id))
            return
        route = api.routes[key]
        event = self._event(api, connection, key, "MESSAGE", request_id, data)
        try:
            answer = self._integrate(api, route, event, span.id, connection)
        except Refused as refused:
            span.outcome = "Internal server error"
            span.data["why"] = refused.refusal.why
            log.warning("WebSocket route %s of %s failed: %s", key, api.name, refused.refusal.why)
            connection.deliver(self._error("Internal server error", connection, request_id))
            return
        if route.two_way and connection.state == "OPEN":
            reply = _reply(answer)
            if reply is not None:
                connection.deliver(reply)

    def disconnect(
        self, connection: Connection, code: int = NORMAL, reason: str = "", *, by_client: bool = False
    ) -> None:
        """Close the connection (either side) and run ``$disconnect``; posting to it is 410 from now on."""
        if connection.state == "CLOSED":
            return
        was_open = connection.state == "OPEN"
        connection.state = "CLOSED"
        self.connections.by_id.pop(connection.id, None)  # gone: unknown ids are 410 alike
        connection.close_code, connection.close_reason = code, reason
        if connection.on_close is not None and not by_client:
            connection.on_close(code, reason)
        api = self.apis[connection.api_id]
        span = self._span("disconnect", connection, api, f"$disconnect {code}")
        route = api.routes.get("$disconnect")
        if not was_open or route is None or api.integration_of(route) is None:
            return
        event = self._event(api, connection, "$disconnect", "DISCONNECT", self._request_id())
        event["requestContext"]["disconnectStatusCode"] = code
        event["requestContext"]["disconnectReason"] = reason
        try:
            self._integrate(api, route, event, span.id, connection)
        except Refused as refused:
            span.outcome = "failed"
            log.warning("WebSocket $disconnect of %s failed: %s", api.name, refused.refusal.why)

    def post(self, connection: Connection, data: bytes) -> None:
        """What the management API's ``PostToConnection`` sends: text when it is UTF-8, else binary."""
        try:
            message: str | bytes = data.decode()
        except UnicodeDecodeError:
            message = data
        self.kernel.record_send(f"connection:{connection.id}", f"{len(data)} bytes")
        connection.deliver(message)

    # ------------------------------------------------------------------------------------ events

    def _span(
        self, what: str, connection: Connection, api: WebSocketApi, detail: str, outcome: str = "ok"
    ) -> Any:
        source, parent = self.kernel.caller()
        return self.kernel.trace.record(
            "websocket",
            "client" if source == "test" else source,
            f"api:{api.name}",
            f"{what} {connection.id} {detail}",
            at=self.kernel.clock.elapsed(),
            parent=parent,
            outcome=outcome,
        )

    def _context(
        self, api: WebSocketApi, connection: Connection, route_key: str, event_type: str, request_id: str
    ) -> dict[str, Any]:
        now = self.kernel.clock.now()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id.replace("-", "")[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": connection.stage,
            "connectedAt": int(connection.connected_at.timestamp() * 1000),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent or None},
            "requestId": request_id,
            "domainName": self.domain(api),
            "connectionId": connection.id,
            "apiId": api.id,
        }
        if connection.authorizer is not None:
            context["authorizer"] = connection.authorizer
        return context

    def _event(
        self,
        api: WebSocketApi,
        connection: Connection,
        route_key: str,
        event_type: str,
        request_id: str,
        data: str | bytes | None = None,
    ) -> dict[str, Any]:
        context = self._context(api, connection, route_key, event_type, request_id)
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if event_type == "CONNECT":
            event["headers"] = {k: ",".join(v) for k, v in connection.headers.items()}
            event["multiValueHeaders"] = dict(connection.headers)
            if connection.query:
                event["queryStringParameters"] = {k: v[-1] for k, v in connection.query.items()}
                event["multiValueQueryStringParameters"] = dict(connection.query)
        elif event_type == "DISCONNECT":
            event["headers"] = {"Host": self.domain(api)}
            event["multiValueHeaders"] = {"Host": [self.domain(api)]}
        if event_type == "MESSAGE":
            context["messageId"] = request_id.replace("-", "")[:16]
            if isinstance(data, bytes):
                event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
            else:
                event["body"] = data
        return event

    # ------------------------------------------------------------------------------------ calls

    def _function(self, arn: str, credentials: str | None, source_arn: str, what: str) -> Any:
        kernel = self.kernel
        try:
            function = kernel.service("lambda").function(arn)
        except FunctionNotFound:
            raise Refused(500, "Internal server error", f"{what}: no function {arn}") from None
        if credentials:
            allowed = kernel.iam.decide(credentials, "lambda:InvokeFunction", function.arn).allowed
        else:
            context = {"aws:sourcearn": source_arn, "aws:sourceaccount": kernel.account}
            allowed = kernel.iam.allows(
                kernel.iam.resource.get(function.arn, []),
                PRINCIPAL,
                "lambda:InvokeFunction",
                function.arn,
                context,
            )
        if not allowed:
            raise Refused(
                500,
                "Internal server error",
                f"{what}: API Gateway may not invoke {function.name} from {source_arn} "
                f"({'its role does not allow lambda:InvokeFunction' if credentials else 'no Lambda permission for it'})",
            )
        return function

    def _invoke(self, function: Any, event: dict[str, Any], span: int, timeout_ms: int, what: str) -> Any:
        try:
            result = self.kernel.service("lambda").invoker.invoke_sync(
                function, event, source="apigatewayv2", cause=span
            )
        except Throttled as error:
            raise Refused(
                500, "Internal server error", f"{what}: Lambda throttled {function.name}: {error}"
            ) from None
        if result.duration * 1000 > timeout_ms:
            raise Refused(
                504, "Endpoint request timed out", f"{what}: {function.name} ran {result.duration:g} s"
            )
        if result.failed:
            error = result.error or {}
            raise Refused(
                502,
                "Internal server error",
                f"{what}: {function.name} failed: {error.get('errorType')}: {error.get('errorMessage')}",
            )
        return result.payload

    def _integrate(
        self, api: WebSocketApi, route: WsRoute, event: dict[str, Any], span: int, connection: Connection
    ) -> Any:
        integration = api.integration_of(route)
        if integration is None:
            raise Refused(500, "Internal server error", f"route {route.key} has no integration")
        if integration.unserved:
            raise Refused(
                500, "Internal server error", f"route {route.key}: {integration.unserved} is not served"
            )
        kernel = self.kernel
        source_arn = f"arn:{kernel.partition}:execute-api:{kernel.region}:{kernel.account}:{api.id}/{connection.stage}/{route.key}"
        function = self._function(
            integration.function_arn, integration.credentials, source_arn, f"route {route.key}"
        )
        return self._invoke(function, event, span, integration.timeout_ms, f"route {route.key}")

    def _authorize(
        self, api: WebSocketApi, route: WsRoute, connection: Connection, request_id: str, span: int
    ) -> None:
        authorizer = api.authorizers.get(route.authorizer_id or "")
        if authorizer is None:
            raise Refused(500, "Internal server error", f"$connect names no authorizer {route.authorizer_id}")
        missing = [source for source in authorizer.identity_sources if _identity(source, connection) is None]
        if missing:
            raise Refused(401, "Unauthorized", f"identity source {', '.join(missing)} is missing")
        kernel = self.kernel
        method_arn = f"arn:{kernel.partition}:execute-api:{kernel.region}:{kernel.account}:{api.id}/{connection.stage}/$connect"
        connect = self._event(api, connection, "$connect", "CONNECT", request_id)
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{k: v for k, v in connect.items() if k != "isBase64Encoded"},
            "stageVariables": api.stages.get(connection.stage) or None,
        }
        source_arn = f"arn:{kernel.partition}:execute-api:{kernel.region}:{kernel.account}:{api.id}/authorizers/{authorizer.id}"
        what = f"authorizer {authorizer.name}"
        function = self._function(authorizer.function_arn, authorizer.credentials, source_arn, what)
        try:
            output = self._invoke(function, event, span, 29_000, what)
        except Refused as refused:
            if "Unauthorized" in refused.refusal.why.rsplit(": ", 1)[-1]:
                raise Refused(401, "Unauthorized", f"{what} answered Unauthorized") from None
            raise
        _check_policy(output, method_arn, what)
        context = output.get("context") or {}
        connection.authorizer = {
            **{k: v if isinstance(v, str | int | float | bool) else str(v) for k, v in context.items()},
            "principalId": str(output.get("principalId")),
            "integrationLatency": 0,
        }

    def _error(self, message: str, connection: Connection, request_id: str) -> str:
        return json.dumps({"message": message, "connectionId": connection.id, "requestId": request_id})


def _identity(source: str, connection: Connection) -> str | None:
    """An identity source's value (``route.request.querystring.token``, ``route.request.header.Auth``)."""
    if source.startswith("route.request.querystring."):
        values = connection.query.get(source.removeprefix("route.request.querystring."))
    elif source.startswith("route.request.header."):
        name = source.removeprefix("route.request.header.").lower()
        values = next((v for k, v in connection.headers.items() if k.lower() == name), None)
    else:
        return None
    return values[-1] if values and values[-1] != "" else None


def _check_policy(output: Any, method_arn: str, what: str) -> None:
    """A Lambda authorizer's IAM policy lets the connection in, or the handshake gets 403."""
    problem = authorizer_policy.problem(output.get("policyDocument")) if isinstance(output, dict) else ""
    if not isinstance(output, dict) or "principalId" not in output or problem:
        raise Refused(
            500, "Internal server error", f"{what} answered no principalId and policyDocument {problem}"
        )
    effect = authorizer_policy.effect(output["policyDocument"], method_arn)
    if effect != "Allow":
        why = "denies" if effect == "Deny" else "allows nothing covering"
        raise Refused(403, "Forbidden", f"{what} {why} {method_arn}")


def _reply(answer: Any) -> str | None:
    """What a two-way route sends back of a Lambda proxy answer: its ``body``, else the answer itself."""
    if isinstance(answer, dict) and "statusCode" in answer:
        body = answer.get("body")
        if body is None:
            return None
        return body if isinstance(body, str) else json.dumps(body)
    if answer is None:
        return None
    return answer if isinstance(answer, str) else json.dumps(answer)
