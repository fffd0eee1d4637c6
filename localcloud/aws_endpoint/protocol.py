"""AWS wire protocols, driven by botocore's service models: a request on the wire becomes
(service, operation, parameters), and an answer or an error becomes the response the caller's SDK
expects. Covers the protocols of the services the local cloud runs: json, query, rest-json and
rest-xml (path-style S3 only).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import parse_timestamp

from localcloud.lib.http import HttpRequest, HttpResponse

#: The services the endpoint answers: what the local cloud provisions or reads, by botocore name.
SERVED = (
    "apigateway",
    "appconfig",
    "appconfigdata",
    "cloudformation",
    "cloudfront",
    "cognito-idp",
    "dynamodb",
    "dynamodbstreams",
    "events",
    "firehose",
    "iam",
    "kinesis",
    "kms",
    "lambda",
    "logs",
    "s3",
    "scheduler",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "stepfunctions",
    "sts",
    "wafv2",
)
PROTOCOLS = frozenset({"json", "query", "rest-json", "rest-xml"})
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([\w-]+)/([\w-]+)/aws4_request")


class ProtocolError(Exception):
    """A request the endpoint cannot answer: ``code`` and ``message`` as AWS would word them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Signature:
    access_key: str
    region: str
    signing_name: str


@dataclass
class AwsCall:
    service: ServiceModel
    operation: OperationModel
    params: dict[str, Any]
    signature: Signature


def signature_of(request: HttpRequest) -> Signature:
    """Who signed the request, for which region and service (SigV4 header or presigned query)."""
    header = request.header("Authorization") or ""
    found = _CREDENTIAL.search(header) or _CREDENTIAL.search(
        "Credential=" + (request.query.get("X-Amz-Credential") or [""])[-1]
    )
    if found is None:
        unsigned = _unsigned_service(request)
        if unsigned is not None:
            return Signature("", "", unsigned)
        raise ProtocolError(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token: sign it with AWS Signature Version 4",
        )
    return Signature(found[1], found[3], found[4])


def _unsigned_service(request: HttpRequest) -> str | None:
    """The signing name of a json service whose targeted operation takes no signature (Cognito's
    ``InitiateAuth``, ``SignUp``...: SDKs send them unsigned), else None. An unsigned call has no
    access key or region: it acts as no one, and IAM does not apply to it."""
    prefix, _, name = (request.header("X-Amz-Target") or "").rpartition(".")
    for signing_name, services in _by_signing_name().items():
        for service in services:
            if service.protocol != "json" or service.metadata.get("targetPrefix") != prefix:
                continue
            if name in service.operation_names and service.operation_model(name).auth_type == "none":
                return signing_name
    return None


def parse_request(request: HttpRequest) -> AwsCall:
    """The AWS call an HTTP request makes; :class:`ProtocolError` when it names none served here."""
    signature = signature_of(request)
    candidates = _by_signing_name().get(signature.signing_name)
    if not candidates:
        raise ProtocolError(
            400,
            "UnsupportedService",
            f"service {signature.signing_name!r} is not served by the local cloud's AWS endpoint; "
            f"it serves: {', '.join(SERVED)}",
        )
    for service in candidates:
        operation = _operation(service, request)
        if operation is not None:
            return AwsCall(service, operation, _parse(service, operation, request), signature)
    raise ProtocolError(
        400,
        "UnknownOperation",
        f"{request.method} {request.path} names no {signature.signing_name} operation the endpoint "
        f"knows (target {request.header('X-Amz-Target') or 'none'}, action "
        f"{_action(request) or 'none'}); protocols served: {', '.join(sorted(PROTOCOLS))}",
    )


@functools.cache
def service_model(name: str) -> ServiceModel:
    return _session().get_service_model(name)


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def _by_signing_name() -> dict[str, list[ServiceModel]]:
    found: dict[str, list[ServiceModel]] = {}
    for name in SERVED:
        model = service_model(name)
        found.setdefault(model.signing_name or model.endpoint_prefix, []).append(model)
    return found


# ---------------------------------------------------------------------------------------- operations


def _action(request: HttpRequest) -> str | None:
    if request.method == "POST" and b"Action=" in request.body:
        form = _form(request.body)
        return (form.get("Action") or [None])[0]
    return (request.query.get("Action") or [None])[0]


def _form(body: bytes) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _operation(service: ServiceModel, request: HttpRequest) -> OperationModel | None:
    protocol = service.protocol
    if protocol == "json":
        target = request.header("X-Amz-Target") or ""
        prefix, _, name = target.rpartition(".")
        if prefix != service.metadata.get("targetPrefix") or name not in service.operation_names:
            return None
        return service.operation_model(name)
    if protocol == "query":
        name = _action(request)
        return service.operation_model(name) if name in service.operation_names else None
    if protocol in {"rest-json", "rest-xml"}:
        return _rest_operation(service, request)
    raise ProtocolError(
        400,
        "UnsupportedProtocol",
        f"{service.service_name} speaks {protocol}, which the local cloud's AWS endpoint does not "
        f"parse; it parses {', '.join(sorted(PROTOCOLS))}",
    )


