"""Frugal Consumer: producers send orders to the queue with the SDK; a burst drains through a
consumer at two batches at a time into a store that takes 20 writes a second, never more in any
second; what the store throttles comes back and is stored later; bad messages reach the DLQ."""

from __future__ import annotations

import json
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from scenarios import Show

if TYPE_CHECKING:
    from localcloud import LocalCloud

#: Virtual seconds one store call lasts: the slower system's latency, which paces the consumer.
STORE_LATENCY = 1.0


def order(prefix: str, n: int) -> dict[str, Any]:
    return {"id": f"{prefix}-{n}", "customer": f"c-{n % 7}", "total_cents": 100 + n}


def produce(cloud: LocalCloud, *bodies: Any) -> None:
    """Send as a producer does, with the SDK and the stack's ``QueueUrl``, ten messages a call."""
    sqs, url = cloud.client("sqs"), cloud.outputs["QueueUrl"]
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": body if isinstance(body, str) else json.dumps(body)}
            for i, body in enumerate(bodies[start : start + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
        if failed:
            raise RuntimeError(f"the queue refused {failed}")


def stored_writes(cloud: LocalCloud) -> dict[str, int]:
    """Each write in the store and when the store took it (ms of the virtual clock)."""
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


def busiest_second(times_ms: list[int]) -> int:
    """The most writes in any one-second window [t, t + 1 s), wherever it starts."""
    times = sorted(times_ms)
    return max((bisect_left(times, t + 1000) - i for i, t in enumerate(times)), default=0)


def dead_letters(cloud: LocalCloud) -> list[str]:
    name = cloud.outputs["DeadLetterQueueUrl"].rsplit("/", 1)[1]
    return [m.body for m in cloud.service("sqs").moto_queue(name)._messages]


def take_capacity(cloud: LocalCloud, count: int) -> dict[str, Any]:
    """Write ``count`` orders straight to the store, as another of its clients (a batch job) would."""
    writes = [{"id": f"other-{n}", "customer": "batch-job", "total_cents": 1} for n in range(count)]
    answer = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["StoreFunctionName"], Payload=json.dumps({"writes": writes}).encode()
    )
    return json.loads(answer["Payload"].read())


def run(show: Show) -> None:
    cloud = show.cloud
    store = cloud.function("Pattern/Store")
    store.duration = STORE_LATENCY
    limit = int(store.environment["WRITES_PER_SECOND"])
    consumer = cloud.function("Pattern/Consumer")

    show.equal("another client of the store writes first", take_capacity(cloud, limit - 5)["throttled"], [])
    produce(cloud, *(order("burst", n) for n in range(100)))
    bad = ["{not json", json.dumps({"id": "bad-1", "customer": "c"})]
    produce(cloud, *bad)
    cloud.drain()

    writes = stored_writes(cloud)
    show.equal(
        "every order of the burst is stored once", len([k for k in writes if k.startswith("burst-")]), 100
    )
    show.equal(
        f"the store never takes more than {limit} writes in any second",
        busiest_second(list(writes.values())),
        limit,
    )
    deliveries = cloud.trace.find("deliver", target=consumer.name)
    throttled = [d for d in deliveries if d.outcome.endswith("failed item(s) return")]
    show.that(
        "what the store throttled returned to the queue", bool(throttled), [d.outcome for d in throttled]
    )
    peak = max(cloud.service("lambda").invoker.concurrency_at(consumer, d.at) for d in deliveries)
    show.that("the consumer never runs more than 2 batches at a time", peak <= 2, f"peak concurrency {peak}")
    show.equal(
        "bad messages reach the dead-letter queue after 5 receives", sorted(dead_letters(cloud)), sorted(bad)
    )
