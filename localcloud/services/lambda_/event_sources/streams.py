"""Kinesis and DynamoDB stream event source mappings: Lambda's pollers between a stream's shards and
a function.

What they do, as AWS documents it:

- refuse the mapping if the function's role may not read the stream, then read every shard with
  that role (so IAM applies to each call), from its oldest record (``TRIM_HORIZON``), from the records written after the mapping was created (``LATEST``) or,
  for Kinesis, from ``StartingPositionTimestamp`` (``AT_TIMESTAMP``);
- invoke the function synchronously with up to ``BatchSize`` records of one shard, waiting up to
  ``MaximumBatchingWindowInSeconds`` for a fuller batch, one batch per shard at a time, so each
  shard's records arrive in order;
- skip the records the filter criteria reject: Kinesis filters see ``data`` decoded from base64 JSON
  (AWS filters Kinesis records on ``data`` only), DynamoDB filters the whole record, its images in
  DynamoDB JSON;
- on a function error, retry after a short back-off in virtual time until the batch succeeds, has
  been retried ``MaximumRetryAttempts`` times (-1: no limit), or holds records older than
  ``MaximumRecordAgeInSeconds`` (-1: the stream's retention); with ``BisectBatchOnFunctionError`` a
  failed batch is first split in halves, each retried on its own, and splitting uses up no retries;
- with ``ReportBatchItemFailures``, checkpoint before the lowest reported sequence number and retry
  from it, bisecting or not (an identifier that is not in the batch fails the whole batch);
- send what it gives up on to the on-failure destination (SQS or SNS, with the function's role) as
  the invocation record AWS sends for streams: the batch's shard, sequence numbers, arrival times and
  size, not its records; then go on with the shard;
- with ``TumblingWindowInSeconds``, group records in windows of their arrival time (aligned on the
  epoch), pass each window's ``state`` from one invocation to the next (an answer without ``state``
  fails the batch), and invoke once more with ``isFinalInvokeForWindow`` once the window has ended;
  a failed batch's retries and bisected halves get the state from before it, and a failed final
  invocation is retried like a batch (the limits, 900 s and 1 MB of state, are
  :mod:`localcloud.services.lambda_.event_sources.windows`'s).

``ParallelizationFactor`` (up to that many batches of one shard at once, order kept per partition
key) is :mod:`localcloud.services.lambda_.event_sources.parallel`'s. Not simulated: resharding after the mapping was created;
enhanced fan-out (a consumer ARN is read through its stream). A batch is cut to Lambda's 6 MB payload
limit (:mod:`localcloud.services.lambda_.payload_limits`). Records older
than the stream's retention are lost without a destination send, as the stream no longer holds them.
"""

from __future__ import annotations

import base64
import json
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.core import hooks
from localcloud.errors import InvalidRequest
from localcloud.lib.event_patterns import matches
from localcloud.lib.kinesis_reads import nothing_after
from localcloud.services.lambda_ import metrics as lambda_metrics
from localcloud.services.lambda_ import payload_limits
from localcloud.services.lambda_.event_sources import Consumer, Deliver, MappingSettings, invoke
from localcloud.services.lambda_.event_sources.windows import over_limit, tumbling_window_seconds
from localcloud.services.lambda_.invoker import Throttled
from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

#: DynamoDB streams keep records for 24 hours.
DYNAMODB_RETENTION = 24 * 3600
#: Virtual seconds between attempts at a failing batch: doubling from 1, at most this.
MAX_BACKOFF = 60


def origin_key(stream_arn: str, shard_id: str, sequence: str) -> str:
    """How the cloud remembers which trace span wrote a stream record (see :mod:`localcloud.core.observers`)."""
    return f"{stream_arn}/{shard_id}/{sequence}"


@dataclass
class _Record:
    sequence: str
    arrived: datetime
    event: dict[str, Any]
    """The record as Lambda puts it in ``Records``."""


