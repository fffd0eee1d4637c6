"""Real-time analytics offline, as deployed: metric values put on the stream over several
invocations of each tumbling window end as one item per metric and window whose aggregates equal
those computed directly from the values; an anomaly publishes one alert, not one per invocation,
also when the window's final invocation is replayed after an outage; a bad record goes to the
failure queue and the window goes on. One cloud for the module: each test has metrics of its own."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get
from shared.dynamodb import from_attributes

pytestmark = pytest.mark.e2e

WINDOW = 60


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(
        load_stack(cloud_assembly.directory, get("realtime_analytics").stack_name), start=FIXED_START
    )
    cloud.start()
    yield cloud
    cloud.stop()


class Producer:
    """Puts values and remembers each one's window, to compute the aggregates directly."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.sent: dict[tuple[str, int], list[Decimal]] = defaultdict(list)

    def put(self, metric: str, value, *, data: bytes | None = None, key: str | None = None) -> str:
        answer = self.cloud.client("kinesis").put_record(
            StreamName=self.cloud.outputs["StreamName"],
            Data=data if data is not None else json.dumps({"metric": metric, "value": value}).encode(),
            PartitionKey=key or metric,
        )
        if data is None:
            arrived = int(self.cloud.clock.now().timestamp() - FIXED_START.timestamp())
            self.sent[(metric, arrived - arrived % WINDOW)].append(Decimal(str(value)))
        return answer["SequenceNumber"]

    def expected(self) -> dict[tuple[str, int], tuple]:
        return {key: (len(v), sum(v), min(v), max(v)) for key, v in self.sent.items()}


def stored(cloud: LocalCloud, prefix: str) -> dict[tuple[str, int], dict]:
    """The table's window items of metrics starting with ``prefix``, by metric and window start."""
    found = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    items = [from_attributes(i) for i in found if i["metric"]["S"].startswith(prefix)]
    start = FIXED_START.timestamp()
    return {(i["metric"], int(_seconds(i["window_start"]) - start)): i for i in items}


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def alerts(cloud: LocalCloud) -> list:
    topic = cloud.outputs["AlertTopicArn"].rsplit(":", 1)[-1]
    return [s for s in cloud.trace.find("send", target=f"sns:{topic}")]


def aggregator_calls(cloud: LocalCloud) -> list:
    return cloud.trace.find("deliver", target=cloud.function("Aggregator").name)


def failures(cloud: LocalCloud) -> list[dict]:
    answer = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["FailureQueueUrl"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_each_windows_aggregates_equal_those_of_its_values_and_an_anomaly_alerts_once(cloud):
    producer = Producer(cloud)
    alerted, calls = len(alerts(cloud)), len(aggregator_calls(cloud))
    latencies = [[120, 180, 95], [210, 150.5], [1400, 1650, 900], [1200]]  # 4 puts of 15 s: 2 windows
    for step, values in enumerate(latencies):
        for value in values:
            producer.put("t1.checkout.latency_ms", value)
            producer.put("t1.search.latency_ms", value / 10)
        producer.put("t1.orders", step + 1)
        cloud.advance(WINDOW / 2)
    cloud.drain()

    items = stored(cloud, "t1.")
    assert {k: (i["count"], i["sum"], i["min"], i["max"]) for k, i in items.items()} == producer.expected()
    assert len(items) == 6, "three metrics, two windows each"
    [anomaly] = [i for i in items.values() if i.get("alert")]
    assert (anomaly["metric"], anomaly["alert"], anomaly["avg"]) == (
        "t1.checkout.latency_ms",
        "sent",
        Decimal("1287.5"),
    )
    assert len(alerts(cloud)) - alerted == 1, "one alert for the one anomalous window"
    assert len(aggregator_calls(cloud)) - calls > len(items) // 3 * 2, (
        "though each window had several invocations"
    )


def test_a_bad_record_goes_to_the_failure_queue_and_the_window_goes_on(cloud):
    producer = Producer(cloud)
    producer.put("t2.orders", 3)
    not_json = producer.put("t2.orders", None, data=b"{nope")
    missing = producer.put("t2.orders", None, data=json.dumps({"metric": "t2.orders"}).encode())
    producer.put("t2.orders", 4)
    cloud.drain()

    assert {k: (i["count"], i["sum"]) for k, i in stored(cloud, "t2.").items()} == {
        key: (2, Decimal(7)) for key in producer.sent
    }
    reasons = {f["rejected"]["sequenceNumber"]: f["rejected"]["reason"] for f in failures(cloud)}
    assert reasons.keys() == {not_json, missing}
    assert reasons[missing] == "value: required, a number"
    assert reasons[not_json].startswith("data: not valid JSON")
    assert cloud.trace.find("bisect") == [], "no batch failed"


def test_a_final_invocation_replayed_after_an_alert_outage_counts_once_and_alerts_once(cloud):
    producer = Producer(cloud)
    cloud.advance(WINDOW - cloud.clock.now().timestamp() % WINDOW)  # a fresh window (aligned on the epoch)
    producer.put("t3.pay.latency_ms", 4000)
    producer.put("t3.pay.latency_ms", 2000)
    alerted = len(alerts(cloud))
    kms = cloud.client("kms")
    key = cloud.physical_id("Pattern/AlertTopicKey")
    kms.disable_key(KeyId=key)
    try:
        cloud.advance(WINDOW + 0.5)
        [item] = stored(cloud, "t3.").values()
        assert item["alert"] == "pending", "written, then SNS refused the alert"
    finally:
        kms.enable_key(KeyId=key)
    cloud.drain()

    [item] = stored(cloud, "t3.").values()
    assert (item["count"], item["sum"], item["alert"]) == (2, Decimal(6000), "sent"), "not counted twice"
    assert len(alerts(cloud)) - alerted == 1
    finals = [c.outcome for c in aggregator_calls(cloud) if "final" in c.detail][-2:]
    assert finals == ["function error", "ok"], "the final invocation failed once and was replayed"