def _rest_operation(service: ServiceModel, request: HttpRequest) -> OperationModel | None:
    """The operation whose method and URI template match, the most specific first (literal query
    keys such as S3's ``?tagging``, then the longest literal path)."""
    best: tuple[tuple[int, int], OperationModel] | None = None
    for name in service.operation_names:
        operation = service.operation_model(name)
        http = operation.http
        if http.get("method") != request.method:
            continue
        path_template, _, query_template = http["requestUri"].partition("?")
        if _uri_labels(path_template, request.path) is None:
            continue
        required = [part.partition("=") for part in query_template.split("&") if part]
        if any(
            key not in request.query or (value and request.query[key][-1] != value)
            for key, _, value in required
        ):
            continue
        if not _has_required_headers(operation, request):
            continue
        score = (len(required), len(re.sub(r"\{[^}]+\}", "", path_template)))
        if best is None or score > best[0]:
            best = (score, operation)
    return best[1] if best else None


def _has_required_headers(operation: OperationModel, request: HttpRequest) -> bool:
    """Whether the request carries the headers the operation requires (S3's CopyObject is a PUT to
    an object's path, like PutObject, with ``x-amz-copy-source``)."""
    shape = operation.input_shape
    if shape is None:
        return True
    return all(
        request.header(shape.members[name].serialization.get("name", name)) is not None
        for name in shape.required_members
        if shape.members[name].serialization.get("location") == "header"
    )


@functools.cache
def _uri_pattern(template: str) -> re.Pattern[str]:
    pattern = ""
    for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        pattern += re.escape(literal)
        if label.endswith("+"):
            pattern += f"(?P<{_group(label[:-1])}>.+)"
        elif label:
            pattern += f"(?P<{_group(label)}>[^/]+)"
    # A template ending in a label also matches the path without a trailing slash, as AWS routes.
    return re.compile(f"^{pattern.rstrip('/') if template != '/' else pattern}/?$")


def _group(label: str) -> str:
    return "L_" + re.sub(r"\W", "_", label)


def _uri_labels(template: str, path: str) -> dict[str, str] | None:
    found = _uri_pattern(template).match(path)
    if found is None:
        return None
    labels = re.findall(r"\{([^}+]+)\+?\}", template)
    return {label: unquote(found[_group(label)]) for label in labels if found[_group(label)] is not None}


# ---------------------------------------------------------------------------------------- parameters


