"""Kinesis Data Firehose delivery streams to S3: records are buffered and written as one object per
flush, when the buffer holds ``SizeInMBs`` or ``IntervalInSeconds`` has passed since its oldest
record, on the virtual clock.

moto writes one S3 object per PutRecord(Batch) call, at once. The local cloud turns that off for the
cloud's Firehose backend and buffers instead, so nothing is written twice. Every stream is
registered from its CreateDeliveryStream call, whether the template or a test makes it.

- Records are concatenated as they came (Firehose adds no delimiter); ``GZIP`` compresses the
  object, whose key then ends in ``.gz``. Other compression formats, record processing, format
  conversion, dynamic partitioning and destinations other than S3 are refused at creation.
- Keys: ``Prefix`` + ``YYYY/MM/DD/HH/`` (UTC, of the oldest record in the buffer) +
  ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>``. A prefix with ``!{timestamp:...}``
  (Java date patterns ``yyyy MM dd HH mm ss``) or ``!{firehose:random-string}`` expressions is
  used instead of the ``YYYY/MM/DD/HH/`` part. ``ErrorOutputPrefix`` is kept but unused: only
  processing and conversion failures go there.
- Objects are written with the destination's ``RoleARN``. A write that fails is retried every 5
  seconds for up to 24 hours, as Firehose does, then dropped with a ``discard`` span.
- A ``KinesisStreamAsSource`` stream reads its Kinesis stream with the source's role
  (:mod:`localcloud.services.firehose.kinesis_source`), and refuses direct puts as Firehose does.
- ``ErrorOutputPrefix`` is required when ``Prefix`` has expressions, and
  ``!{firehose:error-output-type}`` is allowed only there, as Firehose refuses at creation.
"""

from __future__ import annotations

import gzip
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.service import observes
from localcloud.core.targets import client, service_role
from localcloud.errors import LocalCloudError, aws_error
from localcloud.services.firehose.kinesis_source import KinesisSource

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

MEBIBYTE = 1024 * 1024
DEFAULT_INTERVAL = 300
DEFAULT_SIZE_MB = 5
RETRY_DELAY = 5
RETRY_FOR = timedelta(hours=24)
DESTINATIONS = ("ExtendedS3DestinationConfiguration", "S3DestinationConfiguration")
_EXPRESSION = re.compile(r"!\{([\w-]+):([^}]*)\}")
_JAVA_DATE = re.compile(r"yyyy|MM|dd|HH|mm|ss")
_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


@dataclass
class _Object:
    key: str
    body: bytes
    records: int
    cause: int | None
    first_attempt: datetime
    retry_at: datetime | None = None


