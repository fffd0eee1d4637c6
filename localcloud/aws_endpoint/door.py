"""The AWS endpoint as a front door of :class:`localcloud.server.LocalServer`, so it shares the
server's one thread: outside calls are serialized with the other doors' requests, and the cloud's
clock and pump run after each, as after a front-door request."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcloud.aws_endpoint.endpoint import AwsEndpoint, Sessions
from localcloud.aws_endpoint.protocol import ProtocolError, parse_request, signature_of
from localcloud.core.front_doors import FrontDoor

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.lib.http import HttpRequest


#: The AWS API answers unauthenticated calls as an administrator, so it listens on this machine
#: only, whatever ``serve --host`` says: another machine must not get admin rights over the stack.
AWS_HOST = "127.0.0.1"


def aws_front_door(cloud: LocalCloud, port: int, sessions: Sessions | None = None) -> FrontDoor:
    """The AWS API of ``cloud`` on ``port`` (0: any free port) of loopback, knowing the assumed-role
    ``sessions`` (pass the same ones to the door made for a redeployed cloud: see :func:`aws_door`)."""
    endpoint = AwsEndpoint(cloud, sessions)
    return FrontDoor(
        "aws", "AWS API endpoint", "", endpoint.dispatch, cloud.stack_name, port=port, host=AWS_HOST
    )


def aws_door(port: int = 0) -> Callable[[LocalCloud], FrontDoor]:
    """A maker of the AWS door for :class:`~localcloud.server.LocalServer`'s ``extra_doors``: the
    doors it makes for each cloud a redeploy swaps in share one set of assumed-role sessions."""
    sessions = Sessions()
    return lambda cloud: aws_front_door(cloud, port, sessions)


#: An example call per resource type: (CLI command, the option that names the resource).
_EXAMPLES = {
    "AWS::SQS::Queue": "sqs send-message --message-body '{{}}' --queue-url {}",
    "AWS::DynamoDB::Table": "dynamodb scan --table-name {}",
    "AWS::StepFunctions::StateMachine": "stepfunctions start-execution --input '{{}}' --state-machine-arn {}",
    "AWS::Events::EventBus": (
        "events put-events --entries "
        '\'[{{"Source": "cli", "DetailType": "test", "Detail": "{{}}", "EventBusName": "{}"}}]\''
    ),
    # The payload comes on stdin, as bytes: AWS CLI v1 and v2 read a blob option differently.
    "AWS::Lambda::Function": "lambda invoke --function-name {} --payload fileb:///dev/stdin out.json",
    "AWS::ApiGateway::RestApi": "apigateway get-resources --rest-api-id {}",
}

#: An Express machine answers at once: its line runs it synchronously. The SDKs send
#: StartSyncExecution to ``sync-<host>``, which does not resolve for 127.0.0.1, unless host
#: prefixes are off; the setting is given to that one command, not exported, since on AWS the
#: prefix is needed.
_EXPRESS = (
    "AWS_DISABLE_HOST_PREFIX_INJECTION=true {base} "
    "stepfunctions start-sync-execution --input '{{}}' --state-machine-arn {arn}"
)


#: The CLI signs every call, so it needs some keys; the endpoint verifies no signature, so any do.
#: Keys already set (a profile's are read by the CLI itself) are kept.
CREDENTIALS = (
    'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" '
    'AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"  # any keys: signatures are not verified'
)


def aws_examples(cloud: LocalCloud, url: str) -> list[str]:
    """``aws --endpoint-url`` lines for the served stack: its description, then one call for the
    first resource of each kind the examples know. A function's payload is the JSON object in the
    description of the output that names it, if any (how an operator invokes it), else ``{}``."""
    base = f"aws --endpoint-url {url.rstrip('/')} --region {cloud.region}"
    lines = [CREDENTIALS, f"{base} cloudformation describe-stacks --stack-name {cloud.stack_name}"]
    types = {logical_id: r["Type"] for logical_id, r in cloud.artifact.template["Resources"].items()}
    shown = set()
    named = [str(value) for value in cloud.outputs.values()]
    # In the order the stack's outputs name them: the queue producers use before its dead letters.
    ordered = sorted(
        cloud.resources.items(),
        key=lambda item: named.index(item[1].physical_id) if item[1].physical_id in named else len(named),
    )
    matching = _matching_event_line(cloud, types)
    for logical_id, provisioned in ordered:
        kind = types[logical_id]
        group = "events" if kind in _EVENTS else kind
        if group in shown:
            continue
        if group == "events" and matching is not None:
            shown.add(group)
            lines.append(f"{base} {matching}")
        elif kind in _EXAMPLES:
            shown.add(group)
            line = f"{base} {_EXAMPLES[kind].format(provisioned.physical_id)}"
            if kind == "AWS::StepFunctions::StateMachine" and _express(cloud, logical_id):
                line = _EXPRESS.format(base=base, arn=provisioned.physical_id)
            if kind == "AWS::Lambda::Function":
                payload = _described_payload(cloud, provisioned.physical_id) or "{}"
                line = f"printf '%s' '{payload}' | {line}"
            lines.append(line)
    return lines


#: The kinds an ``events put-events`` line stands for: one line for them all.
_EVENTS = ("AWS::Events::EventBus", "AWS::Events::Rule")


def _matching_event_line(cloud: LocalCloud, types: dict[str, str]) -> str | None:
    """``events put-events`` with an event the stack's first rule matches that one can be written
    for from its pattern (each field's first listed value), on that rule's bus; None if none can."""
    from localcloud.lib.event_patterns import InvalidEventPattern, matches

    for logical_id, kind in types.items():
        if kind != "AWS::Events::Rule" or logical_id not in cloud.resources:
            continue
        bus, _, name = cloud.resources[logical_id].physical_id.rpartition("|")
        described = cloud.client("events").describe_rule(Name=name, EventBusName=bus or "default")
        pattern = json.loads(described.get("EventPattern") or "null")
        event = _first_values(pattern) if isinstance(pattern, dict) else None
        if not isinstance(event, dict) or not {"source", "detail-type"} <= event.keys():
            continue
        event.setdefault("detail", {})
        full = {"account": cloud.account, "region": cloud.region, **event}
        try:
            if not isinstance(event["detail"], dict) or not matches(pattern, full):
                continue
        except InvalidEventPattern:
            continue
        entry = {"Source": event["source"], "DetailType": event["detail-type"]}
        entry |= {"Detail": json.dumps(event["detail"]), "EventBusName": bus or "default"}
        return f"events put-events --entries {shlex.quote(json.dumps([entry]))}"
    return None


def _first_values(pattern: Any) -> Any:
    """The event a pattern of plain listed values matches first: ``{"source": ["a", "b"]}`` ->
    ``{"source": "a"}``; None where a field's first value is a rule (prefix, numeric, exists...)."""
    if isinstance(pattern, dict):
        fields = {key: _first_values(value) for key, value in pattern.items()}
        return None if None in fields.values() else fields
    if isinstance(pattern, list) and pattern and isinstance(pattern[0], str | int | float | bool):
        return pattern[0]
    return None


def _express(cloud: LocalCloud, logical_id: str) -> bool:
    properties = cloud.artifact.template["Resources"][logical_id].get("Properties", {})
    return properties.get("StateMachineType") == "EXPRESS"


def _described_payload(cloud: LocalCloud, physical_id: str) -> str | None:
    """The JSON object in the description of the output that names ``physical_id`` (a function
    an operator invokes, e.g. ``Invoke it with {"principal_id": ...} for a first admin``)."""
    outputs = cloud.artifact.template.get("Outputs", {})
    for name, value in cloud.outputs.items():
        description = outputs.get(name, {}).get("Description", "")
        if str(value) == physical_id and "{" in description:
            try:
                payload, _ = json.JSONDecoder().raw_decode(description[description.index("{") :])
            except ValueError:
                return None
            return json.dumps(payload)
    return None


def aws_call_name(request: HttpRequest) -> str | None:
    """``aws sqs SendMessage`` for a request to the AWS endpoint, for the serve console; for a call
    the endpoint refuses, the service and why (``aws ec2 (UnsupportedService)``); None for any
    other request."""
    if request.header("Authorization") is None and "X-Amz-Credential" not in request.query:
        return None
    try:
        call = parse_request(request)
    except ProtocolError as error:
        try:
            return f"aws {signature_of(request).signing_name} ({error.code})"
        except ProtocolError:
            return None
    return f"aws {call.service.service_name} {call.operation.name}"
