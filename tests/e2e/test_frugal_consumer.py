"""The Frugal Consumer offline, as deployed: producers send orders to the queue with the SDK; a
burst of 500 drains through the consumer (two batches at a time) into the store without the store
ever taking more than its rate in any one second of virtual time; what the store throttles returns
to the queue through partial batch responses and is stored later; bad messages reach the
dead-letter queue after maxReceiveCount. One cloud for the module: each test has its own ids."""

from __future__ import annotations

import json
from bisect import bisect_left

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get

pytestmark = pytest.mark.e2e

#: Virtual seconds each store call lasts: the slower system's latency, which paces the consumer.
STORE_LATENCY = 1.0


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(
        load_stack(cloud_assembly.directory, get("frugal_consumer").stack_name), start=FIXED_START
    )
    cloud.start()
    cloud.function("Pattern/Store").duration = STORE_LATENCY
    yield cloud
    cloud.stop()


def order(prefix: str, n: int) -> dict:
    return {"id": f"{prefix}-{n}", "customer": f"c-{n % 7}", "total_cents": 100 + n}


def produce(cloud, *bodies) -> None:
    """Send as a producer does, with the SDK, ten messages a call."""
    sqs, url = cloud.client("sqs"), cloud.outputs["QueueUrl"]
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        entries = [
            {"Id": str(i), "MessageBody": b if isinstance(b, str) else json.dumps(b)}
            for i, b in enumerate(chunk)
        ]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def stored(cloud) -> dict[str, int]:
    """Each stored write's id and when the store wrote it (ms)."""
    dynamodb, found, start = cloud.client("dynamodb"), {}, {}
    while True:
        page = dynamodb.scan(
            TableName=cloud.outputs["TableName"],
            FilterExpression="attribute_exists(written_at)",
            ProjectionExpression="id, written_at",
            **start,
        )
        found.update({item["id"]["S"]: int(item["written_at"]["N"]) for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return found
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def of(writes: dict[str, int], prefix: str) -> dict[str, int]:
    return {key: at for key, at in writes.items() if key.startswith(f"{prefix}-")}


def busiest_second(times_ms: list[int]) -> int:
    """The most writes in any one-second window [t, t + 1 s), wherever it starts."""
    times = sorted(times_ms)
    return max(bisect_left(times, t + 1000) - i for i, t in enumerate(times))


def dead_letters(cloud) -> list[str]:
    name = cloud.outputs["DeadLetterQueueUrl"].rsplit("/", 1)[1]
    return [m.body for m in cloud.service("sqs").moto_queue(name)._messages]


def writes_per_second(cloud) -> int:
    return int(cloud.function("Pattern/Store").environment["WRITES_PER_SECOND"])


def test_a_burst_of_500_drains_without_the_store_exceeding_its_rate(cloud):
    limit = writes_per_second(cloud)
    started = cloud.clock.elapsed()
    # Another client of the store spends most of this second's capacity first.
    other = [{"id": f"other-{n}", "customer": "batch-job", "total_cents": 1} for n in range(limit - 5)]
    answer = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["StoreFunctionName"], Payload=json.dumps({"writes": other}).encode()
    )
    assert json.loads(answer["Payload"].read())["throttled"] == []
    produce(cloud, *(order("burst", n) for n in range(500)))
    cloud.drain()

    writes = stored(cloud)
    assert len(of(writes, "burst")) == 500, "every order is stored"
    assert busiest_second(list(writes.values())) == limit, "the store takes its rate and never more"

    consumer = cloud.function("Pattern/Consumer")
    deliveries = [d for d in cloud.trace.find("deliver", target=consumer.name) if d.at >= started]
    first_round = sorted(d.outcome for d in deliveries[:2])
    assert first_round == ["10 failed item(s) return", "5 failed item(s) return"], (
        "the store had room for 5: the rest of both batches was throttled and reported"
    )
    throttled = {m for d in deliveries[:2] for m in d.data["message_ids"]}
    again = [d for d in deliveries[2:] if throttled & set(d.data["message_ids"])]
    assert again and min(d.at for d in again) - started >= 180, "returned after the visibility timeout"
    assert all(d.outcome == "deleted" for d in deliveries[2:]), "and stored then"
    invoker = cloud.service("lambda").invoker
    assert max(invoker.concurrency_at(consumer, d.at) for d in deliveries) == 2, "maximum concurrency 2"
    assert len(deliveries) <= 500 // 10 + 4, "full batches"
    assert dead_letters(cloud) == []


def test_bad_messages_reach_the_dlq_after_max_receive_count_and_good_ones_are_stored(cloud):
    started = cloud.clock.elapsed()
    bad = [
        "{not json",
        json.dumps({"id": "bad-1", "customer": "c"}),
        json.dumps({**order("bad", 2), "id": "#x"}),
    ]
    produce(cloud, order("mixed", 1), *bad, order("mixed", 2))
    cloud.drain()
    assert set(of(stored(cloud), "mixed")) == {"mixed-1", "mixed-2"}
    assert sorted(dead_letters(cloud)) == sorted(bad)
    consumer = cloud.function("Pattern/Consumer")
    deliveries = [d for d in cloud.trace.find("deliver", target=consumer.name) if d.at >= started]
    assert len(deliveries) == 5, "received five times (maxReceiveCount), then dead-lettered"
    assert [d.outcome for d in deliveries] == ["3 failed item(s) return"] * 5
