"""``Custom::AWS``, CDK's ``custom_resources.AwsCustomResource``, made natively: what its Node.js
handler does on AWS, done with boto3 on the cloud's moto state.

Its ``Create``, ``Update`` and ``Delete`` properties are JSON strings of an SDK call: ``service``
(an SDK v2 name such as ``SSM``, or a v3 package ``@aws-sdk/client-ssm``), ``action``
(``putParameter`` or ``PutParameter``), ``parameters`` (``PHYSICAL:RESOURCEID:`` stands for the
physical id), ``physicalResourceId`` (``{"id": ...}`` or ``{"responsePath": ...}``),
``outputPaths``/``outputPath``, ``ignoreErrorCodesMatching``, ``region`` and ``assumedRoleArn``.
The call runs as the handler function's role (or the role it assumes), IAM-checked like a
function's calls; its response, flattened to ``a.b.0.c`` keys as the handler flattens it (dates
dropped, blobs decoded, with SDK v3's ``$metadata`` and the ``region``), is what ``Fn::GetAtt`` and
``get_response_field`` read; over CloudFormation's 4,096-byte response limit it fails, as on AWS. ``Create`` runs
when the cloud starts (a redeploy starts a new cloud, so ``Update`` is not sent), ``Delete`` when it
stops. A call the local cloud cannot make, or the role may not, fails the resource naming the call.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, ParamValidationError
from botocore.session import get_session

from localcloud.core import hooks
from localcloud.core.service import Provisioned, provisions
from localcloud.errors import Unsupported
from localcloud.services.cloudformation.custom_resources import (
    CustomResourceFailed,
    handler_function,
    request,
    response_size,
)

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

PHYSICAL_RESOURCE_ID = "PHYSICAL:RESOURCEID:"
RESOURCE_TYPE = "Custom::AWS"

#: SDK v3 package names (and SDK v2 class names, lower-cased) whose botocore name differs.
SERVICE_NAMES = {
    "cloudwatch-logs": "logs",
    "cloudwatchlogs": "logs",
    "sfn": "stepfunctions",
    "cognito-identity-provider": "cognito-idp",
    "cognitoidentityserviceprovider": "cognito-idp",
    "eventbridge": "events",
    "cloudwatchevents": "events",
    "cloudwatch-events": "events",
    "dynamodb-streams": "dynamodbstreams",
    "api-gateway": "apigateway",
    "secrets-manager": "secretsmanager",
    "route-53": "route53",
    "elastic-load-balancing-v2": "elbv2",
    "elasticloadbalancingv2": "elbv2",
    "elastic-load-balancing": "elb",
    "elasticloadbalancing": "elb",
    "iot-data-plane": "iot-data",
    "iotdata": "iot-data",
}


@provisions(RESOURCE_TYPE)
def aws_custom_resource(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    function = handler_function(kernel, logical_id, props)
    calls = {kind: _decode(logical_id, kind, props.get(kind)) for kind in ("Create", "Update", "Delete")}
    physical_id = next(
        (
            c["physicalResourceId"]["id"]
            for c in calls.values()
            if c and "id" in c.get("physicalResourceId", {})
        ),
        logical_id,
    )
    data: dict[str, Any] = {}
    if calls["Create"]:
        physical_id, data = _run(kernel, logical_id, function, calls["Create"], "Create", physical_id)
    if calls["Delete"]:
        delete, role = calls["Delete"], function

        def send_delete() -> None:
            deleting = delete.get("physicalResourceId", {}).get("id", physical_id)
            _run(kernel, logical_id, role, delete, "Delete", deleting)

        kernel.service("cloudformation").add(logical_id, send_delete)
    return Provisioned(physical_id, data)


def _decode(logical_id: str, kind: str, value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        call = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as error:
        raise CustomResourceFailed(logical_id, RESOURCE_TYPE, kind, f"{kind} is not JSON: {error}") from None
    if not isinstance(call, dict) or "service" not in call or "action" not in call:
        raise CustomResourceFailed(logical_id, RESOURCE_TYPE, kind, f"{kind} has no service and action")
    return call


def _run(
    kernel: Kernel, logical_id: str, function: Any, call: dict[str, Any], kind: str, physical_id: str
) -> tuple[str, dict[str, Any]]:
    """Make ``call`` as the handler would: the new physical id and the response data it keeps."""
    service, operation = botocore_service(call["service"]), operation_name(call["action"])
    label = f"{call['service']}.{call['action']}"
    fail = lambda reason: CustomResourceFailed(logical_id, RESOURCE_TYPE, kind, f"{label}: {reason}")  # noqa: E731
    if service is None:
        raise Unsupported(f"{logical_id} ({RESOURCE_TYPE})", f"the SDK service {call['service']!r} of {kind}")
    client = hooks.admin_client(service, call.get("region") or kernel.region)
    if operation not in client.meta.service_model.operation_names:
        raise fail(f"{service} has no operation {operation}")
    span = kernel.trace.record(
        "custom-resource",
        "cloudformation",
        logical_id,
        f"{kind} {service}.{operation}",
        at=kernel.clock.elapsed(),
    )
    role_arn, session = function.role_arn, function.name
    if call.get("assumedRoleArn"):
        role_arn, session = _assume(kernel, function, call["assumedRoleArn"], physical_id, fail)
    parameters = _with_physical_id(call.get("parameters") or {}, physical_id)
    flat: dict[str, Any] = {}
    try:
        with kernel.acting_as(role_arn, session, span.id):
            response = getattr(client, _method(client, operation))(**parameters)
        flat = {"region": client.meta.region_name, **flatten(_as_v3(response))}
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "404" and "Not yet implemented" in str(error):  # moto's answer for a service it lacks
            span.outcome = "not implemented"
            raise Unsupported(
                f"{logical_id} ({RESOURCE_TYPE})",
                f"the call {service}.{operation}",
                "moto does not implement it",
            ) from None
        ignore = call.get("ignoreErrorCodesMatching")
        if not ignore or not re.search(ignore, code):
            span.outcome = code or "error"
            raise fail(f"{code}: {error.response.get('Error', {}).get('Message', '')}") from None
        span.outcome = f"ignored {code}"
    except ParamValidationError as error:
        span.outcome = "ParamValidationError"
        raise fail(str(error)) from None
    except NotImplementedError as error:
        span.outcome = "not implemented"
        raise Unsupported(
            f"{logical_id} ({RESOURCE_TYPE})", f"the call {service}.{operation}", str(error)
        ) from None
    paths = [call["outputPath"]] if call.get("outputPath") else call.get("outputPaths")
    data = {k: v for k, v in flat.items() if any(k.startswith(p) for p in paths)} if paths else flat
    response_path = call.get("physicalResourceId", {}).get("responsePath")
    if response_path:
        if response_path not in flat:
            raise fail(
                f"the response has no {response_path!r} for physicalResourceId (it has: {', '.join(flat) or 'nothing'})"
            )
        physical_id = str(flat[response_path])
    span.data["physical_id"] = physical_id
    event = request(kernel, logical_id, kind, {})
    too_long = response_size(event, physical_id, data)
    if too_long:
        raise fail(f"{too_long} Choose what to keep with outputPaths.")
    return physical_id, data


def _as_v3(response: dict[str, Any]) -> dict[str, Any]:
    """The response as SDK v3 gives it to the handler: botocore's metadata as ``$metadata``."""
    meta = response.pop("ResponseMetadata", {})
    return {
        **response,
        "$metadata": {
            "httpStatusCode": meta.get("HTTPStatusCode", 200),
            "requestId": meta.get("RequestId", ""),
            "attempts": meta.get("RetryAttempts", 0) + 1,
            "totalRetryDelay": 0,
        },
    }


