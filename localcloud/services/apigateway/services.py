"""AWS service integrations: the integration request, made into the service call API Gateway makes.

The URI names the service and either an action (``arn:aws:apigateway:{region}:dynamodb:action/PutItem``)
or a path (``arn:aws:apigateway:{region}:sqs:path/{account}/{queue}``). The mapped body is read in
the service's protocol: a JSON document for JSON services (DynamoDB, Kinesis, EventBridge, Step
Functions, SQS), a form (``Action=SendMessage&MessageBody=...``, with the query string) for query
services (SNS, and SQS by path). The call is made through boto3 against moto, as the integration's
credentials role, so IAM decides as on AWS; the answer is the service's own: its status, and its
body in its wire format (JSON, or for a query call the JSON form AWS gives unless XML is asked for).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from localcloud.services.apigateway.responses import GatewayError

if TYPE_CHECKING:
    from localcloud.services.apigateway.call import Call

log = logging.getLogger("localcloud.apigateway")

#: Service names in integration URIs whose boto3 client is named otherwise.
CLIENTS = {"states": "stepfunctions", "execute-api": "apigateway", "monitoring": "cloudwatch"}
#: SQS's query-protocol names where they differ from its JSON model's.
SQS_QUERY_NAMES = {
    "MessageAttributes": "MessageAttribute",
    "MessageSystemAttributes": "MessageSystemAttribute",
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
    "AttributeNames": "AttributeName",
    "MessageAttributeNames": "MessageAttributeName",
    "MessageSystemAttributeNames": "MessageSystemAttributeName",
    "Attributes": "Attribute",
    "Entries": "SendMessageBatchRequestEntry",
}
FORM = "application/x-www-form-urlencoded"


@dataclass
class ServiceAnswer:
    status: int
    headers: dict[str, list[str]]
    body: bytes


@dataclass
class ServiceRequest:
    service: str
    """The service as the URI names it (``sqs``, ``dynamodb``, ``states``...)."""
    action: str | None
    path: str | None
    body: bytes
    headers: dict[str, str]
    query: dict[str, str]


def parse_uri(uri: str) -> tuple[str, str, str]:
    """``(service, "action" | "path", rest)`` of an ``arn:aws:apigateway:...`` integration URI."""
    parts = uri.split(":", 5)
    if len(parts) != 6 or parts[2] != "apigateway" or "/" not in parts[5]:
        raise GatewayError("API_CONFIGURATION_ERROR", f"integration URI {uri} is not an AWS service URI")
    service = parts[4].rsplit(".", 1)[-1]
    kind, _, rest = parts[5].partition("/")
    if kind not in ("action", "path"):
        raise GatewayError(
            "API_CONFIGURATION_ERROR", f"integration URI {uri}: expected action/... or path/..."
        )
    return service, kind, rest


def call_service(call: Call, role_arn: str, request: ServiceRequest) -> ServiceAnswer:
    """Make the service call as ``role_arn``; its error is an answer too (the response mapping sees it)."""
    cloud = call.cloud
    client = cloud.admin_client(CLIENTS.get(request.service, request.service))
    model = client.meta.service_model
    form = _is_form(request)
    query_style = form or model.protocol == "query"
    operation, params = _operation_and_params(call, model, request, form, query_style)
    request_id = str(uuid.uuid4())
    try:
        operation_model = model.operation_model(operation)
    except Exception:
        return _error(
            400,
            "UnknownOperationException",
            f"{operation} is not an operation of {request.service}",
            query_style,
            request,
            request_id,
        )
    try:
        with cloud.acting_as(role_arn, call.label, call.span):
            parsed = getattr(client, xform_name(operation))(**params)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
        details = error.response.get("Error", {})
        log.info(
            "%s: %s %s answered %s %s", call.label, request.service, operation, status, details.get("Code")
        )
        return _error(
            status,
            details.get("Code", "Unknown"),
            details.get("Message", ""),
            query_style,
            request,
            request_id,
        )
    except ParamValidationError as error:
        return _error(
            400, "ValidationException", str(error).replace("\n", " "), query_style, request, request_id
        )
    except NotImplementedError as error:
        raise GatewayError(
            "INTEGRATION_FAILURE", f"{request.service} {operation} is not emulated by moto: {error}"
        ) from None
    parsed.pop("ResponseMetadata", None)
    document = _to_wire(operation_model.output_shape, parsed)
    if query_style:
        return _query_answer(operation, document, request, request_id)
    content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
    return ServiceAnswer(
        200, {"Content-Type": [content_type], "x-amzn-RequestId": [request_id]}, json.dumps(document).encode()
    )


# ---------------------------------------------------------------------------------------- requests


def _is_form(request: ServiceRequest) -> bool:
    content_type = next((v for k, v in request.headers.items() if k.lower() == "content-type"), "")
    return content_type.split(";", 1)[0].strip().lower() == FORM or request.path is not None


def _operation_and_params(
    call: Call, model: Any, request: ServiceRequest, form: bool, query_style: bool
) -> tuple[str, dict[str, Any]]:
    """The operation and its boto3 parameters: from the form body and query string for a query
    call (a body that is not a form is not read, as the service does not read it), else from the
    JSON body."""
    if query_style:
        fields = dict(request.query)
        if form:
            fields.update(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
        operation = fields.pop("Action", None) or request.action
        fields.pop("Version", None)
        if not operation:
            raise GatewayError("API_CONFIGURATION_ERROR", f"the {request.service} request names no Action")
        shape = _input_shape(model, operation)
        params = _from_query(shape, "", fields, request.service) if shape is not None else {}
    else:
        operation = request.action or ""
        if not operation:
            raise GatewayError(
                "API_CONFIGURATION_ERROR",
                f"a {request.service} path integration needs a form body naming the Action",
            )
        text = request.body.decode("utf-8", errors="replace")
        try:
            document = json.loads(text) if text.strip() else {}
        except ValueError:
            raise GatewayError(
                "API_CONFIGURATION_ERROR",
                f"the {request.service} {operation} request is not JSON: {text[:120]!r}",
            ) from None
        shape = _input_shape(model, operation)
        params = _from_json(shape, document) if shape is not None else {}
        for name, value in request.query.items():
            params.setdefault(name, value)
    if request.service == "sqs" and request.path is not None:
        params.setdefault("QueueUrl", _queue_url(call, request.path))
    return operation, params


def _input_shape(model: Any, operation: str) -> Any:
    try:
        return model.operation_model(operation).input_shape
    except Exception:
        return None


def _queue_url(call: Call, path: str) -> str:
    account, _, name = path.strip("/").partition("/")
    cloud = call.cloud
    arn = f"arn:{cloud.partition}:sqs:{cloud.region}:{account}:{name}"
    urls = cloud.service("sqs").urls
    if arn in urls:
        return urls[arn]
    return cloud.admin_client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def _from_json(shape: Any, value: Any) -> Any:
    """A JSON protocol document as boto3 parameters: blobs decoded, timestamps as datetimes."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {name: _from_json(shape.members.get(name), item) for name, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _from_json(shape.value, item) for key, item in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise GatewayError(
                "API_CONFIGURATION_ERROR", f"a blob field is not base64: {value[:40]!r}"
            ) from None
    if kind == "timestamp" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return value


