"""Lambda's state in one cloud: its functions and layers, the invoker, and the Invoke API answered
here instead of in moto (whose Lambda needs Docker). Other services reach it as
``kernel.service("lambda")``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody

from localcloud.core import hooks, targets
from localcloud.errors import FunctionNotFound, LocalCloudError, PayloadTooLarge, ReadTimedOut, Throttled
from localcloud.services.lambda_.event_sources.parallel import (
    ParallelDynamoDBEventSource,
    ParallelKinesisEventSource,
)
from localcloud.services.lambda_.event_sources.sqs import SqsEventSource
from localcloud.services.lambda_.function_logs import LogStreams
from localcloud.services.lambda_.invoker import Invoker, encode
from localcloud.services.lambda_.mappings import Mapping
from localcloud.services.lambda_.runtime import LambdaFunction, call_turn, follow_into_threads, follow_threads
from localcloud.services.lambda_.versions import Versions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel, Pollable
    from localcloud.core.service import AwsCall
    from localcloud.services.lambda_.event_sources import Consumer, Deliver

#: The services an asynchronous invocation's destination (or DLQ) may be, and what Lambda adds to the call.
DESTINATIONS: dict[str, dict[str, Any]] = {
    "sqs": {},
    "sns": {},
    "lambda": {},
    "events": {"Source": "lambda", "DetailType": "Lambda Function Invocation Result"},
}
#: The poller of each event source mapping, by the service of its source ARN.
EVENT_SOURCES = {
    "sqs": SqsEventSource,
    "kinesis": ParallelKinesisEventSource,
    "dynamodb": ParallelDynamoDBEventSource,
}


class Lambda:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.functions: dict[str, LambdaFunction] = {}
        """By logical id."""
        self.layers: dict[str, Path] = {}
        self.invoker = Invoker(kernel)
        self.versions = Versions(kernel)
        self.log_streams = LogStreams(kernel)
        self.mappings: dict[str, Mapping] = {}
        """Event source mappings by UUID (what ``Ref`` answers)."""
        # A handler's threads and thread-pool tasks call as the function too, under its invocation's span.
        follow_into_threads(hooks.PRINCIPAL)
        # Before anything (Step Functions' interpreter, a test) makes a session that would keep
        # reading the process's environment instead of each invocation's.
        follow_threads()

    def function(self, name: str) -> LambdaFunction:
        """A function by physical name, ARN, logical id or construct path ending (``Pattern/Worker``)."""
        for fn in self.functions.values():
            if name in (fn.name, fn.arn, fn.logical_id):
                return fn
            if name.startswith((f"{fn.arn}:", f"{fn.name}:")):
                return self.versions.qualified(fn, name.rsplit(":", 1)[1])
        try:
            logical_id = self.kernel.logical_id(name)
            return self.functions.get(logical_id) or self.versions.by_logical_id[logical_id]
        except (LocalCloudError, KeyError):
            raise FunctionNotFound(f"no function {name!r} in {self.kernel.stack_name}") from None

    def add_function(self, function: LambdaFunction, *, dead_letter_arn: str | None) -> None:
        self.functions[function.logical_id] = function
        if dead_letter_arn:
            self.invoker.config(function).dead_letter = dead_letter_arn

    def waited(self, seconds: float) -> float:
        """The calling thread waits ``seconds`` of virtual time for nothing (a connection timing
        out): move its cursor past them, as a synchronous call's end does. When it started waiting."""
        with call_turn(self.kernel.clock) as call:
            call.waited_until(call.at + seconds)
            return call.at

    def add_event_source(
        self, logical_id: str, mapping_id: str, function: LambdaFunction, props: dict[str, Any]
    ) -> None:
        poller = self.poller(logical_id, mapping_id, function, props)
        self.mappings[mapping_id] = Mapping(
            logical_id, mapping_id, function, props, poller, self.kernel.clock.now()
        )
        self.kernel.add_pollable(poller)

    def poller(
        self,
        where: str,
        poller_id: str,
        consumer: Consumer,
        props: dict[str, Any],
        *,
        deliver: Deliver | None = None,
        session: str | None = None,
    ) -> Pollable:
        """The poller of ``props["EventSourceArn"]`` (an event source mapping's properties) reading as
        ``consumer``'s role and handing each batch to ``deliver`` (by default, invoking ``consumer``,
        a function). EventBridge Pipes read their sources with these, so both share one poller;
        the caller adds it to the pump."""
        source_arn = props.get("EventSourceArn", "")
        service = source_arn.split(":")[2] if source_arn.count(":") >= 5 else source_arn
        factory = EVENT_SOURCES.get(service)
        if factory is None:
            raise LocalCloudError(f"{where}: event source {source_arn} is not supported offline")
        return factory(self.kernel, poller_id, consumer, props, deliver, session)

    def invoke(
        self,
        function: LambdaFunction,
        payload: Any,
        invocation_type: str,
        *,
        source: str,
        read_timeout: float | None = None,
        size: int | None = None,
    ) -> dict[str, Any]:
        """Invoke as Lambda's Invoke API does; a synchronous call outlasting ``read_timeout`` (the
        caller's SDK setting) raises :class:`localcloud.errors.ReadTimedOut`, a payload over
        Lambda's limit for its invocation type (``size``: the bytes sent, if known)
        :class:`localcloud.errors.PayloadTooLarge`."""
        caller = hooks.principal()
        cause = caller.span if caller else None
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if invocation_type == "Event":
            self.invoker.invoke_async(function, payload, source=source, cause=cause, size=size)
            return {"StatusCode": 202}
        if invocation_type != "RequestResponse":
            raise LocalCloudError(
                f"InvocationType {invocation_type!r} is not one of RequestResponse, Event, DryRun"
            )
        result = self.invoker.invoke_sync(
            function, payload, source=source, cause=cause, read_timeout=read_timeout, size=size
        )
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": result.version,
            "Payload": encode(result.payload),
        }
        if result.failed:
            response["FunctionError"] = "Unhandled"
        return response

    def send_to(
        self, arn: str, payload: Any, *, role_arn: str, source: str, cause: int | None, kind: str
    ) -> None:
        """Deliver to an asynchronous destination or DLQ by ARN: SQS, SNS, Lambda or EventBridge.

        Lambda sends with the function's execution role, so that role needs the permission.
        """
        kernel = self.kernel
        span = kernel.trace.record(
            kind, source, arn.rsplit(":", 1)[-1], at=kernel.clock.elapsed(), parent=cause
        )
        body = encode(payload)
        service = arn.split(":")[2]
        if service not in DESTINATIONS:
            raise LocalCloudError(f"destination {arn} is not a queue, topic, function or event bus")
        function_arn = next((fn.arn for fn in self.functions.values() if fn.name == source), "")
        sender = targets.Sender("lambda.amazonaws.com", function_arn, source, role_arn=role_arn)
        # Not retried: a refusal (a missing grant) surfaces as the SDK's error, as it did from the handler.
        # Lambda's service delivers, not the function: a function in a VPC needs no route to the target.
        with kernel.network.from_the_service():
            targets.send(kernel, sender, arn, body, span=span.id, **DESTINATIONS[service])

    def unused_grants(self) -> list[str]:
        """Actions the functions' roles allow that no call needed: candidates for tightening."""
        return self.kernel.iam.unused_grants(roles=[fn.role_arn for fn in self.functions.values()])