def _assume(kernel: Kernel, function: Any, role_arn: str, physical_id: str, fail: Any) -> tuple[str, str]:
    decision = kernel.iam.decide(function.role_arn, "sts:AssumeRole", role_arn)
    if kernel.enforce_iam and not decision.allowed:
        raise fail(f"the handler's role may not sts:AssumeRole {role_arn} {decision.reason}")
    return role_arn, re.sub(
        r"[^\w+=,.@-]", "", f"{int(kernel.clock.now().timestamp() * 1000)}-{physical_id}"
    )[:64]


def botocore_service(name: str) -> str | None:
    """botocore's name for an SDK v2 class name or v3 package name, None for no such service."""
    short = name.lower().removeprefix("@aws-sdk/client-")
    short = SERVICE_NAMES.get(short, short)
    available = _available_services()
    if short in available:
        return short
    squashed = {service.replace("-", ""): service for service in available}
    return squashed.get(short.replace("-", ""))


def operation_name(action: str) -> str:
    """The API's PascalCase name from an SDK v2 method (``putParameter``) or v3 command class."""
    if action[:1].islower():
        return action[:1].upper() + action[1:]
    return action.removesuffix("Command")


def _method(client: Any, operation: str) -> str:
    return next(m for m, op in client.meta.method_to_api_mapping.items() if op == operation)


def _with_physical_id(value: Any, physical_id: str) -> Any:
    if value == PHYSICAL_RESOURCE_ID:
        return physical_id
    if isinstance(value, list):
        return [_with_physical_id(v, physical_id) for v in value]
    if isinstance(value, dict):
        return {k: _with_physical_id(v, physical_id) for k, v in value.items()}
    return value


def flatten(response: Any) -> dict[str, Any]:
    """``{"a.b.0.c": value}`` for every leaf, as the handler flattens the SDK's answer: a date (an
    object in JavaScript) leaves nothing, bytes and streams become their text."""
    flat: dict[str, Any] = {}

    def visit(value: Any, path: tuple[str, ...]) -> None:
        if hasattr(value, "read"):
            value = value.read()
        if isinstance(value, bytes | bytearray):
            value = _text(bytes(value))
        if isinstance(value, dict):
            for key, item in value.items():
                visit(item, (*path, str(key)))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(item, (*path, str(index)))
        elif not isinstance(value, datetime):
            flat[".".join(path)] = value

    visit(response, ())
    return flat


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return base64.b64encode(data).decode()


@functools.cache
def _available_services() -> frozenset[str]:
    return frozenset(get_session().get_available_services())
