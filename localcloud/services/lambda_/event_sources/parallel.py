"""``ParallelizationFactor`` of Kinesis and DynamoDB stream mappings: up to N batches of one shard
at once, the order of each partition key kept.

As AWS documents it, Lambda splits each shard into N *virtual shards* by hashing the partition key,
cuts batches from each virtual shard on its own, invokes up to one batch per virtual shard at a
time and checkpoints each virtual shard apart. So:

- records of one partition key always go through the same virtual shard, in order;
- records of different keys in one shard may be processed concurrently, in separate batches;
- a failing batch (retries, bisection, back-off, the on-failure destination) holds its own
  virtual shard only: the other keys of the shard go on.

Here the key is hashed with MD5 (as Kinesis maps partition keys to shards) modulo the factor; AWS
does not document its hash, so which keys share a virtual shard may differ from AWS. A DynamoDB
stream record's key is its item's ``Keys``. The batch-info record sent to the on-failure destination
names the real shard, as AWS's does. Batching windows and tumbling windows run per virtual shard.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.services.lambda_.event_sources.limits import setting_in_range
from localcloud.services.lambda_.event_sources.streams import (
    DynamoDBEventSource,
    KinesisEventSource,
    _Record,
    _Shard,
    _StreamEventSource,
)

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.lambda_.event_sources import Consumer, Deliver

#: Lambda's limits for ``ParallelizationFactor``.
FACTOR_RANGE = (1, 10)


def virtual_shard(partition_key: str, factor: int) -> int:
    """Which of a shard's ``factor`` virtual shards carries ``partition_key``'s records (0-based)."""
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest(), "big") % factor


class _Parallel(_StreamEventSource):
    """A stream mapping whose shards each hold ``factor`` virtual shards."""

    def __init__(
        self,
        cloud: Kernel,
        mapping_id: str,
        function: Consumer,
        props: dict[str, Any],
        deliver: Deliver | None = None,
        session: str | None = None,
    ) -> None:
        factor = setting_in_range(props, "ParallelizationFactor", 1, *FACTOR_RANGE)
        super().__init__(cloud, mapping_id, function, props, deliver, session)
        self.factor = factor
        self.virtual_shards = {
            shard.id: [_Shard(shard.id, "") for _ in range(factor)] for shard in self.shards
        }

    def _partition_key(self, record: _Record) -> str:
        raise NotImplementedError

    def _batching(self) -> list[_Shard]:
        if self.factor == 1:
            return super()._batching()
        return [lane for lanes in self.virtual_shards.values() for lane in lanes]

    def _poll_shard(self, shard: _Shard) -> bool:
        if self.factor == 1:
            return super()._poll_shard(shard)
        progressed = self._read(shard)
        lanes = self.virtual_shards[shard.id]
        for record in shard.pending:
            lanes[virtual_shard(self._partition_key(record), self.factor)].pending.append(record)
        shard.pending.clear()
        now: datetime = self.cloud.clock.now()
        for lane in lanes:
            progressed = self._advance(lane, now) or progressed
        return progressed


class ParallelKinesisEventSource(_Parallel, KinesisEventSource):
    """A Kinesis mapping with ``ParallelizationFactor``: virtual shards by ``partitionKey``."""

    def _partition_key(self, record: _Record) -> str:
        return str(record.event["kinesis"]["partitionKey"])


class ParallelDynamoDBEventSource(_Parallel, DynamoDBEventSource):
    """A DynamoDB stream mapping with ``ParallelizationFactor``: virtual shards by the item's key."""

    def _partition_key(self, record: _Record) -> str:
        return json.dumps(record.event["dynamodb"].get("Keys", {}), sort_keys=True)
