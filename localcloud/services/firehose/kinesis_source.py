"""A delivery stream's Kinesis source, read as Firehose reads it: with the source's ``RoleARN``.

Creating the delivery stream, Firehose describes the stream, lists its shards and takes a ``LATEST``
iterator of each (AWS's documented role policy for a Kinesis source: ``kinesis:DescribeStream``,
``ListShards``, ``GetShardIterator``, ``GetRecords``); a role that may not is refused then, as the
creation's ``InvalidArgumentException``. Afterwards each shard is read with ``GetRecords`` as soon as
it holds records the reader has not seen (AWS reads each shard about once a second; the virtual
clock does not move for it). A read the role may not make is traced as an error and tried again a
second later; the records wait in the stream meanwhile, as on AWS. Records join the buffer in shard
order, so records of one partition key keep their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.errors import aws_error
from localcloud.lib.kinesis_reads import nothing_after

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

READ_RETRY = timedelta(seconds=1)
PAGE_LIMIT = 10_000


@dataclass
class _Shard:
    id: str
    iterator: str
    retry_at: datetime | None = None


class KinesisSource:
    """The shards of one source stream and where the delivery stream has read them to."""

    def __init__(self, cloud: Kernel, delivery_stream: str, config: dict[str, Any]) -> None:
        self.cloud = cloud
        self.stream_arn: str = config["KinesisStreamARN"]
        self.label = f"kinesis:{self.stream_arn.rsplit('/', 1)[-1]}"
        role = config.get("RoleARN")
        self.client = (
            cloud.client_as(role, "kinesis", f"firehose:{delivery_stream}")
            if role
            else cloud.admin_client("kinesis")
        )
        try:
            self.client.describe_stream(StreamARN=self.stream_arn)
            shards = self.client.list_shards(StreamARN=self.stream_arn)["Shards"]
            self.shards = [_Shard(s["ShardId"], self._iterator(s["ShardId"])) for s in shards]
        except ClientError as error:
            raise aws_error(
                "InvalidArgumentException",
                f"Firehose cannot read the source stream {self.stream_arn} with role {role}: "
                f"{error.response['Error'].get('Message', '')}",
                "CreateDeliveryStream",
            ) from None

    def _iterator(self, shard_id: str) -> str:
        return self.client.get_shard_iterator(
            StreamARN=self.stream_arn, ShardId=shard_id, ShardIteratorType="LATEST"
        )["ShardIterator"]

    def read(self, now: datetime) -> list[tuple[bytes, int | None]] | None:
        """What one shard due for a read holds, with the span that wrote each record; None when no
        shard was due."""
        for shard in self.shards:
            if shard.retry_at is not None and shard.retry_at > now:
                continue
            if self._nothing_after(shard):
                continue
            try:
                page = self.client.get_records(
                    StreamARN=self.stream_arn, ShardIterator=shard.iterator, Limit=PAGE_LIMIT
                )
            except ClientError as error:
                self.cloud.trace.record(
                    "read", self.label, "firehose", f"GetRecords {shard.id}", at=self.cloud.clock.elapsed(),
                    outcome=f"error: {error.response['Error'].get('Code', 'Unknown')}",
                )  # fmt: skip
                shard.retry_at = now + READ_RETRY
                return []
            shard.retry_at = None
            shard.iterator = page["NextShardIterator"]
            return [
                (
                    bytes(r["Data"]),
                    self.cloud.origin_of(f"{self.stream_arn}/{shard.id}/{r['SequenceNumber']}"),
                )
                for r in page["Records"]
            ]
        return None

    def next_wakeup(self) -> datetime | None:
        moments = [s.retry_at for s in self.shards if s.retry_at is not None and not self._nothing_after(s)]
        return min(moments) if moments else None

    def _nothing_after(self, shard: _Shard) -> bool:
        return nothing_after(self.cloud.account, self.cloud.region, self.stream_arn, shard.iterator)