class DeliveryStream:
    """One delivery stream's buffer, driven by the cloud's pump."""

    def __init__(self, cloud: Kernel, params: dict[str, Any]) -> None:
        self.cloud = cloud
        self.name: str = params["DeliveryStreamName"]
        self.label = f"firehose:{self.name}"
        source = params.get("KinesisStreamSourceConfiguration")
        self.kinesis_source = source.get("KinesisStreamARN") if source else None
        destination = _s3_destination(params)
        hints = destination.get("BufferingHints", {})
        self.bucket = destination["BucketARN"].split(":::", 1)[1]
        self.role_arn: str | None = destination.get("RoleARN")
        self.prefix: str = destination.get("Prefix", "")
        self.interval = timedelta(seconds=int(hints.get("IntervalInSeconds", DEFAULT_INTERVAL)))
        self.size_limit = int(hints.get("SizeInMBs", DEFAULT_SIZE_MB)) * MEBIBYTE
        self.compression = destination.get("CompressionFormat", "UNCOMPRESSED")
        if self.compression not in ("UNCOMPRESSED", "GZIP"):
            raise LocalCloudError(
                f"{self.name}: CompressionFormat {self.compression} is not supported offline"
            )
        _check_error_prefix(self.name, self.prefix, destination.get("ErrorOutputPrefix", ""))
        self._expand_prefix(self.cloud.clock.now())  # refuses unsupported expressions now
        self.buffer: list[tuple[bytes, datetime, int | None]] = []
        self.failed: list[_Object] = []
        self.source = KinesisSource(cloud, self.name, source) if source else None

    def add(self, records: list[bytes], *, source: str, parent: int | None) -> None:
        span = self.cloud.record_send(self.label, f"{len(records)} record(s)", source=source, parent=parent)
        now = self.cloud.clock.now()
        self.buffer.extend((data, now, span.id) for data in records)

    # ------------------------------------------------------------------------------------ pollable

    def poll(self) -> bool:
        """Read the source stream, or write one object if one is due: a failed one to retry, or a full
        or old enough buffer."""
        now = self.cloud.clock.now()
        if self.source is not None:
            read = self.source.read(now)
            if read is not None:
                self._add_read(read, now)
                return True
        retry = next((o for o in self.failed if o.retry_at is not None and o.retry_at <= now), None)
        if retry is not None:
            self.failed.remove(retry)
            self._write(retry)
            return True
        if self.buffer and (self._size() >= self.size_limit or now >= self.buffer[0][1] + self.interval):
            self._write(self._flush())
            return True
        return False

    def _add_read(self, read: list[tuple[bytes, int | None]], now: datetime) -> None:
        if not read:
            return
        span = self.cloud.record_send(
            self.label, f"{len(read)} record(s)", source=self.source.label, parent=read[0][1]
        )
        self.buffer.extend((data, now, origin if origin is not None else span.id) for data, origin in read)

    def next_wakeup(self) -> datetime | None:
        moments = [o.retry_at for o in self.failed if o.retry_at is not None]
        if self.source is not None and (moment := self.source.next_wakeup()) is not None:
            moments.append(moment)
        if self.buffer:
            moments.append(self.buffer[0][1] + self.interval)
        return min(moments) if moments else None

    # ------------------------------------------------------------------------------------ objects

    def _size(self) -> int:
        return sum(len(data) for data, _, _ in self.buffer)

    def _flush(self) -> _Object:
        records, self.buffer = self.buffer, []
        oldest = records[0][1]
        body = b"".join(data for data, _, _ in records)
        if self.compression == "GZIP":
            body = gzip.compress(body, mtime=0)
        name = f"{self.name}-1-{oldest:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        suffix = ".gz" if self.compression == "GZIP" else ""
        key = f"{self._expand_prefix(oldest)}{name}{suffix}"
        return _Object(key, body, len(records), records[0][2], self.cloud.clock.now())

    def _expand_prefix(self, oldest: datetime) -> str:
        if "!{" not in self.prefix:
            return f"{self.prefix}{oldest:%Y/%m/%d/%H}/"

        def expand(match: re.Match[str]) -> str:
            namespace, argument = match[1], match[2]
            if namespace == "timestamp":
                return oldest.strftime(_JAVA_DATE.sub(lambda m: _STRFTIME[m[0]], argument))
            if namespace == "firehose" and argument == "random-string":
                return uuid.uuid4().hex[:11]
            raise LocalCloudError(f"{self.name}: prefix expression {match[0]} is not supported offline")

        return _EXPRESSION.sub(expand, self.prefix)

    def _write(self, item: _Object) -> None:
        cloud = self.cloud
        span = cloud.trace.record(
            "deliver",
            self.label,
            f"s3:{self.bucket}",
            f"{item.records} record(s) as {item.key}",
            at=cloud.clock.elapsed(),
            parent=item.cause,
        )
        try:
            with cloud.acting_as(service_role(cloud, "firehose.amazonaws.com"), self.label, span.id):
                if self.role_arn is None:
                    client(cloud, "s3").put_object(Bucket=self.bucket, Key=item.key, Body=item.body)
                else:
                    with cloud.acting_as(self.role_arn, self.label, span.id):
                        client(cloud, "s3").put_object(Bucket=self.bucket, Key=item.key, Body=item.body)
        except ClientError as error:
            span.outcome = f"error: {error.response['Error'].get('Code', 'Unknown')}"
            if cloud.clock.now() - item.first_attempt >= RETRY_FOR:
                cloud.trace.record(
                    "discard", self.label, f"s3:{self.bucket}", item.key, at=cloud.clock.elapsed(),
                    parent=span.id, outcome="lost",
                )  # fmt: skip
                return
            item.retry_at = cloud.clock.now() + timedelta(seconds=RETRY_DELAY)
            self.failed.append(item)