def _parse(service: ServiceModel, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    try:
        if service.protocol == "json":
            body = json.loads(request.body or b"{}")
            return _from_json(shape, body) if isinstance(body, dict) else _not_an_object()
        if service.protocol == "query":
            params = _form(request.body) if request.method == "POST" else {}
            for name, values in request.query.items():
                params.setdefault(name, values)
            return _from_query(shape, {k: v[-1] for k, v in params.items()}, "") or {}
        return _from_rest(service, operation, request)
    except ProtocolError:
        raise
    # RecursionError: a body nested deeper than the parser goes (``[[[[...`` 100,000 deep).
    except (ValueError, TypeError, KeyError, RecursionError, ElementTree.ParseError) as error:
        raise ProtocolError(
            400,
            "SerializationException",
            f"{operation.name}: the request body is not valid {service.protocol} for its input ({error})",
        ) from None


def _not_an_object() -> dict[str, Any]:
    raise ProtocolError(400, "SerializationException", "the request body is not a JSON object")


def _scalar(shape: Shape, value: Any, *, timestamp_text: bool = False) -> Any:
    kind = shape.type_name
    if kind == "blob":
        return base64.b64decode(value) if isinstance(value, str) else value
    if kind == "timestamp":
        if isinstance(value, int | float) and not timestamp_text:
            return datetime.fromtimestamp(value, UTC)
        return parse_timestamp(value)
    if kind in {"integer", "long"}:
        return int(value)
    if kind in {"float", "double"}:
        return float(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() not in {"true", "false"}:
            raise ValueError(f"{value!r} is not a boolean")
        return str(value).lower() == "true"
    return value


def _from_json(shape: Shape, value: Any) -> Any:
    if getattr(shape, "is_document_type", False):
        return value
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        parsed = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key in value and value[key] is not None:
                parsed[name] = _from_json(member, value[key])
        return parsed
    if kind == "list":
        return [_from_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: _from_json(shape.value, item) for key, item in value.items()}
    return _scalar(shape, value)


def _from_query(shape: Shape, params: dict[str, str], prefix: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        parsed = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            key = f"{prefix}.{wire}" if prefix else wire
            found = _from_query(member, params, key)
            if found is not None:
                parsed[name] = found
        return parsed if parsed or not prefix else None
    if kind == "list":
        flattened = shape.serialization.get("flattened")
        item_prefix = prefix if flattened else f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        items, index = [], 1
        while True:
            found = _from_query(shape.member, params, f"{item_prefix}.{index}")
            if found is None:
                # An empty list is sent as the bare name with no value.
                return items if items or prefix in params else None
            items.append(found)
            index += 1
    if kind == "map":
        entry = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        found_map, index = {}, 1
        while f"{entry}.{index}.{key_name}" in params:
            found_map[params[f"{entry}.{index}.{key_name}"]] = _from_query(
                shape.value, params, f"{entry}.{index}.{value_name}"
            )
            index += 1
        return found_map or None
    if prefix not in params:
        return None
    return _scalar(shape, params[prefix], timestamp_text=True)


def _from_rest(service: ServiceModel, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    shape = operation.input_shape
    labels = _uri_labels(operation.http["requestUri"].partition("?")[0], request.path) or {}
    parsed: dict[str, Any] = {}
    body_members = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                parsed[name] = _scalar(member, labels[wire], timestamp_text=True)
        elif location == "querystring":
            if member.type_name == "map":
                taken = {_wire_name(m) for m in shape.members.values() if m.serialization.get("location")}
                parsed_map = {k: v[-1] for k, v in request.query.items() if k not in taken}
                if parsed_map:
                    parsed[name] = parsed_map
            elif wire in request.query:
                values = request.query[wire]
                parsed[name] = (
                    [_scalar(member.member, v, timestamp_text=True) for v in values]
                    if member.type_name == "list"
                    else _scalar(member, values[-1], timestamp_text=True)
                )
        elif location == "header":
            value = request.header(wire)
            if value is not None:
                parsed[name] = _header_value(member, value)
        elif location == "headers":
            found = {
                key[len(wire) :]: values[-1]
                for key, values in request.headers.items()
                if key.lower().startswith(wire.lower())
            }
            if found:
                parsed[name] = found
        elif location != "statusCode":
            body_members[name] = member
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        if member.type_name in {"blob", "string"}:
            if request.body or (member.type_name == "blob" and operation.has_streaming_input):
                parsed[payload] = request.body if member.type_name == "blob" else request.body.decode()
        elif request.body:
            parsed[payload] = _body(service, member, request.body)
    elif body_members and request.body:
        parsed.update(_body(service, shape, request.body, only=set(body_members)))
    return parsed


def _wire_name(member: Shape) -> str:
    return member.serialization.get("name", member.name)


def _header_value(shape: Shape, value: str) -> Any:
    if shape.serialization.get("jsonvalue"):
        return json.loads(base64.b64decode(value))
    if shape.type_name == "list":
        return [_scalar(shape.member, item.strip(), timestamp_text=True) for item in value.split(",")]
    return _scalar(shape, value, timestamp_text=True)


def _body(service: ServiceModel, shape: Shape, body: bytes, only: set[str] | None = None) -> Any:
    if service.protocol == "rest-json":
        parsed = _from_json(shape, json.loads(body))
    else:
        # Loopback only, and expat (2.4.1+) refuses entity expansion attacks.
        parsed = _from_xml(shape, ElementTree.fromstring(body))  # noqa: S314
    return {k: v for k, v in parsed.items() if k in only} if only is not None else parsed


def _from_xml(shape: Shape, node: ElementTree.Element) -> Any:
    kind = shape.type_name
    if kind == "structure":
        parsed = {}
        children: dict[str, list[ElementTree.Element]] = {}
        for child in node:
            children.setdefault(_local(child.tag), []).append(child)
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                if wire in children:
                    parsed[name] = [_from_xml(member.member, item) for item in children[wire]]
            elif wire in children:
                parsed[name] = _from_xml(member, children[wire][0])
        return parsed
    if kind == "list":
        return [_from_xml(shape.member, item) for item in node]
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        found = {}
        for entry in node:
            parts = {_local(child.tag): child for child in entry}
            found[parts[key_name].text or ""] = _from_xml(shape.value, parts[value_name])
        return found
    return _scalar(shape, node.text or "", timestamp_text=True)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------------------- answers


def error_response(
    service: ServiceModel | None,
    status: int,
    code: str,
    message: str,
    request: HttpRequest | None = None,
    request_id: str = "local",
) -> HttpResponse:
    """An error as ``service``'s protocol words it; for a service not served, in the protocol the
    request looks like it speaks, so the caller's SDK can read it."""
    protocol = service.protocol if service is not None else _protocol_of(request)
    if protocol in {"query", "rest-xml"}:
        detail = f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        if protocol == "query":
            body = (
                f"<ErrorResponse><Error><Type>{'Sender' if status < 500 else 'Receiver'}</Type>{detail}"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        else:
            body = f"<Error>{detail}<RequestId>{request_id}</RequestId></Error>"
        return HttpResponse(
            status,
            {"Content-Type": ["text/xml"], "x-amzn-RequestId": [request_id]},
            body.encode(),
        )
    content_type = "application/json"
    if protocol == "json" and service is not None:
        content_type = f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"
    headers = {"Content-Type": [content_type], "x-amzn-ErrorType": [code], "x-amzn-RequestId": [request_id]}
    body_json: dict[str, Any] = {"__type": code, "message": message}
    if service is not None and service.service_name == "sqs":
        # SQS's JSON protocol keeps the query protocol's error code for SDKs that map it.
        headers["x-amzn-query-error"] = [f"{code};Sender"]
    return HttpResponse(status, headers, json.dumps(body_json).encode())


def _protocol_of(request: HttpRequest | None) -> str:
    if request is None or request.header("X-Amz-Target"):
        return "json"
    if _action(request):
        return "query"
    return "rest-xml" if "xml" in (request.header("Content-Type") or "") else "rest-json"


def success_response(
    service: ServiceModel, operation: OperationModel, parsed: dict[str, Any]
) -> HttpResponse:
    """A successful answer serialized from parsed output, for what the local cloud answers itself
    (Lambda's Invoke, Step Functions' StartSyncExecution, AppConfig Data, CloudFormation's view of
    the served stack)."""
    status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
    shape = operation.output_shape
    values = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    protocol = service.protocol
    if protocol == "json":
        body = json.dumps(_to_json(shape, values) if shape else {}).encode()
        version = service.metadata.get("jsonVersion", "1.0")
        return HttpResponse(status, {"Content-Type": [f"application/x-amz-json-{version}"]}, body)
    if protocol == "query":
        result = _to_xml(shape, values) if shape else ""
        name = operation.name
        xml = (
            f'<{name}Response xmlns="{operation.metadata.get("xmlNamespace", "")}"><{name}Result>{result}'
            f"</{name}Result><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></{name}Response>"
        )
        return HttpResponse(status, {"Content-Type": ["text/xml"]}, xml.encode())
    if protocol == "rest-json":
        return _rest_json_response(status, shape, values)
    raise ProtocolError(
        501,
        "NotImplemented",
        f"{service.service_name} {operation.name}: answering in {protocol} is not supported",
    )


def _rest_json_response(status: int, shape: Shape | None, values: dict[str, Any]) -> HttpResponse:
    headers: dict[str, list[str]] = {"Content-Type": ["application/json"]}
    body_values = {}
    body = b""
    payload = shape.serialization.get("payload") if shape else None
    for name, value in values.items():
        member = shape.members.get(name) if shape else None
        if member is None:
            continue
        location = member.serialization.get("location")
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers[member.serialization.get("name", name)] = [_header_text(member, value)]
        elif name == payload:
            raw = value.read() if hasattr(value, "read") else value
            if member.type_name in {"blob", "string"}:
                body = raw if isinstance(raw, bytes) else str(raw).encode()
            else:
                body = json.dumps(_to_json(member, raw)).encode()
        elif location is None:
            body_values[member.serialization.get("name", name)] = _to_json(member, value)
    if not payload:
        body = json.dumps(body_values).encode()
    return HttpResponse(status, headers, body)


def _header_text(shape: Shape, value: Any) -> str:
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value).encode()).decode()
    if isinstance(value, datetime):
        return format_datetime(value.astimezone(UTC), usegmt=True)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _to_json(shape: Shape, value: Any) -> Any:
    if getattr(shape, "is_document_type", False):
        return value
    kind = shape.type_name
    if kind == "structure":
        return {
            member.serialization.get("name", name): _to_json(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if kind == "list":
        return [_to_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: _to_json(shape.value, item) for key, item in value.items()}
    if kind == "blob":
        raw = value.read() if hasattr(value, "read") else value
        return base64.b64encode(raw if isinstance(raw, bytes) else str(raw).encode()).decode()
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    return value


def _to_xml(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            if value.get(name) is None:
                continue
            wire = member.serialization.get("name", name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                parts += [f"<{wire}>{_to_xml(member.member, item)}</{wire}>" for item in value[name]]
            else:
                parts.append(f"<{wire}>{_to_xml(member, value[name])}</{wire}>")
        return "".join(parts)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_to_xml(shape.member, item)}</{tag}>" for item in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(key))}</key><value>{_to_xml(shape.value, item)}</value></entry>"
            for key, item in value.items()
        )
    if kind == "timestamp" and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if kind == "boolean":
        return str(bool(value)).lower()
    if kind == "blob":
        return base64.b64encode(value).decode()
    return escape(str(value))