def _refused(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    """An Invoke refused as Lambda refuses it: the client raises it as ``ClientError``."""
    return status, {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def answer_invoke(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]]:
    """Lambda's Invoke runs the function here; the client's read timeout falls on the virtual clock,
    as botocore's ``ReadTimeoutError``."""
    params = call.params
    lambda_: Lambda = kernel.service("lambda")
    function = lambda_.function(params["FunctionName"])
    if params.get("Qualifier"):
        function = lambda_.versions.qualified(function, params["Qualifier"])
    payload = params.get("Payload", b"null")
    payload = payload.read() if hasattr(payload, "read") else payload or b"null"
    size = len(payload.encode() if isinstance(payload, str) else payload)
    try:
        payload = json.loads(payload)
    except (ValueError, RecursionError) as error:
        return _refused(
            400, "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        )
    caller = hooks.principal()
    try:
        response = lambda_.invoke(
            function,
            payload,
            params.get("InvocationType", "RequestResponse"),
            source=caller.session if caller else "sdk",
            read_timeout=getattr(call.context.get("client_config"), "read_timeout", None),
            size=size,
        )
    except PayloadTooLarge as error:
        return _refused(413, "RequestEntityTooLargeException", str(error))
    except ReadTimedOut:
        raise ReadTimeoutError(endpoint_url=call.url) from None
    except Throttled as error:
        return _refused(429, "TooManyRequestsException", str(error))
    data = response.pop("Payload", "").encode()
    response["Payload"] = StreamingBody(io.BytesIO(data), len(data))
    response["ResponseMetadata"] = {"HTTPStatusCode": response["StatusCode"], "HTTPHeaders": {}}
    return response["StatusCode"], response
