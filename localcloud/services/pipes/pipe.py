"""One EventBridge pipe: a source read by Lambda's own pollers, an optional enrichment, one target.

What it does, as AWS documents it:

- reads its SQS queue, Kinesis stream or DynamoDB stream with the poller an event source mapping
  uses (:meth:`localcloud.services.lambda_.service.Lambda.poller`), as the pipe's role: batch size
  and window, filter criteria (Kinesis records matched under ``data``, DynamoDB records as the
  stream record; SQS messages filtered out are deleted), starting position, per-shard order,
  retries, maximum record age, ``AUTOMATIC_BISECT`` and the stream's dead-letter queue are the
  poller's;
- moves events only while its desired state is ``RUNNING``: ``StopPipe`` and ``StartPipe`` (moto
  keeps the pipe for ``DescribePipe``) stop and resume the polling where it stopped;
- applies the enrichment's ``InputTemplate`` to each record, then calls the enrichment with the JSON
  array, even for one record: a Lambda function (synchronously), a Step Functions Express state
  machine (``StartSyncExecution``) or an API Gateway REST API stage (``execute-api:Invoke``); its
  answer is the events for the target, and an empty one drops them;
- applies the target's ``InputTemplate`` to each event (``<$.path>`` placeholders; an SQS body and
  Kinesis data are parsed as JSON first), then delivers through :mod:`localcloud.core.targets` as
  the pipe's role: a Lambda function or a state machine gets the whole array in one call; a queue,
  topic, event bus, stream, delivery stream or log group gets each event, at most the target's
  batch limit at a time (more than that fails the batch, as AWS does not call the target);
- reports failures back to the poller: a failed enrichment, a refused call or a function error fails
  the whole batch; events a queue-like target refused, or a Lambda or Step Functions target's
  ``batchItemFailures``, fail only those records (when the enrichment kept one event per record).

Every call is made as the pipe's role, so IAM decides: reading the source when the pipe is created,
invoking the enrichment and putting to the target on each batch.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core import targets
from localcloud.errors import InvalidRequest, LocalCloudError, Unsupported
from localcloud.lib.http import HttpRequest
from localcloud.lib.input_templates import paths_in, transform
from localcloud.lib.json_path import MISSING, select

if TYPE_CHECKING:
    from datetime import datetime

    from localcloud.core.kernel import Kernel, Pollable
    from localcloud.core.trace import Span

PRINCIPAL = "pipes.amazonaws.com"
#: Most events a pipe hands to one call of these targets; a source batch may not be larger.
TARGET_BATCH_LIMITS = {"sqs": 10, "sns": 10, "events": 10, "kinesis": 500, "firehose": 500, "logs": 10_000}
#: Each source's parameters, and the batch size a pipe takes when they give none.
SOURCES = {
    "sqs": ("SqsQueueParameters", 10),
    "kinesis": ("KinesisStreamParameters", 1),
    "dynamodb": ("DynamoDBStreamParameters", 1),
}
#: What CreatePipe accepts of each numeric source parameter (the API reference's valid ranges).
RANGES = {
    "BatchSize": (1, 10_000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "MaximumRecordAgeInSeconds": (-1, 604_800),
    "MaximumRetryAttempts": (-1, 10_000),
}
#: The enrichments offered, by the service part of their ARN.
ENRICHMENTS = ("lambda", "states", "execute-api")


class PipeFailure(Exception):
    """The batch failed as a whole: the poller retries it, bisects it or gives up on it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Outcome:
    """What the poller reads of a batch's processing, as of a synchronous invocation's result."""

    payload: Any
    error: dict[str, Any] | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: str = "$LATEST"
    cold_start: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


