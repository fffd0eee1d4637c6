"""Routing and request validation for handlers behind API Gateway (REST API, Lambda proxy).

``Router`` routes a proxy event the way Powertools' ``APIGatewayRestResolver`` does and answers
in its shape (``{"statusCode": 404, "message": "Not found"}``), without importing Powertools'
event handler package, about 40 ms of cold start (see docs/architecture.md)::

    app = Router()

    @app.post("/items")
    def create():
        return validated_body(app, ITEM), 201

    @app.get("/items/<item_id>")
    def read(item_id):
        item = table.get_item({"id": key_parameter(app, "id", item_id)})
        if item is None:
            raise NotFound(f"item {item_id} not found")
        return item

    def handler(event, context):
        return app.resolve(event, context)

``validated_body`` and ``key_parameter`` also serve a Powertools resolver: a body or a path value
that breaks its rules is a 400 naming every problem, a body over ``max_bytes`` a 413.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.observability import logger
from shared.validation import PARTITION_KEY_MAX_BYTES, InvalidInput, Schema, key_value, parse_json_body

#: The largest body a handler reads: well above any body its schemas allow, even with every
#: character escaped (``\uXXXX``), and far below what Lambda and DynamoDB could take.
MAX_BODY_BYTES = 256 * 1024


class HttpError(Exception):
    """Answer ``status`` with ``{"statusCode": status, "message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadRequest(HttpError):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class NotFound(HttpError):
    def __init__(self, message: str = "Not found") -> None:
        super().__init__(404, message)


class Response:
    """An answer whose body the route writes itself (a 204 has none)."""

    def __init__(self, status_code: int, body: str = "", content_type: str = "application/json") -> None:
        self.status_code, self.body, self.content_type = status_code, body, content_type


class Request:
    """The parts of the proxy event that handlers read, named as Powertools names them."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.raw = event

    @property
    def body(self) -> str | None:
        return self.raw.get("body")

    @property
    def path(self) -> str:
        return self.raw.get("path") or "/"

    @property
    def query_string_parameters(self) -> dict[str, str] | None:
        return self.raw.get("queryStringParameters")


#: What a ``<name>`` in a rule matches: the characters Powertools' resolver matches, so a path
#: routes the same under either.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAMETER = re.compile(r"<(\w+)>")
Route = Callable[..., Any]


class Router:
    """Method and path routing for one Lambda proxy function; see the module docstring."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.current_event = Request({})
        self.lambda_context: Any = None

    def route(self, method: str, rule: str) -> Callable[[Route], Route]:
        """Register ``rule`` as Powertools' REST resolver compiles it, ``^rule/*$`` with the rule's
        own trailing ``/`` dropped: ``/items/`` and ``/items//`` route to ``/items``, ``//`` to
        ``/``, an empty path to ``/``."""
        literal = _PARAMETER.split(rule.rstrip("/"))
        pattern = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>{_SEGMENT})"
            for index, part in enumerate(literal)
        )

        def register(function: Route) -> Route:
            self._routes.append((method, re.compile(f"^{pattern}/*$"), function))
            return function

        return register

    def get(self, rule: str) -> Callable[[Route], Route]:
        return self.route("GET", rule)

    def post(self, rule: str) -> Callable[[Route], Route]:
        return self.route("POST", rule)

    def put(self, rule: str) -> Callable[[Route], Route]:
        return self.route("PUT", rule)

    def delete(self, rule: str) -> Callable[[Route], Route]:
        return self.route("DELETE", rule)

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The proxy answer of the route matching the event; 404 when none does. An exception
        other than :class:`HttpError` propagates: Lambda reports it and API Gateway answers 502."""
        self.current_event, self.lambda_context = Request(event), context
        method = str(event.get("httpMethod", "")).upper()
        for route_method, pattern, function in self._routes:
            found = pattern.match(self.current_event.path) if route_method == method else None
            if found is None:
                continue
            try:
                return _answer(function(**found.groupdict()))
            except HttpError as error:
                return error_answer(error.status, error.message)
        return error_answer(404, "Not found")


def validated_body(app: Any, schema: Schema, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The current request's JSON body if it fits ``schema``; else a 400 naming every problem.

    A body over ``max_bytes`` is a 413 before it is parsed. ``app`` is a :class:`Router` or a
    Powertools resolver.
    """
    body = app.current_event.body
    if body is not None and len(body.encode("utf-8", "surrogatepass")) > max_bytes:
        logger.info("refused request body", extra={"reason": "too large", "path": app.current_event.path})
        raise _refusal(app, 413, f"body: larger than {max_bytes} bytes")
    try:
        return schema.validate(parse_json_body(body))
    except InvalidInput as error:
        raise _bad_request(app, error) from None


def key_parameter(app: Any, name: str, value: str, *, max_bytes: int = PARTITION_KEY_MAX_BYTES) -> str:
    """A path or query value used as a DynamoDB key, if the table can take it; else a 400 naming it."""
    try:
        return key_value(name, value, max_bytes=max_bytes)
    except InvalidInput as error:
        raise _bad_request(app, error) from None


def _bad_request(app: Any, error: InvalidInput) -> Exception:
    logger.info("rejected request", extra={"reason": str(error), "path": app.current_event.path})
    return _refusal(app, 400, str(error))


def _refusal(app: Any, status: int, message: str) -> Exception:
    """The error ``app`` turns into ``status``: an :class:`HttpError`, or Powertools' own."""
    if isinstance(app, Router):
        return HttpError(status, message)
    from aws_lambda_powertools.event_handler.exceptions import ServiceError  # loaded by that resolver

    return ServiceError(status, message)


def _answer(result: Any) -> dict[str, Any]:
    if isinstance(result, Response):
        return _proxy(result.status_code, result.body, result.content_type)
    if isinstance(result, tuple):
        payload, status = result
        return json_answer(status, payload)
    return json_answer(200, result)


def json_answer(status: int, payload: Any) -> dict[str, Any]:
    """A proxy answer with ``payload`` as compact JSON, for a handler that needs no router."""
    return _proxy(status, json.dumps(payload, separators=(",", ":"), default=_plain), "application/json")


def error_answer(status: int, message: str) -> dict[str, Any]:
    """The error shape of Powertools' resolver: ``{"statusCode": status, "message": message}``."""
    return json_answer(status, {"statusCode": status, "message": message})


def _proxy(status: int, body: str, content_type: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "body": body,
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": [content_type]},
    }


def _plain(value: Any) -> Any:
    """DynamoDB's numbers as strings, as Powertools' encoder writes them (handlers that want JSON
    numbers convert them first)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
