"""Lambda's pollers driven directly in a started cloud, each batch answered by a script instead of a
function, so a test sees the exact virtual time of every delivery, retry and redelivery.

The cloud comes from a CloudFormation template (no CDK synth): :func:`template` adds the roles a
poller reads with, ``Poller`` (may read any queue, stream or table) and ``Bare`` (may do nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from localcloud import LocalCloud
from localcloud.services.lambda_.runtime import InvocationResult

_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
_READ_ANY_SOURCE = {
    "PolicyName": "read-the-sources",
    "PolicyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sqs:*", "kinesis:*", "dynamodb:*"], "Resource": "*"}],
    },
}


def template(resources: dict[str, Any]) -> dict[str, Any]:
    """``resources`` with the two roles, each resource's ARN an output ``<logical id>Arn``."""
    roles = {
        "Poller": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": _LAMBDA_TRUST, "Policies": [_READ_ANY_SOURCE]},
        },
        "Bare": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": _LAMBDA_TRUST}},
    }
    everything = {**roles, **resources}
    outputs = {f"{name}Arn": {"Value": {"Fn::GetAtt": [name, "Arn"]}} for name in everything}
    return {"Resources": everything, "Outputs": outputs}


@dataclass
class Consumer:
    """What a poller works for, as a function or a pipe is to it."""

    name: str
    arn: str
    role_arn: str
    duration: float = 0.0
    timeout: int | None = None
    """A function's timeout (seconds); ``None`` for a pipe, which has none."""


def ok(payload: Any = None) -> InvocationResult:
    return InvocationResult(payload=payload, error=None, cold_start=False, request_id=str(uuid.uuid4()))


def error() -> InvocationResult:
    raised = {"errorMessage": "boom", "errorType": "Exception"}
    return InvocationResult(payload=raised, error=raised, cold_start=False, request_id=str(uuid.uuid4()))


@dataclass
class Script:
    """A deliver that answers each batch with the next of ``answers`` (the last one from then on),
    remembering when it was called and with what."""

    cloud: LocalCloud
    answers: list[Callable[[dict[str, Any]], InvocationResult]]
    calls: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], source: str, cause: int) -> InvocationResult:
        self.calls.append((self.cloud.clock.elapsed(), event))
        return self.answers[min(len(self.calls), len(self.answers)) - 1](event)

    def times(self, since: float = 0.0) -> list[float]:
        """When each call came, in virtual seconds after ``since``."""
        return [round(at - since, 3) for at, _ in self.calls]


def pollers(cloud: LocalCloud) -> Iterator[Callable[..., Any]]:
    """For a fixture: start a poller of ``kind`` over the output ``source`` with ``props``, reading
    with the role of output ``role`` in ``session`` (Lambda's own when ``None``); each is removed when
    the test ends."""
    started: list[Any] = []

    def start(
        kind: type,
        source: str,
        script: Script,
        role: str = "PollerArn",
        session: str | None = "",
        **props: Any,
    ) -> Any:
        name = f"consumer-{uuid.uuid4().hex[:8]}"
        arn = f"arn:aws:lambda:{cloud.region}:{cloud.account}:function:{name}"
        consumer = Consumer(name, arn, cloud.outputs[role])
        props = {"EventSourceArn": cloud.outputs[source], **props}
        poller = kind(
            cloud.kernel,
            f"mapping-{name}",
            consumer,
            props,
            deliver=script,
            session=session if session != "" else f"esm:{name}",
        )
        cloud.kernel.add_pollable(poller)
        started.append(poller)
        return poller

    yield start
    cloud.drain()
    for poller in started:
        cloud.kernel.remove_pollable(poller)
