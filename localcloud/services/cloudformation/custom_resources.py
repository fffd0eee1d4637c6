"""Custom resources as CloudFormation drives them: a request (``Create``, then ``Delete`` when the
cloud stops, newest first) sent to the handler the resource's ``ServiceToken`` names.

``AWS::CloudFormation::CustomResource`` and every ``Custom::*`` type no service claims for itself
(CDK's built-in ones are claimed natively) come here. The handler must be one the local cloud can
run: the provider framework of ``custom_resources.Provider`` with Python ``on_event`` and
``is_complete`` functions (:mod:`~localcloud.services.cloudformation.provider`), or a plain Python
function answering through the ``ResponseURL`` (:mod:`~localcloud.services.cloudformation.response_url`).
Anything else (an SNS topic, a Node.js handler) is refused with the reason, naming the resource.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import FunctionNotFound, LocalCloudError, Unsupported
from localcloud.services.cloudformation.response_url import ResponseUrls

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

GENERIC_TYPE = "AWS::CloudFormation::CustomResource"
#: CloudFormation's limit on a custom resource's response, in bytes.
MAX_RESPONSE = 4096


class CustomResourceFailed(LocalCloudError):
    """A custom resource's handler answered FAILED (or could not be asked); carries its reason."""

    def __init__(self, logical_id: str, resource_type: str, request_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {request_type} failed: {reason}")
        self.logical_id = logical_id
        self.reason = reason


@dataclass
class Created:
    logical_id: str
    delete: Callable[[], None]
    """Sends the resource's Delete request; raises :class:`CustomResourceFailed`."""


class CustomResources:
    """The custom resources this cloud created, deleted newest first when it stops."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.created: list[Created] = []
        self.responses = ResponseUrls()
        """Where plain Lambda-backed handlers PUT their answers."""

    def add(self, logical_id: str, delete: Callable[[], None]) -> None:
        self.created.append(Created(logical_id, delete))

    def tear_down(self) -> None:
        """Send every Delete, as a stack deletion does; raise the failures together at the end."""
        failures = []
        while self.created:
            created = self.created.pop()
            try:
                created.delete()
            except LocalCloudError as error:
                failures.append(str(error))
        if failures:
            raise LocalCloudError("deleting the stack's custom resources failed: " + "; ".join(failures))

    def close(self) -> None:
        self.responses.close()


def resource_type(kernel: Kernel, logical_id: str) -> str:
    return kernel.artifact.template["Resources"][logical_id]["Type"]


def request(
    kernel: Kernel, logical_id: str, request_type: str, props: dict[str, Any], physical_id: str | None = None
) -> dict[str, Any]:
    """The event CloudFormation sends a custom resource's handler, as documented for custom resources.

    Property values reach the handler as CloudFormation sends them: numbers and booleans as strings.
    """
    stack_id = f"arn:{kernel.partition}:cloudformation:{kernel.region}:{kernel.account}:stack/{kernel.stack_name}/{kernel.short_id('stack')}"
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{stack_id}/{logical_id}/{request_type}"))
    bucket = f"cloudformation-custom-resource-response-{kernel.region.replace('-', '')}"
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": props.get("ServiceToken", ""),
        "ResponseURL": f"https://{bucket}.s3.amazonaws.com/{request_id}?X-Amz-Expires=7200",
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type(kernel, logical_id),
        "ResourceProperties": _as_sent(props),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def response_size(event: dict[str, Any], physical_id: str, data: dict[str, Any]) -> str | None:
    """Why CloudFormation refuses this response, if it does: its 4,096-byte limit."""
    body = json.dumps(
        {
            "Status": "SUCCESS",
            "Reason": "OK",
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data,
        }
    )
    if len(body.encode()) <= MAX_RESPONSE:
        return None
    return f"Response object is too long ({len(body.encode())} bytes, over CloudFormation's {MAX_RESPONSE})."


def _as_sent(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {key: _as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_sent(item) for item in value]
    return value


def handler_function(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Any:
    """The function the ``ServiceToken`` names, or an error saying why there is none to run."""
    kind = resource_type(kernel, logical_id)
    token = props.get("ServiceToken")
    if not isinstance(token, str) or not token:
        raise CustomResourceFailed(logical_id, kind, "Create", "it has no ServiceToken")
    service = token.split(":")[2] if token.startswith("arn:") and token.count(":") >= 5 else ""
    if service != "lambda":
        raise Unsupported(
            f"{logical_id} ({kind})",
            f"a custom resource whose ServiceToken is {token}",
            "only custom resources backed by a Lambda function of the stack run offline",
        )
    try:
        return kernel.service("lambda").function(token)
    except FunctionNotFound:
        raise CustomResourceFailed(
            logical_id, kind, "Create", f"its ServiceToken {token} is no function of this stack"
        ) from None


@provisions(GENERIC_TYPE)
def custom_resource(kernel: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Any custom resource no service claims: a Provider's Python handlers, or a plain Python
    function answering through the ResponseURL."""
    from localcloud.services.cloudformation import provider, response_url

    kind = resource_type(kernel, logical_id)
    function = handler_function(kernel, logical_id, props)
    if provider.USER_ON_EVENT in function.environment:
        send = provider.run
    elif function.runtime.startswith("python"):
        send = response_url.run
    else:
        raise Unsupported(
            f"{logical_id} ({kind})",
            f"a custom resource whose handler runs on {function.runtime or 'an unknown runtime'}",
            f"{function.name} cannot run offline; the local cloud runs Python handlers",
        )
    physical_id, data = send(kernel, function, request(kernel, logical_id, "Create", props))

    def delete() -> None:
        send(kernel, function, request(kernel, logical_id, "Delete", props, physical_id))

    kernel.service("cloudformation").add(logical_id, delete)
    return Provisioned(physical_id, data)
