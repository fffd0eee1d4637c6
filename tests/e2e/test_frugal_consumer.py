"""The Frugal Consumer offline, as deployed: producers send orders to the queue with the SDK; a
burst of 500 drains through the consumer (two batches at a time) into the store without the store
ever taking more than its rate in any one second of virtual time; what the store throttles returns
to the queue through partial batch responses and is stored later; bad messages reach the
dead-letter queue after maxReceiveCount. One cloud for the module: each test has its own ids."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get
from scenarios.frugal_consumer import (
    STORE_LATENCY,
    busiest_second,
    dead_letters,
    order,
    produce,
    take_capacity,
)
from scenarios.frugal_consumer import stored_writes as stored

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(
        load_stack(cloud_assembly.directory, get("frugal_consumer").stack_name), start=FIXED_START
    )
    cloud.start()
    cloud.function("Pattern/Store").duration = STORE_LATENCY
    yield cloud
    cloud.stop()


def of(writes: dict[str, int], prefix: str) -> dict[str, int]:
    return {key: at for key, at in writes.items() if key.startswith(f"{prefix}-")}


def writes_per_second(cloud) -> int:
    return int(cloud.function("Pattern/Store").environment["WRITES_PER_SECOND"])


def test_a_burst_of_500_drains_without_the_store_exceeding_its_rate(cloud):
    limit = writes_per_second(cloud)
    started = cloud.clock.elapsed()
    # Another client of the store spends most of this second's capacity first.
    assert take_capacity(cloud, limit - 5)["throttled"] == []
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