class Pipe:
    """A pipe's settings and the processing of each batch its poller reads."""

    duration = 0.0
    """A batch keeps the shard busy for no virtual time beyond its calls'."""

    def __init__(self, cloud: Kernel, logical_id: str, name: str, props: dict[str, Any]) -> None:
        missing = [key for key in ("RoleArn", "Source", "Target") if not props.get(key)]
        if missing:
            raise InvalidRequest(f"ValidationException: {logical_id}: {', '.join(missing)} is required")
        self.cloud = cloud
        self.logical_id = logical_id
        self.pipe_name = name
        self.name = f"pipe:{name}"
        self.arn = f"arn:{cloud.partition}:pipes:{cloud.region}:{cloud.account}:pipe/{name}"
        self.role_arn: str = props["RoleArn"]
        self.source: str = props["Source"]
        self.source_service = targets.service_of(self.source)
        self.enrichment: str | None = props.get("Enrichment")
        self.enrichment_template: str | None = props.get("EnrichmentParameters", {}).get("InputTemplate")
        self.target: str = props["Target"]
        self.target_service = targets.service_of(self.target)
        self.target_parameters: dict[str, Any] = props.get("TargetParameters", {})
        self.sender = targets.Sender(
            PRINCIPAL, self.arn, self.name, role_arn=self.role_arn, source_attribute="PIPE_ARN"
        )
        self.mapping = self._mapping_props(props.get("SourceParameters", {}))
        self._check()

    # ------------------------------------------------------------------------------------ settings

    def _mapping_props(self, params: dict[str, Any]) -> dict[str, Any]:
        """The source parameters as an event source mapping's, which the shared poller reads."""
        if self.source_service not in SOURCES:
            raise Unsupported(
                self.logical_id, f"pipe source {self.source}", "supported: SQS, Kinesis, DynamoDB"
            )
        key, default_batch = SOURCES[self.source_service]
        source = params.get(key, {})
        for name, (low, high) in RANGES.items():
            if name in source and not low <= int(source[name]) <= high:
                raise InvalidRequest(
                    f"ValidationException: {self.logical_id}: SourceParameters.{key}.{name} {source[name]} "
                    f"is outside {low} to {high}"
                )
        props: dict[str, Any] = {
            "EventSourceArn": self.source,
            "BatchSize": int(source.get("BatchSize", default_batch)),
            "MaximumBatchingWindowInSeconds": int(source.get("MaximumBatchingWindowInSeconds", 0)),
            # A Lambda or Step Functions target may report partial failures; so may a queue-like target.
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": params.get("FilterCriteria", {}),
        }
        if self.source_service != "sqs":
            if "StartingPosition" not in source:
                raise InvalidRequest(
                    f"{self.logical_id}: SourceParameters.{key}.StartingPosition is required"
                )
            props["StartingPosition"] = source["StartingPosition"]
            for name in ("StartingPositionTimestamp", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds"):
                if name in source:
                    props[name] = source[name]
            props["BisectBatchOnFunctionError"] = (
                source.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT"
            )
            dead_letter = source.get("DeadLetterConfig", {}).get("Arn")
            if dead_letter:
                props["DestinationConfig"] = {"OnFailure": {"Destination": dead_letter}}
        return props

    def _check(self) -> None:
        """Refuse, as CreatePipe does, what AWS refuses when the pipe is created."""
        if self.enrichment and targets.service_of(self.enrichment) not in ENRICHMENTS:
            raise Unsupported(
                self.logical_id,
                f"pipe enrichment {self.enrichment}",
                "supported: Lambda, Step Functions, API Gateway",
            )
        targets.check_target(self.cloud, self.target, self.logical_id)
        limit = TARGET_BATCH_LIMITS.get(self.target_service)
        if limit is not None and self.mapping["BatchSize"] > limit:
            raise InvalidRequest(
                f"ValidationException: {self.logical_id}: SourceParameters BatchSize {self.mapping['BatchSize']} "
                f"is more than the {self.target_service} target's maximum batch size of {limit}"
            )
        if self.target_service == "kinesis" and not self._parameters("KinesisStreamParameters").get(
            "PartitionKey"
        ):
            raise InvalidRequest(
                f"ValidationException: {self.logical_id}: TargetParameters.KinesisStreamParameters.PartitionKey "
                "is required for a Kinesis target"
            )

    def _parameters(self, key: str) -> dict[str, Any]:
        return self.target_parameters.get(key, {})

    # ------------------------------------------------------------------------------------ a batch

    def process(self, event: dict[str, Any], source: str, cause: int) -> Outcome:
        """Enrich and deliver one batch the poller read; what failed, as the poller understands it."""
        records = [self._record(r) for r in event["Records"]]
        try:
            events = self._enrich(records, cause)
            if not events:
                self.cloud.trace.record(
                    "drop",
                    self.name,
                    "-",
                    f"the enrichment returned nothing for {len(records)} record(s)",
                    at=self.cloud.clock.elapsed(),
                    parent=cause,
                    outcome="dropped",
                )
                return Outcome(None)
            return self._deliver(records, events, cause)
        except PipeFailure as failure:
            return Outcome(None, {"errorType": failure.code, "errorMessage": failure.message})

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as a pipe passes it on: a Kinesis record's fields at the top, as Pipes sends them."""
        if self.source_service == "kinesis":
            kinesis = record["kinesis"]
            flat = {k: v for k, v in record.items() if k != "kinesis"}
            flat.update(kinesis)
            return flat
        return record

    def _identifier(self, record: dict[str, Any]) -> str:
        """What a partial failure names a record by: a message id, a sequence number."""
        if self.source_service == "sqs":
            return record["messageId"]
        if self.source_service == "kinesis":
            return record["sequenceNumber"]
        return record["dynamodb"]["SequenceNumber"]

    def _view(self, record: Any) -> Any:
        """What a template's paths see: an SQS body and Kinesis data parsed as JSON, when they are."""
        if not isinstance(record, dict):
            return record
        if self.source_service == "sqs" and isinstance(record.get("body"), str):
            return {**record, "body": _json_or_text(record["body"])}
        if self.source_service == "kinesis" and isinstance(record.get("data"), str):
            try:
                return {**record, "data": _json_or_text(base64.b64decode(record["data"]).decode())}
            except ValueError:
                return record
        return record

    def _fill(self, template: str, record: Any) -> str:
        predefined = {
            "aws.pipes.pipe-arn": self.arn,
            "aws.pipes.pipe-name": self.pipe_name,
            "aws.pipes.source-arn": self.source,
            "aws.pipes.enrichment-arn": self.enrichment or "",
            "aws.pipes.target-arn": self.target,
            "aws.pipes.event.ingestion-time": self.cloud.clock.now().isoformat().replace("+00:00", "Z"),
        }
        raw = {"aws.pipes.event.json": json.dumps(record)}
        return transform(
            {"InputTemplate": template, "InputPathsMap": paths_in(template)},
            self._view(record),
            predefined,
            raw,
        )

    # ------------------------------------------------------------------------------------ enrichment

    def _enrich(self, records: list[dict[str, Any]], cause: int) -> list[Any]:
        if not self.enrichment:
            return list(records)
        inputs: list[Any] = (
            [_json_or_text(self._fill(self.enrichment_template, r)) for r in records]
            if self.enrichment_template
            else records
        )
        span = self.cloud.trace.record(
            "enrich",
            self.name,
            targets.label(self.enrichment),
            f"{len(inputs)} record(s)",
            at=self.cloud.clock.elapsed(),
            parent=cause,
        )
        service = targets.service_of(self.enrichment)
        try:
            with self.cloud.acting_as(self.role_arn, self.name, span.id):
                if service == "lambda":
                    answer = self._invoke_function(self.enrichment, inputs)
                elif service == "states":
                    answer = self._run_express(self.enrichment, inputs)
                else:
                    answer = self._call_api(self.enrichment, inputs)
        except PipeFailure as failure:
            span.outcome = f"error: {failure.code}"
            span.data["error"] = failure.message
            raise
        if answer is None or answer == [] or answer == {} or answer == "":
            span.outcome = "empty: events dropped"
            return []
        events = answer if isinstance(answer, list) else [answer]
        span.outcome = f"{len(events)} event(s)"
        return events

    def _invoke_function(self, arn: str, payload: Any) -> Any:
        try:
            response = self.cloud.admin_client("lambda").invoke(
                FunctionName=arn, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
            )
        except ClientError as error:
            raise PipeFailure(*_error(error)) from None
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise PipeFailure("FunctionError", body.decode(errors="replace"))
        return json.loads(body) if body else None

    def _run_express(self, arn: str, payload: Any) -> Any:
        try:
            response = self.cloud.admin_client("stepfunctions").start_sync_execution(
                stateMachineArn=arn, input=json.dumps(payload)
            )
        except ClientError as error:
            raise PipeFailure(*_error(error)) from None
        if response["status"] != "SUCCEEDED":
            raise PipeFailure(response.get("error") or response["status"], response.get("cause", ""))
        return json.loads(response.get("output") or "null")

    def _call_api(self, arn: str, payload: Any) -> Any:
        """A REST API stage's method, called as Pipes calls it: signed with the role, which
        ``execute-api:Invoke`` on the method's ARN must allow."""
        # arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>
        api_id, stage, method, *path = arn.split(":", 5)[5].split("/")
        if (
            self.cloud.enforce_iam
            and not self.cloud.iam.decide(self.role_arn, "execute-api:Invoke", arn).allowed
        ):
            raise PipeFailure(
                "AccessDeniedException",
                f"{self.role_arn} is not authorized to perform: execute-api:Invoke on resource: {arn}",
            )
        request = HttpRequest.build(
            "POST" if method == "*" else method, f"/{stage}/{'/'.join(path)}", json=payload
        )
        response = self.cloud.service("apigateway").dispatch(api_id, request)
        if response.status >= 300:
            raise PipeFailure(f"HTTP {response.status}", response.body.decode(errors="replace"))
        return _json_or_text(response.body.decode()) if response.body else None

    # ------------------------------------------------------------------------------------ target

    def _deliver(self, records: list[dict[str, Any]], events: list[Any], cause: int) -> Outcome:
        template = self.target_parameters.get("InputTemplate")
        bodies = [self._fill(template, e) if template else _text(e) for e in events]
        span = self.cloud.trace.record(
            "deliver",
            self.name,
            targets.label(self.target),
            f"{len(bodies)} event(s)",
            at=self.cloud.clock.elapsed(),
            parent=cause,
        )
        limit = TARGET_BATCH_LIMITS.get(self.target_service)
        if limit is not None and len(bodies) > limit:
            span.outcome = "not delivered"
            raise PipeFailure(
                "ValidationException",
                f"{len(bodies)} events are more than the {self.target_service} target's batch limit of {limit}",
            )
        if self.target_service in ("lambda", "states"):
            payload = self._call_whole(bodies, span)
            span.outcome = "ok" if not payload else "reported failures"
            return Outcome(payload)
        failed = self._call_each(bodies, events, span)
        if not failed:
            span.outcome = "ok"
            return Outcome(None)
        span.outcome = f"{len(failed)} of {len(bodies)} refused"
        if len(events) != len(records):
            raise PipeFailure(
                "PartialFailure", "events the enrichment made failed: the whole batch is retried"
            )
        return Outcome(
            {"batchItemFailures": [{"itemIdentifier": self._identifier(records[i])} for i in failed]}
        )

    def _call_whole(self, bodies: list[str], span: Span) -> Any:
        """A function or a state machine gets the array in one call; it may report partial failures."""
        array = json.dumps([_json_or_text(b) for b in bodies])
        if self.target_service == "lambda":
            sync = self._parameters("LambdaFunctionParameters").get("InvocationType", "REQUEST_RESPONSE")
            options = {"InvocationType": "RequestResponse" if sync == "REQUEST_RESPONSE" else "Event"}
            response = self._send(array, span, **options)
            body = response["Payload"].read() if "Payload" in response else b""
            if response.get("FunctionError"):
                raise PipeFailure("FunctionError", body.decode(errors="replace"))
            answer = _json_or_text(body.decode()) if body else None
        else:
            sync = self._parameters("StepFunctionStateMachineParameters").get(
                "InvocationType", "FIRE_AND_FORGET"
            )
            if sync == "FIRE_AND_FORGET":
                self._send(array, span)
                return None
            with self.cloud.acting_as(self.role_arn, self.name, span.id):
                answer = self._run_express(self.target, json.loads(array))
        return answer if isinstance(answer, dict) and answer.get("batchItemFailures") else None

    def _call_each(self, bodies: list[str], events: list[Any], span: Span) -> list[int]:
        """Each event in its own call through the target's adapter; the positions refused."""
        if self.target_service == "logs":
            self._open_log_stream(span)
        failed = []
        for position, (body, event) in enumerate(zip(bodies, events, strict=True)):
            try:
                self._send(body, span, **self._options(event))
            except PipeFailure as failure:
                span.data.setdefault("errors", []).append(failure.message)
                failed.append(position)
        return failed

    def _open_log_stream(self, span: Span) -> None:
        """Pipes creates its log stream in the target group, with the role (``logs:CreateLogStream``)."""
        group = self.target.split(":log-group:", 1)[1].split(":", 1)[0]
        stream = self._options(None)["logStreamName"]
        try:
            with self.cloud.acting_as(self.role_arn, self.name, span.id):
                self.cloud.admin_client("logs").create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise PipeFailure(*_error(error)) from None

    def _send(self, body: str, span: Span, **options: Any) -> Any:
        try:
            response = targets.send(self.cloud, self.sender, self.target, body, span=span.id, **options)
        except ClientError as error:
            raise PipeFailure(*_error(error)) from None
        except LocalCloudError as error:
            raise PipeFailure("ResourceNotFoundException", str(error)) from None
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise PipeFailure(entry.get("ErrorCode", "Failed"), entry.get("ErrorMessage", ""))
        return response

    def _options(self, event: Any) -> dict[str, Any]:
        """What the target's parameters add to each call: a group, a partition key, a detail type."""
        if self.target_service == "sqs":
            params = self._parameters("SqsQueueParameters")
            return {
                name: self._dynamic(params[name], event)
                for name in ("MessageGroupId", "MessageDeduplicationId")
                if name in params
            }
        if self.target_service == "kinesis":
            key = self._parameters("KinesisStreamParameters")["PartitionKey"]
            return {"PartitionKey": self._dynamic(key, event)}
        if self.target_service == "events":
            params = self._parameters("EventBridgeEventBusParameters")
            options = {
                "Source": params.get("Source", f"Pipe {self.pipe_name}"),
                "DetailType": params.get("DetailType", f"Event from aws:{self.source_service}"),
            }
            if params.get("Resources"):
                options["Resources"] = params["Resources"]
            return options
        if self.target_service == "logs":
            return {
                "logStreamName": self._parameters("CloudWatchLogsParameters").get(
                    "LogStreamName", self.pipe_name
                )
            }
        return {}

    def _dynamic(self, value: str, event: Any) -> str:
        """A target parameter given as a JSON path (``$.body.group``) takes the event's value there."""
        if not value.startswith("$."):
            return value
        found = select(self._view(event), value)
        if found is MISSING:
            raise PipeFailure("ValidationException", f"the path {value} selects nothing in the event")
        return found if isinstance(found, str) else json.dumps(found)


class PipeRunner:
    """What the kernel's pump drives for a pipe: its poller, while the pipe's desired state is RUNNING."""

    def __init__(self, pipe: Pipe, poller: Pollable) -> None:
        self.pipe = pipe
        self.poller = poller

    @property
    def record(self) -> Any:
        """moto's pipe, which ``StartPipe``, ``StopPipe`` and ``DeletePipe`` change; None once deleted."""
        from moto.pipes.models import pipes_backends

        kernel = self.pipe.cloud
        return pipes_backends[kernel.account][kernel.region].pipes.get(self.pipe.pipe_name)

    @property
    def running(self) -> bool:
        record = self.record
        return record is not None and record.desired_state == "RUNNING"

    def poll(self) -> bool:
        return self.running and self.poller.poll()

    def next_wakeup(self) -> datetime | None:
        return self.poller.next_wakeup() if self.running else None


def _error(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return details.get("Code", "Unknown"), details.get("Message", str(error))


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text(event: Any) -> str:
    return json.dumps(event)
