"""Data streaming offline, as deployed: readings put on the stream reach each meter's total in
order and once, several batches of one shard run at once (parallelization factor 4), and a bad
record is bisected out to the failure queue with Lambda's batch-info record while the other keys
of its shard go on. One cloud for the module: each test uses meters of its own."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from localcloud.services.lambda_.event_sources.parallel import virtual_shard
from patterns.registry import get

pytestmark = pytest.mark.e2e

FACTOR = 4
WINDOW = 5


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(
        load_stack(cloud_assembly.directory, get("stream_processing").stack_name), start=FIXED_START
    )
    cloud.start()
    yield cloud
    cloud.stop()


def shard_of(cloud: LocalCloud, key: str) -> str:
    """The shard Kinesis puts ``key``'s records in: the MD5 of the key within a shard's hash range."""
    point = int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest(), "big")
    shards = cloud.client("kinesis").list_shards(StreamName=cloud.outputs["StreamName"])["Shards"]
    [shard] = [
        s["ShardId"]
        for s in shards
        if int(s["HashKeyRange"]["StartingHashKey"]) <= point <= int(s["HashKeyRange"]["EndingHashKey"])
    ]
    return shard


def meters(cloud: LocalCloud, prefix: str, lanes: list[int]) -> list[str]:
    """Meters of one shard, named ``prefix-<n>``, the i-th in virtual shard ``lanes[i]``."""
    found: list[str | None] = [None] * len(lanes)
    shard = None
    for n in itertools.count():
        key = f"{prefix}-{n}"
        slot = next(
            (i for i, lane in enumerate(lanes) if found[i] is None and lane == virtual_shard(key, FACTOR)),
            None,
        )
        if slot is not None and shard in (None, shard_of(cloud, key)):
            shard = shard_of(cloud, key)
            found[slot] = key
        if all(found):
            return [key for key in found if key]
    raise AssertionError("unreachable")


def put(cloud: LocalCloud, meter: str, kwh, *, key: str | None = None) -> str:
    answer = cloud.client("kinesis").put_record(
        StreamName=cloud.outputs["StreamName"],
        Data=json.dumps({"meter_id": meter, "kwh": kwh}).encode(),
        PartitionKey=key or meter,
    )
    return answer["SequenceNumber"]


def total(cloud: LocalCloud, meter: str) -> tuple[int, int] | None:
    item = (
        cloud.client("dynamodb")
        .get_item(TableName=cloud.outputs["TableName"], Key={"meter_id": {"S": meter}})
        .get("Item")
    )
    return None if item is None else (int(item["total_kwh"]["N"]), int(item["readings"]["N"]))


def failures(cloud: LocalCloud) -> list[dict]:
    answer = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["FailureQueueUrl"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def deliveries(cloud: LocalCloud, sequences: dict[str, str]) -> list:
    spans = cloud.trace.find("deliver", target=cloud.function("Processor").name)
    return [s for s in spans if set(s.data["sequence_numbers"]) & set(sequences)]


def test_each_meter_is_totalled_in_order_while_a_shard_runs_several_batches_at_once(cloud):
    group = meters(cloud, "order", [0, 1, 2, 3])
    sent: dict[str, str] = {}
    expected = defaultdict(int)
    for n in range(6):
        for meter in group:
            sent[put(cloud, meter, n + 1)] = meter
            expected[meter] += n + 1
    cloud.advance(WINDOW - 1)
    assert all(total(cloud, m) is None for m in group), "the batching window holds a small batch"
    cloud.advance(1)
    cloud.drain()
    assert {m: total(cloud, m) for m in group} == {m: (expected[m], 6) for m in group}

    spans = deliveries(cloud, sent)
    assert len(spans) == FACTOR, "one shard, four batches: one per virtual shard"
    assert len({s.at for s in spans}) == 1, "all at the same moment"
    for span in spans:
        assert len({sent[s] for s in span.data["sequence_numbers"]}) == 1, "a batch holds one meter here"
        assert span.data["sequence_numbers"] == sorted(span.data["sequence_numbers"], key=int)


def test_a_bad_record_is_bisected_out_to_the_failure_queue_while_other_keys_go_on(cloud):
    bad_meter, neighbour, other = meters(cloud, "bad", [1, 1, 2])
    put(cloud, bad_meter, 10)
    put(cloud, bad_meter, 20)
    poison = put(cloud, bad_meter, -5)  # out of range: fails every time
    put(cloud, bad_meter, 30)
    put(cloud, neighbour, 4)
    put(cloud, other, 7)
    cloud.advance(WINDOW)
    assert total(cloud, bad_meter) == (30, 2), "applied up to the bad record, which failed the batch"
    assert total(cloud, neighbour) is None, "a meter of the failing virtual shard waits behind it"
    assert total(cloud, other) == (7, 1), "another virtual shard of the same shard goes on"
    assert failures(cloud) == [], "the bad record is still being retried"

    cloud.drain()
    assert total(cloud, bad_meter) == (60, 3), "the records around it counted once, though delivered again"
    assert total(cloud, neighbour) == (4, 1)
    bisects = [
        b.detail.split(": ")[1]
        for b in cloud.trace.find("bisect")
        if b.target == cloud.function("Processor").name
    ]
    assert bisects == ["5 -> 3 + 2", "3 -> 2 + 1"]
    [failure] = failures(cloud)
    assert set(failure) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3, "the attempt and 2 retries"
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == shard_of(cloud, bad_meter)
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison
    assert info["batchSize"] == 1
    assert info["streamArn"].endswith(f":stream/{cloud.outputs['StreamName']}")
    assert info["approximateArrivalOfFirstRecord"] == info["approximateArrivalOfLastRecord"]


def test_a_reading_under_another_meters_key_is_refused_not_counted(cloud):
    put(cloud, "mixed-1", 5, key="mixed-2")
    cloud.drain()
    assert total(cloud, "mixed-1") is None and total(cloud, "mixed-2") is None
    [failure] = failures(cloud)
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