@dataclass
class _Batch:
    """Records at the head of a shard, invoked together until they succeed or are given up on."""

    records: list[_Record]
    final: bool = False
    """The closing invocation of a tumbling window: no records, the window's final state."""
    retries: int = 0
    """Retries used up; splitting a batch uses none, so its halves inherit the count."""
    attempts: int = 0
    """Attempts at these records, throttled ones too: the back-off grows with them."""
    invocations: int = 0
    last: InvocationResult | None = None


@dataclass
class _Window:
    start: datetime
    end: datetime
    state: Any = field(default_factory=dict)
    terminated_early: bool = False
    """The state outgrew its limit: the final invocation is due now, not at ``end``."""


@dataclass
class _Shard:
    id: str
    iterator: str
    pending: list[_Record] = field(default_factory=list)
    """Read and not yet in a batch."""
    inflight: list[_Batch] = field(default_factory=list)
    """The batch being processed first, then the halves a bisection left to retry, in order."""
    not_before: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    """No invocation before: the function still runs, or a retry waits out its back-off."""
    opened: datetime | None = None
    """When the batching window for the pending records opened."""
    window: _Window | None = None


class _StreamEventSource(ABC):
    """What Kinesis and DynamoDB stream mappings share; subclasses read their service's API."""

    service: str
    client_name: str
    batch_info_key: str
    #: What Lambda makes sure the function's role may do on the stream before creating the mapping.
    required_actions: tuple[str, ...]

    def __init__(
        self,
        cloud: Kernel,
        mapping_id: str,
        function: Consumer,
        props: dict[str, Any],
        deliver: Deliver | None = None,
        session: str | None = None,
    ) -> None:
        self.cloud = cloud
        self.id = mapping_id
        self.function = function
        self.deliver = deliver or invoke(cloud, function)  # type: ignore[arg-type]
        self.session = session or f"esm:{function.name}"
        self.source_arn: str = props["EventSourceArn"]
        settings = MappingSettings.from_props(props, default_batch_size=100)
        self.enabled, self.batch_size = settings.enabled, settings.batch_size
        self.batching_window, self.filters = settings.batching_window, settings.filters
        self.report_failures = settings.report_failures
        self.bisect = bool(props.get("BisectBatchOnFunctionError", False))
        self.max_retries = int(props.get("MaximumRetryAttempts", -1))
        self.max_record_age = int(props.get("MaximumRecordAgeInSeconds", -1))
        self.tumbling_window = tumbling_window_seconds(props)
        self.on_failure: str | None = (
            props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        )
        self.label = f"{self.service}:{self.stream_name}"
        self.client = cloud.client_as(function.role_arn, self.client_name, self.session)
        self._check_role()
        # Creating the mapping, Lambda finds the shards and their starting points with the function's role.
        position = props.get("StartingPosition", "TRIM_HORIZON")
        timestamp = props.get("StartingPositionTimestamp")
        self.retention = self._retention()
        self.shards = [
            _Shard(shard_id, self._shard_iterator(shard_id, position, timestamp))
            for shard_id in self._shard_ids()
        ]

    def _check_role(self) -> None:
        """Refuse the mapping, as Lambda does, if the role may not read the stream."""
        if not self.cloud.enforce_iam:
            return
        denied = [
            action
            for action, resource in self._required_permissions()
            if not self.cloud.iam.decide(self.function.role_arn, action, resource).allowed
        ]
        if denied:
            raise InvalidRequest(
                f"InvalidParameterValueException: Cannot access stream {self.source_arn}. Please ensure "
                "the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams "
                f"Actions on your stream in IAM (the role of {self.function.name}, "
                f"{self.function.role_arn}, may not {', '.join(denied)})"
            )

    def _required_permissions(self) -> list[tuple[str, str]]:
        return [(action, self.stream_arn) for action in self.required_actions]

    # ------------------------------------------------------------------------------------ per service

    @property
    def stream_arn(self) -> str:
        return self.source_arn

    @property
    @abstractmethod
    def stream_name(self) -> str: ...

    @abstractmethod
    def _retention(self) -> float: ...

    @abstractmethod
    def _shard_ids(self) -> list[str]: ...

    @abstractmethod
    def _shard_iterator(self, shard_id: str, position: str, timestamp: float | None) -> str: ...

    def _get_records(self, shard: _Shard) -> list[_Record]:
        """The next page of the shard's records; moves the shard's iterator past them."""
        page = self.client.get_records(**self._get_records_params(shard))
        shard.iterator = page["NextShardIterator"]
        return [self._record(shard.id, r) for r in page["Records"]]

    @abstractmethod
    def _get_records_params(self, shard: _Shard) -> dict[str, Any]: ...

    @abstractmethod
    def _nothing_after(self, shard: _Shard) -> bool:
        """Whether moto holds no record after the shard's iterator, so GetRecords would answer an empty
        page and the same position; False where that cannot be told (moto then answers the call)."""

    @abstractmethod
    def _record(self, shard_id: str, raw: dict[str, Any]) -> _Record: ...

    @abstractmethod
    def _filter_view(self, record: _Record) -> dict[str, Any]:
        """What the filter criteria see of a record."""

    @abstractmethod
    def _timestamp(self, moment: datetime) -> str:
        """An arrival time as the on-failure record writes it."""

    # ------------------------------------------------------------------------------------ polling

    def poll(self) -> bool:
        """Read every shard and invoke each one's next batch if it is due; whether anything happened."""
        if not self.enabled:
            return False
        progressed = False
        for shard in self.shards:
            progressed = self._poll_shard(shard) or progressed
        return progressed

    def next_wakeup(self) -> datetime | None:
        """When a shard can next go on: a back-off or invocation ending, a batching or tumbling window closing."""
        now = self.cloud.clock.now()
        moments = [moment for shard in self._batching() for moment in self._wakeups(shard)]
        later = [m for m in moments if m > now]
        return min(later) if later else None

    def _batching(self) -> list[_Shard]:
        """What batches are cut from and invoked one at a time: the shards."""
        return self.shards

    def _wakeups(self, shard: _Shard) -> list[datetime]:
        moments = []
        if shard.pending or shard.inflight:
            moments.append(shard.not_before)
        if shard.opened is not None:
            moments.append(shard.opened + timedelta(seconds=self.batching_window))
        if shard.window is not None:
            closes = shard.not_before if shard.window.terminated_early else shard.window.end
            moments.append(max(closes, shard.not_before))
        return moments

    def _poll_shard(self, shard: _Shard) -> bool:
        progressed = self._read(shard)
        return self._advance(shard, self.cloud.clock.now()) or progressed

    def _advance(self, shard: _Shard, now: datetime) -> bool:
        """Invoke the shard's next batch if it is due; whether one was invoked."""
        if now < shard.not_before:
            return False
        batch = self._next_batch(shard, now)
        if batch is None:
            return False
        self._process(shard, batch, now)
        return True

    def _read(self, shard: _Shard) -> bool:
        if self._caught_up(shard):
            return False
        records = self._get_records(shard)
        kept = [
            r
            for r in records
            if not self.filters or any(matches(f, self._filter_view(r)) for f in self.filters)
        ]
        if len(kept) < len(records):
            self.cloud.trace.record(
                "filter",
                self.label,
                self.function.name,
                f"{shard.id}: {len(records) - len(kept)} record(s) filtered out",
                at=self.cloud.clock.elapsed(),
                outcome="skipped",
            )
        shard.pending.extend(kept)
        return bool(records)

    def _caught_up(self, shard: _Shard) -> bool:
        """Whether this poll's GetRecords can be skipped: it would find nothing new and be allowed.

        Most polls find a shard empty, and each SDK call costs milliseconds while every mapping's
        every shard is polled on every pump. A call the role, the network or the service would
        refuse is still made, so the refusal is raised and traced as before.
        """
        return self._nothing_after(shard) and hooks.would_pass_checks(
            self.cloud,
            self.function.role_arn,
            self.session,
            self.client.meta.service_model,
            "GetRecords",
            self._get_records_params(shard),
        )

    def _next_batch(self, shard: _Shard, now: datetime) -> _Batch | None:
        if shard.inflight:
            return shard.inflight[0]
        if shard.window is not None and self._window_over(shard, now):
            shard.inflight.append(_Batch([], final=True))
            return shard.inflight[0]
        if not shard.pending or not self._batch_ready(shard, now):
            return None
        records = shard.pending[: self.batch_size]
        records = records[: payload_limits.fitting([r.event for r in records])]
        if self.tumbling_window:
            start = self._window_start(records[0])
            records = [r for r in records if self._window_start(r) == start]
            if shard.window is None:
                shard.window = _Window(start, start + timedelta(seconds=self.tumbling_window))
        del shard.pending[: len(records)]
        shard.opened = None
        shard.inflight.append(_Batch(records))
        return shard.inflight[0]

    def _batch_ready(self, shard: _Shard, now: datetime) -> bool:
        """A full batch is waiting, or there is no batching window, or it has passed."""
        if self.batching_window == 0 or len(shard.pending) >= self.batch_size:
            return True
        if shard.opened is None:
            shard.opened = now
        return now >= shard.opened + timedelta(seconds=self.batching_window)

    def _window_start(self, record: _Record) -> datetime:
        seconds = record.arrived.timestamp()
        return datetime.fromtimestamp(seconds - seconds % self.tumbling_window, UTC)

    def _window_over(self, shard: _Shard, now: datetime) -> bool:
        assert shard.window is not None
        if shard.window.terminated_early:
            return True
        if shard.pending:
            return self._window_start(shard.pending[0]) != shard.window.start
        return now >= shard.window.end

    # ------------------------------------------------------------------------------------ invoking

    def _process(self, shard: _Shard, batch: _Batch, now: datetime) -> None:
        if not self._drop_expired(shard, batch, now):
            shard.inflight.pop(0)
            return
        delivery = self.cloud.trace.record(
            "deliver",
            self.label,
            self.function.name,
            f"{shard.id}: "
            + ("final invoke of the window" if batch.final else f"batch of {len(batch.records)}")
            + (f", attempt {batch.attempts + 1}" if batch.attempts else ""),
            at=self.cloud.clock.elapsed(),
            parent=self._origin(shard, batch.records),
            sequence_numbers=[r.sequence for r in batch.records],
        )
        batch.attempts += 1
        if isinstance(self.function, LambdaFunction):  # a pipe's batches are not Lambda's to count
            lambda_metrics.iterator_age(self.cloud, self.function, [r.arrived for r in batch.records])
        try:
            result = self.deliver(self._event(shard, batch), self.label, delivery.id)
        except Throttled:
            # A batch that never reached the function is retried until too old, using no retries.
            delivery.outcome = "throttled"
            self._retry_later(shard, batch, delivery)
            return
        batch.invocations += 1
        batch.last = result
        shard.not_before = now + timedelta(seconds=self.function.duration)
        failure = self._failed_from(result, batch)
        if failure is None:
            delivery.outcome = "ok"
            shard.inflight.pop(0)
            self._keep_state(shard, batch, result)
        else:
            self._failed(shard, batch, *failure, delivery)

    def _failed(self, shard: _Shard, batch: _Batch, start: int, whole: bool, delivery: Span) -> None:
        """Checkpoint what a report says succeeded; bisect, retry or give up on the rest."""
        assert batch.last is not None
        if whole:
            delivery.outcome = "function error" if batch.last.failed else "invalid response: the batch failed"
        else:
            delivery.outcome = f"reported failures: retry from {batch.records[start].sequence}"
            delivery.data["checkpointed"] = [r.sequence for r in batch.records[:start]]
            batch.records = batch.records[start:]
            self._keep_state(shard, batch, batch.last)
        if whole and self.bisect and len(batch.records) > 1:
            self._bisect(shard, batch, delivery)
            return
        batch.retries += 1
        if 0 <= self.max_retries < batch.retries:
            delivery.outcome += f"; retries exhausted after {batch.invocations} invocation(s)"
            shard.inflight.pop(0)
            self._give_up(shard, batch, batch.records, "RetryAttemptsExhausted", delivery)
            return
        self._retry_later(shard, batch, delivery)

    def _origin(self, shard: _Shard, records: list[_Record]) -> int | None:
        """The trace span that wrote the batch's first record, if the cloud saw it written."""
        if not records:
            return None
        return self.cloud.origin_of(origin_key(self.stream_arn, shard.id, records[0].sequence))

    def _event(self, shard: _Shard, batch: _Batch) -> dict[str, Any]:
        event: dict[str, Any] = {"Records": [r.event for r in batch.records]}
        if shard.window is not None:
            event.update(
                window={"start": _iso(shard.window.start), "end": _iso(shard.window.end)},
                state=shard.window.state,
                shardId=shard.id,
                eventSourceARN=self.source_arn,
                isFinalInvokeForWindow=batch.final,
                isWindowTerminatedEarly=shard.window.terminated_early,
            )
        return event

    def _failed_from(self, result: InvocationResult, batch: _Batch) -> tuple[int, bool] | None:
        """``None`` if the batch succeeded; else where to retry from, and whether the whole batch failed.

        A function error, a tumbling-window answer without ``state`` and an invalid report fail the
        whole batch; a valid report checkpoints before its lowest sequence number.
        """
        payload = result.payload if isinstance(result.payload, dict) else {}
        if result.failed or (self.tumbling_window and not batch.final and "state" not in payload):
            return 0, True
        failures = payload.get("batchItemFailures") if self.report_failures and not batch.final else None
        if not failures:
            return None
        positions = {r.sequence: i for i, r in enumerate(batch.records)}
        reported = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in positions:
                return 0, True
            reported.append(positions[identifier])
        return min(reported), False

    def _keep_state(self, shard: _Shard, batch: _Batch, result: InvocationResult) -> None:
        if shard.window is None:
            return
        if batch.final:
            shard.window = None
        else:
            shard.window.state = result.payload["state"]
            shard.window.terminated_early = over_limit(shard.window.state)

    def _bisect(self, shard: _Shard, batch: _Batch, delivery: Span) -> None:
        half = (len(batch.records) + 1) // 2
        halves = [
            _Batch(part, retries=batch.retries) for part in (batch.records[:half], batch.records[half:])
        ]
        shard.inflight[0:1] = halves
        self.cloud.trace.record(
            "bisect",
            self.label,
            self.function.name,
            f"{shard.id}: {len(batch.records)} -> {half} + {len(batch.records) - half}",
            at=self.cloud.clock.elapsed(),
            parent=delivery.id,
        )
        self._retry_later(shard, halves[0], delivery)

    def _retry_later(self, shard: _Shard, batch: _Batch, delivery: Span) -> None:
        delay = min(MAX_BACKOFF, 2 ** max(batch.attempts - 1, 0))
        shard.not_before = max(shard.not_before, self.cloud.clock.now() + timedelta(seconds=delay))
        self.cloud.trace.record(
            "retry",
            self.label,
            self.function.name,
            f"{shard.id}: in {delay:g}s",
            at=self.cloud.clock.elapsed(),
            parent=delivery.id,
            outcome="scheduled",
        )

    # ------------------------------------------------------------------------------------ giving up

    def _drop_expired(self, shard: _Shard, batch: _Batch, now: datetime) -> bool:
        """Give up on what is too old to invoke; whether anything is left to invoke.

        A window's final invocation gets too old with the window's end.
        """
        by_age = 0 <= self.max_record_age < self.retention
        limit = timedelta(seconds=self.max_record_age if by_age else self.retention)
        arrivals = [shard.window.end] if batch.final and shard.window else [r.arrived for r in batch.records]
        expired = 0
        while expired < len(arrivals) and now - arrivals[expired] > limit:
            expired += 1
        if not expired:
            return True
        records, batch.records = batch.records[:expired], batch.records[expired:]
        if by_age or batch.final:
            self._give_up(shard, batch, records, "RecordAgeExceeded", None)
        else:
            self.cloud.trace.record(
                "expire",
                self.label,
                self.function.name,
                f"{shard.id}: {len(records)} record(s) past the stream's retention",
                at=self.cloud.clock.elapsed(),
                outcome="lost",
            )
        return bool(batch.records)

    def _give_up(
        self, shard: _Shard, batch: _Batch, records: list[_Record], condition: str, cause: Span | None
    ) -> None:
        """Skip records for good; the on-failure destination learns which, if there is one."""
        if not records:
            detail = f"{shard.id}: final state of window {_iso(shard.window.start) if shard.window else ''}"
            shard.window = None
        else:
            detail = f"{shard.id}: {len(records)} record(s) {records[0].sequence}..{records[-1].sequence}"
        discard = self.cloud.trace.record(
            "discard",
            self.label,
            self.on_failure.rsplit(":", 1)[-1] if self.on_failure and records else "-",
            f"{detail} ({condition})",
            at=self.cloud.clock.elapsed(),
            parent=cause.id if cause else None,
            outcome="sent to the on-failure destination" if self.on_failure and records else "dropped",
        )
        if self.on_failure and records:
            self.cloud.service("lambda").send_to(
                self.on_failure,
                self._failure_record(shard, batch, records, condition),
                role_arn=self.function.role_arn,
                source=self.label,
                cause=discard.id,
                kind="destination",
            )

    def _failure_record(
        self, shard: _Shard, batch: _Batch, records: list[_Record], condition: str
    ) -> dict[str, Any]:
        """The invocation record Lambda sends to a stream mapping's on-failure destination."""
        record: dict[str, Any] = {
            "requestContext": {
                "requestId": batch.last.request_id if batch.last else str(uuid.uuid4()),
                "functionArn": self.function.arn,
                "condition": condition,
                "approximateInvokeCount": batch.invocations,
            }
        }
        if batch.last is not None:
            record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if batch.last.failed:
                record["responseContext"]["functionError"] = "Unhandled"
        record["version"] = "1.0"
        record["timestamp"] = _iso(self.cloud.clock.now(), milliseconds=True)
        record[self.batch_info_key] = {
            "shardId": shard.id,
            "startSequenceNumber": records[0].sequence,
            "endSequenceNumber": records[-1].sequence,
            "approximateArrivalOfFirstRecord": self._timestamp(records[0].arrived),
            "approximateArrivalOfLastRecord": self._timestamp(records[-1].arrived),
            "batchSize": len(records),
            "streamArn": self.stream_arn,
        }
        return record