def _from_query(shape: Any, name: str, fields: dict[str, str], service: str) -> Any:
    """Query-protocol form fields (``MessageAttribute.1.Name=...``) as boto3 parameters; ``name`` is
    the dotted field name of this value (empty for the request itself)."""
    kind = shape.type_name
    if kind == "structure":
        result = {}
        for member_name, member in shape.members.items():
            key = _query_name(member_name, member, service)
            value = _from_query(member, f"{name}.{key}" if name else key, fields, service)
            if value is not None:
                result[member_name] = value
        return result if result or not name else None
    flattened = shape.serialization.get("flattened") or service == "sqs"
    if kind == "list":
        base = name if flattened else f"{name}.{shape.member.serialization.get('name', 'member')}"
        items = []
        while (item := _from_query(shape.member, f"{base}.{len(items) + 1}", fields, service)) is not None:
            items.append(item)
        return items or None
    if kind == "map":
        base = name if flattened else f"{name}.entry"
        key_name = shape.key.serialization.get("name") or ("Name" if service == "sqs" else "key")
        value_name = shape.value.serialization.get("name") or ("Value" if service == "sqs" else "value")
        entries, index = {}, 1
        while f"{base}.{index}.{key_name}" in fields:
            key = fields[f"{base}.{index}.{key_name}"]
            entries[key] = _from_query(shape.value, f"{base}.{index}.{value_name}", fields, service)
            index += 1
        return entries or None
    raw = fields.get(name)
    if raw is None:
        return None
    if kind in ("integer", "long"):
        return int(raw)
    if kind in ("float", "double"):
        return float(raw)
    if kind == "boolean":
        return raw.lower() == "true"
    if kind == "blob":
        return base64.b64decode(raw)
    return raw


