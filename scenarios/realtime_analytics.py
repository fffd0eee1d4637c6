"""Real-time analytics: metric values aggregated per one-minute tumbling window over several
invocations, each window's items equal to the aggregates computed from the values, one alert for
an anomalous window, a bad record set aside while its window goes on, and a final invocation
replayed after an alert outage that counts and alerts once."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from scenarios import Show
from shared.dynamodb import from_attributes

WINDOW = 60


def run(show: Show) -> None:
    cloud = show.cloud
    kinesis, stream = cloud.client("kinesis"), cloud.outputs["StreamName"]
    topic = cloud.outputs["AlertTopicArn"].rsplit(":", 1)[-1]
    sent: dict[tuple[str, str], list[Decimal]] = defaultdict(list)

    def put(metric: str, value: float | None = None, *, data: bytes | None = None) -> str:
        body = data if data is not None else json.dumps({"metric": metric, "value": value}).encode()
        answer = kinesis.put_record(StreamName=stream, Data=body, PartitionKey=metric)
        if data is None:
            seconds = int(cloud.clock.now().timestamp())
            start = datetime.fromtimestamp(seconds - seconds % WINDOW, UTC).strftime("%H:%M")
            sent[(metric, start)].append(Decimal(str(value)))
        return answer["SequenceNumber"]

    def windows() -> dict[tuple[str, str], dict]:
        items = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
        return {(i["metric"], i["window_start"][11:16]): i for i in map(from_attributes, items)}

    def alerts() -> int:
        return len(cloud.trace.find("send", target=f"sns:{topic}"))

    for values in ([120, 180, 95], [210, 150.5], [1400, 1650, 900], [1200]):
        for value in values:
            put("checkout.latency_ms", value)
        put("checkout.orders", len(values))
        cloud.advance(WINDOW / 2)
    cloud.drain()
    stored = windows()
    show.equal(
        "each window's count, sum, min and max equal those computed from the values put in it",
        {key: (i["count"], i["sum"], i["min"], i["max"]) for key, i in stored.items()},
        {key: (len(v), sum(v), min(v), max(v)) for key, v in sent.items()},
    )
    invocations = [d for d in cloud.trace.find("deliver", target=cloud.function("Aggregator").name)]
    show.that(
        "each window took several invocations, its state carried from one to the next",
        len([d for d in invocations if "final" not in d.detail]) > len(stored),
        [d.detail for d in invocations],
    )
    anomalous = sorted(
        f"{m} {w}" for (m, w), v in sent.items() if m.endswith(".latency_ms") and sum(v) / len(v) > 1000
    )
    show.equal(
        "the window whose average latency is over 1000 ms raised one alert, not one per invocation",
        (alerts(), sorted(f"{m} {w}" for (m, w), i in stored.items() if i.get("alert") == "sent")),
        (1, anomalous),
    )

    put("checkout.orders", 2)
    bad = put("checkout.orders", data=b"{not json")
    put("checkout.orders", 5)
    cloud.drain()
    messages = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["FailureQueueUrl"])
    rejected = [json.loads(m["Body"])["rejected"] for m in messages.get("Messages", [])]
    show.equal(
        "a record that is not JSON reaches the failure queue with its reason",
        [(r["sequenceNumber"], r["reason"].split(" (")[0]) for r in rejected],
        [(bad, "data: not valid JSON")],
    )
    last = max(w for m, w in sent if m == "checkout.orders")
    show.equal(
        "and its window goes on with the good records",
        (windows()[("checkout.orders", last)]["count"], windows()[("checkout.orders", last)]["sum"]),
        (len(sent[("checkout.orders", last)]), sum(sent[("checkout.orders", last)])),
    )

    kms, key = cloud.client("kms"), cloud.physical_id("Pattern/AlertTopicKey")
    before = alerts()
    kms.disable_key(KeyId=key)
    put("payments.latency_ms", 4000)
    put("payments.latency_ms", 2000)
    now = cloud.clock.now().timestamp()
    cloud.advance(WINDOW - now % WINDOW + 0.5)  # just past the window's end: its final invocation
    kms.enable_key(KeyId=key)
    cloud.drain()
    finals = [
        d.outcome
        for d in cloud.trace.find("deliver", target=cloud.function("Aggregator").name)
        if "final" in d.detail
    ]
    [payments] = [i for (m, _), i in windows().items() if m == "payments.latency_ms"]
    show.equal(
        "with the topic's key disabled the final invocation fails after writing; its replay counts "
        "nothing twice and alerts once",
        (finals[-2:], payments["count"], payments["sum"], payments["alert"], alerts() - before),
        (["function error", "ok"], 2, Decimal(6000), "sent", 1),
    )