def _check_error_prefix(name: str, prefix: str, error_prefix: str) -> None:
    if "!{" in prefix and not error_prefix:
        raise aws_error(
            "InvalidArgumentException",
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions",
            "CreateDeliveryStream",
        )
    if "!{firehose:error-output-type}" in prefix:
        raise aws_error(
            "InvalidArgumentException",
            "The expression !{firehose:error-output-type} is not allowed in Prefix",
            "CreateDeliveryStream",
        )


def _s3_destination(params: dict[str, Any]) -> dict[str, Any]:
    name = params["DeliveryStreamName"]
    others = [k for k in params if k.endswith("DestinationConfiguration") and k not in DESTINATIONS]
    if others:
        raise LocalCloudError(f"{name}: {others[0]} is not supported offline; only S3 destinations are")
    destination = next((params[k] for k in DESTINATIONS if k in params), None)
    if destination is None:
        raise LocalCloudError(f"{name}: no S3 destination configuration")
    for feature in (
        "ProcessingConfiguration",
        "DataFormatConversionConfiguration",
        "DynamicPartitioningConfiguration",
    ):
        if destination.get(feature, {}).get("Enabled"):
            raise LocalCloudError(f"{name}: {feature} is not supported offline")
    return destination


class Firehose:
    """The cloud's delivery streams, by name."""

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.streams: dict[str, DeliveryStream] = {}

    def create(self, params: dict[str, Any]) -> None:
        """Follow a delivery stream moto created; one refused here is removed from moto again, as
        Firehose refuses it before creating anything."""
        try:
            stream = DeliveryStream(self.cloud, params)
        except Exception:
            from moto.firehose.models import firehose_backends

            backend = firehose_backends[self.cloud.account][self.cloud.region]
            backend.delivery_streams.pop(params["DeliveryStreamName"], None)
            raise
        if not self.streams:
            _turn_off_moto_delivery(self.cloud)
        self.streams[stream.name] = stream
        self.cloud.add_pollable(stream)

    def delete(self, name: str) -> None:
        stream = self.streams.pop(name, None)
        if stream is not None:
            self.cloud.remove_pollable(stream)


def _turn_off_moto_delivery(cloud: Kernel) -> None:
    """moto would write every PutRecord(Batch) to S3 at once; answer as it does, but write nothing.
    moto's reset at the cloud's stop discards this, with the rest of the backend."""
    from moto.firehose.models import firehose_backends

    backend = firehose_backends[cloud.account][cloud.region]
    backend.put_s3_records = lambda name, version, destination, records: [
        {"RecordId": str(uuid.uuid4())} for _ in records
    ]


def firehose(cloud: Kernel) -> Firehose:
    """Firehose's state in this cloud (its service's ``state``)."""
    return cloud.service("firehose")


def _data(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


@observes("firehose", "CreateDeliveryStream")
def stream_created(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    firehose(cloud).create(params)


@observes("firehose", "DeleteDeliveryStream")
def stream_deleted(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    firehose(cloud).delete(params["DeliveryStreamName"])


@observes("firehose", "PutRecord", "PutRecordBatch")
def records_put(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    stream = firehose(cloud).streams.get(params["DeliveryStreamName"])
    if stream is None:
        return
    if stream.kinesis_source:
        raise aws_error(
            "InvalidArgumentException",
            "This operation is not permitted on KinesisStreamAsSource type.",
            "PutRecord",
        )
    records = [params["Record"]] if "Record" in params else params["Records"]
    source, parent = cloud.caller()
    stream.add([_data(record["Data"]) for record in records], source=source, parent=parent)