class KinesisEventSource(_StreamEventSource):
    service = "kinesis"
    client_name = "kinesis"
    batch_info_key = "KinesisBatchInfo"
    required_actions = (
        "kinesis:DescribeStream",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListStreams",
    )
    #: Most records one GetRecords call returns.
    page_limit = 10_000

    @property
    def stream_arn(self) -> str:
        # An enhanced fan-out consumer's ARN is its stream's, followed by /consumer/<name>:<created>.
        return self.source_arn.split("/consumer/", 1)[0]

    @property
    def stream_name(self) -> str:
        return self.stream_arn.rsplit("/", 1)[1]

    def _required_permissions(self) -> list[tuple[str, str]]:
        permissions = super()._required_permissions()
        if self.source_arn != self.stream_arn:  # an enhanced fan-out consumer
            permissions += [
                (action, self.source_arn)
                for action in ("kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard")
            ]
        return permissions

    def _retention(self) -> float:
        summary = self.client.describe_stream_summary(StreamARN=self.stream_arn)
        return summary["StreamDescriptionSummary"]["RetentionPeriodHours"] * 3600

    def _shard_ids(self) -> list[str]:
        return [s["ShardId"] for s in self.client.list_shards(StreamARN=self.stream_arn)["Shards"]]

    def _shard_iterator(self, shard_id: str, position: str, timestamp: float | None) -> str:
        extra = (
            {"Timestamp": datetime.fromtimestamp(float(timestamp), UTC)} if position == "AT_TIMESTAMP" else {}
        )
        return self.client.get_shard_iterator(
            StreamARN=self.stream_arn, ShardId=shard_id, ShardIteratorType=position, **extra
        )["ShardIterator"]

    def _get_records_params(self, shard: _Shard) -> dict[str, Any]:
        return {"StreamARN": self.stream_arn, "ShardIterator": shard.iterator, "Limit": self.page_limit}

    def _nothing_after(self, shard: _Shard) -> bool:
        return nothing_after(self.cloud.account, self.cloud.region, self.stream_arn, shard.iterator)

    def _record(self, shard_id: str, raw: dict[str, Any]) -> _Record:
        arrived = raw["ApproximateArrivalTimestamp"]
        sequence = raw["SequenceNumber"]
        event = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw["PartitionKey"],
                "sequenceNumber": sequence,
                "data": base64.b64encode(raw["Data"]).decode(),
                "approximateArrivalTimestamp": round(arrived.timestamp(), 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.function.role_arn,
            "awsRegion": self.cloud.region,
            "eventSourceARN": self.source_arn,
        }
        return _Record(sequence, arrived, event)

    def _filter_view(self, record: _Record) -> dict[str, Any]:
        data = base64.b64decode(record.event["kinesis"]["data"])
        try:
            return {"data": json.loads(data)}
        except ValueError:
            return {"data": data.decode(errors="replace")}

    def _timestamp(self, moment: datetime) -> str:
        return _iso(moment, milliseconds=True)


