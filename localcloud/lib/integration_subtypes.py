"""HTTP API AWS service integrations (``IntegrationSubtype``): which service call each subtype
makes, its parameters as AWS's integration subtype reference lists them, and how the mapped string
values become the call's parameters.

Pure: :func:`call_of` turns a subtype and its mapped parameters into ``(boto3 client, operation,
parameters)``; the caller makes the call as the integration's role. A required parameter that is
missing or empty, a parameter the subtype does not take, or a value of the wrong kind raises
:class:`BadParameter` naming it: API Gateway answers such a request 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class BadParameter(Exception):
    """A parameter the call cannot be made with; the message names it."""


@dataclass(frozen=True)
class Subtype:
    client: str
    """The boto3 client's name."""
    operation: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Callable[[dict[str, str]], dict[str, Any]]
    """The boto3 parameters from the mapped values (all present ones, by their AWS names)."""


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadParameter(f"{name} must be an integer, not {value!r}") from None


def _json(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise BadParameter(f"{name} must be JSON, not {value[:60]!r}") from None


def _blob(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadParameter(f"{name} must be base64-encoded") from None


def _time(name: str, value: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(f"{name} must be epoch seconds or an ISO 8601 time, not {value!r}") from None


def _list(name: str, value: str) -> list[str]:
    if value.lstrip().startswith("["):
        found = _json(name, value)
        if not isinstance(found, list):
            raise BadParameter(f"{name} must be a list")
        return [str(item) for item in found]
    return [item.strip() for item in value.split(",") if item.strip()]


def _sqs_send(values: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"QueueUrl": values["QueueUrl"], "MessageBody": values["MessageBody"]}
    if "DelaySeconds" in values:
        params["DelaySeconds"] = _integer("DelaySeconds", values["DelaySeconds"])
    for name in ("MessageAttributes", "MessageSystemAttributes"):
        if name in values:
            attributes = _json(name, values[name])
            if not isinstance(attributes, dict):
                raise BadParameter(f"{name} must be a JSON object")
            params[name] = attributes
    for name in ("MessageDeduplicationId", "MessageGroupId"):
        if name in values:
            params[name] = values[name]
    return params


def _sqs_receive(values: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {"QueueUrl": values["QueueUrl"]}
    for name in ("MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds"):
        if name in values:
            params[name] = _integer(name, values[name])
    for name in ("AttributeNames", "MessageAttributeNames"):
        if name in values:
            params[name] = _list(name, values[name])
    if "ReceiveRequestAttemptId" in values:
        params["ReceiveRequestAttemptId"] = values["ReceiveRequestAttemptId"]
    return params


def _put_events(values: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Detail": values["Detail"],
        "DetailType": values["DetailType"],
        "Source": values["Source"],
    }
    if "Time" in values:
        entry["Time"] = _time("Time", values["Time"])
    if "Resources" in values:
        entry["Resources"] = _list("Resources", values["Resources"])
    for name in ("EventBusName", "TraceHeader"):
        if name in values:
            entry[name] = values[name]
    return {"Entries": [entry]}


def _start_execution(values: dict[str, str]) -> dict[str, Any]:
    params = {"stateMachineArn": values["StateMachineArn"]}
    if "Name" in values:
        params["name"] = values["Name"]
    if "Input" in values:
        params["input"] = values["Input"]
    if "TraceHeader" in values:
        params["traceHeader"] = values["TraceHeader"]
    return params


def _stop_execution(values: dict[str, str]) -> dict[str, Any]:
    params = {"executionArn": values["ExecutionArn"]}
    for name in ("Cause", "Error"):
        if name in values:
            params[name.lower()] = values[name]
    return params


def _put_record(values: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "StreamName": values["StreamName"],
        "Data": _blob("Data", values["Data"]),
        "PartitionKey": values["PartitionKey"],
    }
    for name in ("SequenceNumberForOrdering", "ExplicitHashKey"):
        if name in values:
            params[name] = values[name]
    return params


def _get_configuration(values: dict[str, str]) -> dict[str, Any]:
    params = {name: values[name] for name in ("Application", "Environment", "Configuration", "ClientId")}
    if "ClientConfigurationVersion" in values:
        params["ClientConfigurationVersion"] = values["ClientConfigurationVersion"]
    return params


SUBTYPES: dict[str, Subtype] = {
    "SQS-SendMessage": Subtype(
        "sqs",
        "SendMessage",
        ("QueueUrl", "MessageBody"),
        (
            "DelaySeconds",
            "MessageAttributes",
            "MessageDeduplicationId",
            "MessageGroupId",
            "MessageSystemAttributes",
        ),
        _sqs_send,
    ),
    "SQS-ReceiveMessage": Subtype(
        "sqs",
        "ReceiveMessage",
        ("QueueUrl",),
        (
            "AttributeNames",
            "MaxNumberOfMessages",
            "MessageAttributeNames",
            "ReceiveRequestAttemptId",
            "VisibilityTimeout",
            "WaitTimeSeconds",
        ),
        _sqs_receive,
    ),
    "SQS-DeleteMessage": Subtype(
        "sqs",
        "DeleteMessage",
        ("QueueUrl", "ReceiptHandle"),
        (),
        lambda values: {"QueueUrl": values["QueueUrl"], "ReceiptHandle": values["ReceiptHandle"]},
    ),
    "SQS-PurgeQueue": Subtype("sqs", "PurgeQueue", ("QueueUrl",), (), lambda v: {"QueueUrl": v["QueueUrl"]}),
    "EventBridge-PutEvents": Subtype(
        "events",
        "PutEvents",
        ("Detail", "DetailType", "Source"),
        ("Time", "EventBusName", "Resources", "TraceHeader"),
        _put_events,
    ),
    "StepFunctions-StartExecution": Subtype(
        "stepfunctions",
        "StartExecution",
        ("StateMachineArn",),
        ("Name", "Input", "TraceHeader"),
        _start_execution,
    ),
    "StepFunctions-StartSyncExecution": Subtype(
        "stepfunctions",
        "StartSyncExecution",
        ("StateMachineArn",),
        ("Name", "Input", "TraceHeader"),
        _start_execution,
    ),
    "StepFunctions-StopExecution": Subtype(
        "stepfunctions", "StopExecution", ("ExecutionArn",), ("Cause", "Error"), _stop_execution
    ),
    "Kinesis-PutRecord": Subtype(
        "kinesis",
        "PutRecord",
        ("StreamName", "Data", "PartitionKey"),
        ("SequenceNumberForOrdering", "ExplicitHashKey"),
        _put_record,
    ),
    "AppConfig-GetConfiguration": Subtype(
        "appconfig",
        "GetConfiguration",
        ("Application", "Environment", "Configuration", "ClientId"),
        ("ClientConfigurationVersion",),
        _get_configuration,
    ),
}


def call_of(subtype: str, values: dict[str, str]) -> tuple[Subtype, dict[str, Any]]:
    """The subtype and the boto3 parameters its mapped ``values`` make; ``Region`` is taken (the
    local cloud has one region) and must name it if given, which the caller checks."""
    found = SUBTYPES.get(subtype)
    if found is None:
        raise KeyError(subtype)
    taken = {*found.required, *found.optional, "Region"}
    unknown = sorted(set(values) - taken)
    if unknown:
        raise BadParameter(
            f"{subtype} takes no parameter {', '.join(unknown)}; it takes {', '.join(sorted(taken))}"
        )
    missing = [name for name in found.required if not values.get(name)]
    if missing:
        raise BadParameter(f"{subtype} needs {', '.join(missing)}, which the request mapped to nothing")
    return found, found.build({name: value for name, value in values.items() if name != "Region"})


def to_wire(value: Any) -> Any:
    """A boto3 answer as the service's JSON: bytes in base64, times as epoch seconds, streams read."""
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [to_wire(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if hasattr(value, "read"):
        return base64.b64encode(value.read()).decode()
    return value
