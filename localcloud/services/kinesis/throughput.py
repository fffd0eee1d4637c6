"""Kinesis's write throughput per shard, on the virtual clock: moto takes any rate.

Each shard takes at most 1,000 records and 1 MiB of data (partition keys not counted, so one
record of the largest size fits) each second
(Kinesis Data Streams quotas, "Per shard: 1 MB/s or 1,000 records/s of write"). Within one second of
the cloud's clock:

- a ``PutRecord`` past either limit is refused whole, ``ProvisionedThroughputExceededException``;
- a ``PutRecords`` puts the records that fit and answers each other one with ``ErrorCode``
  ``ProvisionedThroughputExceededException`` and ``ErrorMessage`` as AWS words it, counted in
  ``FailedRecordCount``; the records that fit are stored in order, as Kinesis does (a request is not
  atomic).

The shard of a record is the one whose hash key range holds the MD5 of its partition key (or its
``ExplicitHashKey``), as moto chooses it. Both limits apply to on-demand streams' shards too.
"""

from __future__ import annotations

from base64 import b64encode
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall

RECORDS_PER_SECOND = 1000
BYTES_PER_SECOND = 1024 * 1024
EXCEEDED = "ProvisionedThroughputExceededException"


class Throughput:
    """What each shard took in the current second of the cloud's clock."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.second: int | None = None
        self.used: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    def take(self, stream_arn: str, shard_id: str, size: int) -> bool:
        """Count one record of ``size`` bytes on the shard, if the shard can take it this second."""
        second = int(self.kernel.clock.now().timestamp())
        if second != self.second:
            self.second, self.used = second, defaultdict(lambda: [0, 0])
        used = self.used[(stream_arn, shard_id)]
        if used[0] + 1 > RECORDS_PER_SECOND or used[1] + size > BYTES_PER_SECOND:
            return False
        used[0] += 1
        used[1] += size
        return True


def exceeded_message(kernel: Kernel, stream: Any, shard_id: str) -> str:
    return (
        f"Rate exceeded for shard {shard_id} in stream {stream.stream_name} under account {kernel.account}."
    )


def _stream(kernel: Kernel, params: dict[str, Any]) -> Any:
    from moto.kinesis.models import kinesis_backends

    backend = kinesis_backends[kernel.account][kernel.region]
    try:
        return backend.describe_stream(
            stream_arn=params.get("StreamARN"), stream_name=params.get("StreamName")
        )
    except Exception:  # moto answers the call with AWS's error itself
        return None


def _size(record: dict[str, Any]) -> int:
    data = record.get("Data", b"")
    return len(data.encode() if isinstance(data, str) else bytes(data))


def check_put_record(kernel: Kernel, params: dict[str, Any]) -> None:
    """Refuse a PutRecord its shard cannot take this second."""
    stream = _stream(kernel, params)
    if stream is None:
        return
    shard = stream.get_shard_for_key(params.get("PartitionKey", ""), params.get("ExplicitHashKey"))
    if not kernel.service("kinesis").take(stream.arn, shard.shard_id, _size(params)):
        raise aws_error(EXCEEDED, exceeded_message(kernel, stream, shard.shard_id), "PutRecord")


def answer_put_records(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """Let moto answer when every record fits; else store those that fit and answer each other's error."""
    stream = _stream(kernel, call.params)
    if stream is None:
        return None
    records = call.params["Records"]
    throughput = kernel.service("kinesis")
    shards = [stream.get_shard_for_key(r["PartitionKey"], r.get("ExplicitHashKey")) for r in records]
    fits = [throughput.take(stream.arn, s.shard_id, _size(r)) for r, s in zip(records, shards, strict=True)]
    if all(fits):
        return None
    answered = []
    for record, shard, fit in zip(records, shards, fits, strict=True):
        if not fit:
            message = exceeded_message(kernel, stream, shard.shard_id)
            answered.append({"ErrorCode": EXCEEDED, "ErrorMessage": message})
            continue
        data = record["Data"].encode() if isinstance(record["Data"], str) else bytes(record["Data"])
        sequence = shard.put_record(
            record["PartitionKey"], b64encode(data).decode(), record.get("ExplicitHashKey")
        )
        answered.append({"SequenceNumber": sequence, "ShardId": shard.shard_id})
    failed = sum(1 for fit in fits if not fit)
    return 200, {"FailedRecordCount": failed, "Records": answered}
