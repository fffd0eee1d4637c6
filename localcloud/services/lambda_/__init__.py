"""Lambda: functions run in-process from their asset folders, with the Invoke API, asynchronous
retries and destinations, event source mappings, and the function role's own use (logs, X-Ray)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.iam import arn_or_named
from localcloud.core.service import Service, Target
from localcloud.core.targets import DeliveryError, text
from localcloud.services.lambda_ import mappings, provision, stream_origins, versions, warm
from localcloud.services.lambda_.service import Lambda, answer_invoke

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _invoke(
    kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    payload = text(body)
    try:
        json.loads(payload)
    except ValueError:
        raise DeliveryError("InvalidRequestContentException", "the payload is not JSON") from None
    return "invoke", {"FunctionName": arn, "InvocationType": "Event", "Payload": payload.encode(), **options}


def _policy(kernel: Kernel, arn: str) -> tuple[str, list[Any]]:
    """A function's permissions (``AWS::Lambda::Permission``), which the kernel's IAM keeps."""
    function = kernel.service("lambda").function(arn)
    return function.arn, kernel.iam.resource.get(function.arn, [])


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    if "UUID" in params:  # an event source mapping's calls are authorized on the mapping, not its function
        return mappings.mapping_arn(*where, params["UUID"])
    name = params.get("FunctionName")
    if name is None:
        return None
    resource = arn_or_named(name, where, "lambda", f"function:{name}")
    return f"{resource}:{params['Qualifier']}" if params.get("Qualifier") else resource


SERVICE = Service.of(
    "lambda",
    provision,
    stream_origins,
    versions,
    state=Lambda,
    answers={
        "lambda.Invoke": answer_invoke,
        "lambda.PublishVersion": versions.answer_publish_version,
        "lambda.CreateAlias": versions.answer_alias,
        "lambda.UpdateAlias": versions.answer_alias,
        "lambda.GetAlias": versions.answer_alias,
        "lambda.GetEventSourceMapping": mappings.answer_get,
        "lambda.UpdateEventSourceMapping": mappings.answer_update,
    },
    target=Target("lambda", _invoke, "lambda:InvokeFunction", _policy),
    serving=warm.in_place_while_serving,
    iam_resources={"lambda": _iam_resource},
    checks={"lambda": mappings.check},
)