class DynamoDBEventSource(_StreamEventSource):
    service = "dynamodb"
    client_name = "dynamodbstreams"
    batch_info_key = "DDBStreamBatchInfo"
    required_actions = (
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    )
    #: Most records one GetRecords call returns.
    page_limit = 1000

    @property
    def stream_name(self) -> str:
        # arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>
        return self.source_arn.split(":table/", 1)[1].split("/", 1)[0]

    def _retention(self) -> float:
        return DYNAMODB_RETENTION

    def _shard_ids(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [s["ShardId"] for s in description["Shards"]]

    def _shard_iterator(self, shard_id: str, position: str, timestamp: float | None) -> str:
        return self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=position
        )["ShardIterator"]

    def _get_records_params(self, shard: _Shard) -> dict[str, Any]:
        return {"ShardIterator": shard.iterator, "Limit": self.page_limit}

    def _nothing_after(self, shard: _Shard) -> bool:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        iterator = dynamodbstreams_backends[self.cloud.account][self.cloud.region].shard_iterators.get(
            shard.iterator
        )
        if iterator is None or iterator.sequence_number is None:
            return False
        # moto answers the records from the iterator's sequence number on, by position in the shard.
        position = int(iterator.sequence_number) - iterator.stream_shard.starting_sequence_number
        return position >= len(iterator.stream_shard.items)

    def _record(self, shard_id: str, raw: dict[str, Any]) -> _Record:
        change = raw["dynamodb"]
        arrived = change["ApproximateCreationDateTime"]
        dynamodb = {"ApproximateCreationDateTime": int(arrived.timestamp())}
        for key in ("Keys", "NewImage", "OldImage"):
            if key in change:
                dynamodb[key] = _dynamodb_json(change[key])
        dynamodb.update(
            SequenceNumber=change["SequenceNumber"],
            SizeBytes=change["SizeBytes"],
            StreamViewType=change["StreamViewType"],
        )
        event = {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw["eventVersion"],
            "eventSource": "aws:dynamodb",
            "awsRegion": self.cloud.region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.source_arn,
        }
        return _Record(change["SequenceNumber"], arrived, event)

    def _filter_view(self, record: _Record) -> dict[str, Any]:
        return record.event

    def _timestamp(self, moment: datetime) -> str:
        return _iso(moment)


def _iso(moment: datetime, *, milliseconds: bool = False) -> str:
    moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")


def _dynamodb_json(value: Any) -> Any:
    """DynamoDB JSON as Lambda sends it: binary values base64-encoded, as boto3 decodes them to bytes."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _dynamodb_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamodb_json(v) for v in value]
    return value