def _query_name(name: str, member: Any, service: str) -> str:
    if service == "sqs":
        return SQS_QUERY_NAMES.get(name, name)
    return member.serialization.get("name", name)


# ---------------------------------------------------------------------------------------- answers


def _to_wire(shape: Any, value: Any) -> Any:
    """boto3's parsed answer as the service's JSON: blobs in base64, timestamps as epoch seconds."""
    if value is None:
        return None
    kind = shape.type_name if shape is not None else None
    if isinstance(value, dict):
        members = shape.members if kind == "structure" else {}
        item_shape = shape.value if kind == "map" else None
        return {
            key: _to_wire(members.get(key) if kind == "structure" else item_shape, item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_to_wire(shape.member if kind == "list" else None, item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if hasattr(value, "read"):
        return base64.b64encode(value.read()).decode()
    return value


def _wants_xml(request: ServiceRequest) -> bool:
    accept = next((v for k, v in request.headers.items() if k.lower() == "accept"), "")
    return "xml" in accept.lower()


def _query_answer(
    operation: str, document: dict[str, Any], request: ServiceRequest, request_id: str
) -> ServiceAnswer:
    if _wants_xml(request):
        body = (
            f"<{operation}Response><{operation}Result>{_xml(document)}</{operation}Result>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
        )
        return ServiceAnswer(
            200, {"Content-Type": ["text/xml"], "x-amzn-RequestId": [request_id]}, body.encode()
        )
    answer = {
        f"{operation}Response": {
            f"{operation}Result": document,
            "ResponseMetadata": {"RequestId": request_id},
        }
    }
    return ServiceAnswer(
        200,
        {"Content-Type": ["application/json"], "x-amzn-RequestId": [request_id]},
        json.dumps(answer).encode(),
    )


def _xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{key}>{_xml(item)}</{key}>" for key, item in value.items())
    if isinstance(value, list):
        return "".join(f"<member>{_xml(item)}</member>" for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _error(
    status: int, code: str, message: str, query_style: bool, request: ServiceRequest, request_id: str
) -> ServiceAnswer:
    headers = {"x-amzn-RequestId": [request_id], "x-amzn-ErrorType": [code]}
    if query_style and _wants_xml(request):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return ServiceAnswer(status, {**headers, "Content-Type": ["text/xml"]}, body.encode())
    if query_style:
        document: dict[str, Any] = {
            "Error": {"Code": code, "Message": message, "Type": "Sender"},
            "RequestId": request_id,
        }
    else:
        document = {"__type": code, "message": message}
    return ServiceAnswer(
        status, {**headers, "Content-Type": ["application/json"]}, json.dumps(document).encode()
    )
