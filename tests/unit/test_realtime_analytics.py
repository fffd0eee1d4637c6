"""The window aggregator against moto: a window's aggregates equal those computed directly from its
records however Lambda splits them into invocations, a replayed final invocation writes and alerts
nothing twice, and a bad record is counted and handed to the failure queue without failing the window."""

from __future__ import annotations

import base64
import itertools
import json
from decimal import Decimal

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/metrics"
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z"}
RULES = [
    {"metric": "*.latency_ms", "statistic": "avg", "above": 1000, "below": None},
    {"metric": "orders", "statistic": "count", "above": None, "below": 2},
]


def record(sequence: int, data: dict | bytes, key: str | None = None) -> dict:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    metric = key or (data.get("metric", "m") if isinstance(data, dict) else "m")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": metric,
            "sequenceNumber": str(sequence),
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": 1767225600.0,
        },
        "eventSource": "aws:kinesis",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventSourceARN": STREAM_ARN,
    }


def invocation(
    records: list[dict], state: dict, *, final: bool = False, shard: str = "shardId-000000000000"
) -> dict:
    return {
        "Records": records,
        "window": WINDOW,
        "state": state,
        "shardId": shard,
        "eventSourceARN": STREAM_ARN,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


@pytest.fixture
def aggregator(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="metrics",
        KeySchema=[
            {"AttributeName": "metric", "KeyType": "HASH"},
            {"AttributeName": "window", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "metric", "AttributeType": "S"},
            {"AttributeName": "window", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = boto3.client("sqs")
    failures = sqs.create_queue(QueueName="failures")["QueueUrl"]
    alerts = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=alerts_arn, Attributes={"RawMessageDelivery": "true"}
    )
    return load_handler(
        "realtime_analytics",
        "aggregator",
        TABLE_NAME="metrics",
        TOPIC_ARN=topic,
        FAILURE_QUEUE_URL=failures,
        ANOMALY_RULES=json.dumps(RULES),
        RETENTION_SECONDS="86400",
    )


def run_window(aggregator, context, batches: list[list[dict]], shard: str = "shardId-000000000000") -> dict:
    """Invoke as Lambda does: each batch with the state the last answered, then the final invocation."""
    state: dict = {}
    for batch in batches:
        state = aggregator.handler(invocation(batch, state, shard=shard), context)["state"]
        state = json.loads(json.dumps(state))  # Lambda passes it on as JSON
    assert aggregator.handler(invocation([], state, final=True, shard=shard), context) == {}
    return state


def items() -> dict[str, dict]:
    found = boto3.client("dynamodb").scan(TableName="metrics")["Items"]
    from shared.dynamodb import from_attributes

    return {f"{i['metric']['S']}@{i['window']['S']}": from_attributes(i) for i in found}


def queue(name: str) -> list[dict]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


values = st.one_of(
    st.integers(-(10**11), 10**11),
    st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
)


SHARDS = itertools.count()


# One table for every example: each writes under a shard of its own.
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    readings=st.lists(
        st.tuples(st.sampled_from(["a.latency_ms", "b.errors", "orders"]), values), min_size=1, max_size=12
    ),
    cuts=st.lists(st.integers(1, 20), max_size=4),
)
def test_a_windows_aggregates_equal_those_computed_from_its_records_however_it_is_split(
    aggregator, lambda_context, readings, cuts
):
    shard = next(SHARDS)
    records = [
        record(n, {"metric": m, "value": float(v) if isinstance(v, Decimal) else v})
        for n, (m, v) in enumerate(readings)
    ]
    # Decimals travel as JSON numbers; what the producer meant is the text it sent.
    meant = [(m, Decimal(str(float(v))) if isinstance(v, Decimal) else Decimal(v)) for m, v in readings]
    bounds = sorted({0, len(records), *(c for c in cuts if c < len(records))})
    batches = [records[a:b] for a, b in itertools.pairwise(bounds)]
    run_window(aggregator, lambda_context, batches, shard=f"shardId-{shard}")

    stored = {k.split("@")[0]: v for k, v in items().items() if k.endswith(f"#shardId-{shard}")}
    expected = {}
    for metric in {m for m, _ in meant}:
        mine = [v for m, v in meant if m == metric]
        expected[metric] = (len(mine), sum(mine), min(mine), max(mine))
    assert {m: (i["count"], i["sum"], i["min"], i["max"]) for m, i in stored.items()} == expected
    for item in stored.values():
        assert item["window_start"] == WINDOW["start"] and item["window_end"] == WINDOW["end"]
        assert item["expires_at"] == 1767225660 + 86400


def test_an_anomaly_alerts_once_and_a_replayed_final_invocation_writes_and_alerts_nothing_twice(
    aggregator, lambda_context, emitted_metrics
):
    batches = [
        [record(1, {"metric": "api.latency_ms", "value": 900}), record(2, {"metric": "orders", "value": 1})],
        [
            record(3, {"metric": "api.latency_ms", "value": 1300}),
            record(4, {"metric": "db.latency_ms", "value": 5}),
        ],
    ]
    state = run_window(aggregator, lambda_context, batches)
    [latency_alert, orders_alert] = sorted(queue("alerts"), key=lambda a: a["metric"])
    assert latency_alert["metric"] == "api.latency_ms" and latency_alert["avg"] == "1100.000000"
    assert latency_alert["anomalies"] == [
        {"rule": "*.latency_ms", "statistic": "avg", "value": "1100.000000", "above": "1000"}
    ]
    assert orders_alert["anomalies"][0]["below"] == "2", "a count under its floor is an anomaly too"
    assert emitted_metrics()["WindowItemsWritten"] == 3

    aggregator.handler(invocation([], state, final=True), lambda_context)
    assert queue("alerts") == [], "the replay finds the alerts sent"
    assert emitted_metrics()["WindowItemsReplayed"] == 3
    stored = items()
    assert stored["api.latency_ms@2026-01-01T00:00:00Z#shardId-000000000000"]["count"] == 2, "not doubled"
    assert stored["db.latency_ms@2026-01-01T00:00:00Z#shardId-000000000000"].get("alert") is None
    assert {i.get("alert") for k, i in stored.items() if not k.startswith("db.")} == {"sent"}


def test_a_final_invocation_that_failed_to_alert_alerts_on_its_retry(aggregator, lambda_context, monkeypatch):
    state = aggregator.handler(
        invocation([record(1, {"metric": "api.latency_ms", "value": 5000})], {}), lambda_context
    )["state"]
    publish = aggregator.sns.publish

    def outage(**kwargs):
        raise aggregator.sns.exceptions.InternalErrorException(
            {"Error": {"Code": "InternalError", "Message": "down"}}, "Publish"
        )

    monkeypatch.setattr(aggregator.sns, "publish", outage)
    with pytest.raises(aggregator.sns.exceptions.InternalErrorException):
        aggregator.handler(invocation([], state, final=True), lambda_context)
    [item] = items().values()
    assert item["alert"] == "pending", "written, its alert owed"
    monkeypatch.setattr(aggregator.sns, "publish", publish)
    aggregator.handler(invocation([], state, final=True), lambda_context)
    [alerted] = queue("alerts")
    assert alerted["max"] == "5000"
    [item] = items().values()
    assert item["alert"] == "sent" and item["count"] == 1


BAD_RECORDS = [
    (b"{not json", "orders", "data: not valid JSON"),
    (b"\xff\xfe", "orders", "data: not UTF-8"),
    (
        b'{"metric": "orders", "value": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        "orders",
        "data: not valid JSON",
    ),
    (b'{"metric": "orders", "value": ' + b"9" * 5000 + b"}", "orders", "data: not valid JSON"),
    ([1, 2], "orders", "data: expected a JSON object"),
    ({"value": 1}, "orders", "metric: required"),
    ({"metric": "orders"}, "orders", "value: required, a number"),
    ({"metric": "orders", "value": True}, "orders", "value: required, a number"),
    ({"metric": "orders", "value": 1e13}, "orders", "value: must be less than"),
    ({"metric": "orders", "value": 0.0000001}, "orders", "value: at most 6 decimal places"),
    ({"metric": "orders", "value": 1, "unit": "x"}, "orders", "unit: unknown field"),
    ({"metric": "orders", "value": 1}, "other", "partitionKey: 'other' is not the record's metric"),
]


def test_bad_records_are_counted_and_handed_to_the_failure_queue_while_the_window_goes_on(
    aggregator, lambda_context, emitted_metrics
):
    raws = [data if isinstance(data, bytes) else json.dumps(data).encode() for data, _, _ in BAD_RECORDS]
    bad = [
        record(10 + n, raw, key=key)
        for n, (raw, (_, key, _)) in enumerate(zip(raws, BAD_RECORDS, strict=True))
    ]
    batch = [record(1, {"metric": "orders", "value": 3}), *bad, record(99, {"metric": "orders", "value": 4})]
    state = aggregator.handler(invocation(batch, {}), lambda_context)["state"]
    assert state["metrics"] == {"orders": [2, "7", "3", "4"]}, "the good records around them counted"

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="failures")["QueueUrl"]
    messages = []
    while found := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"])["rejected"] for m in found]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(found)],
        )
    by_sequence = {int(m["sequenceNumber"]): m for m in messages}
    assert sorted(by_sequence) == list(range(10, 10 + len(BAD_RECORDS))), "each bad record once"
    for n, (raw, (_, _, reason)) in enumerate(zip(raws, BAD_RECORDS, strict=True)):
        rejected = by_sequence[10 + n]
        assert rejected["reason"].startswith(reason), rejected["reason"]
        assert rejected["shardId"] == "shardId-000000000000"
        assert base64.b64decode(rejected["data"]) == raw and rejected["dataTruncated"] is False
    assert emitted_metrics()["RecordsRejected"] == len(BAD_RECORDS)


def test_a_window_holds_at_most_1000_metrics_and_its_state_stays_under_lambdas_1_mb(
    aggregator, lambda_context
):
    state: dict = {"metrics": {}}
    longest = "x" * (aggregator.MAX_METRIC_LENGTH - 4)
    for n in range(aggregator.MAX_METRICS):
        aggregator.add(state, f"{longest}{n:04d}", Decimal("-999999999999.999999"))
        aggregator.add(state, f"{longest}{n:04d}", Decimal("999999999999.999999"))
    assert len(json.dumps(state, separators=(",", ":")).encode()) < 1024 * 1024
    batch = [record(1, {"metric": "one.more", "value": 1})]
    answer = aggregator.handler(invocation(batch, state), lambda_context)["state"]
    assert "one.more" not in answer["metrics"]
    [message] = queue("failures")
    assert message["rejected"]["reason"] == "metric: this window already holds 1000 metrics"


def test_a_window_of_bad_records_only_writes_nothing(aggregator, lambda_context):
    run_window(aggregator, lambda_context, [[record(1, b"nope")]])
    assert items() == {}


# Each limit the aggregator promises (docs/patterns/realtime_analytics.md) at its edge and one past,
# the metrics it emits, and the failure queue's own refusal.


def test_a_threshold_is_broken_only_past_it_and_a_bad_rule_is_refused_naming_the_setting(aggregator):
    above = aggregator.Rule("*.latency_ms", "avg", above=1000, below=None)
    below = aggregator.Rule("orders", "count", above=None, below=2)
    assert above.broken_by("api.latency_ms", {"avg": Decimal(1000)}) is None, "at the threshold"
    assert above.broken_by("api.latency_ms", {"avg": Decimal("1000.000001")})["above"] == 1000
    assert above.broken_by("api.errors", {"avg": Decimal(10**6)}) is None, "a metric it does not match"
    assert below.broken_by("orders", {"count": 2}) is None, "at the floor"
    assert below.broken_by("orders", {"count": 1}) == {
        "rule": "orders",
        "statistic": "count",
        "value": 1,
        "below": 2,
    }
    for statistic, threshold in (("median", 1), ("avg", None)):
        with pytest.raises(ValueError, match="ANOMALY_RULES: bad rule for 'x'"):
            aggregator.Rule("x", statistic, above=threshold, below=None)


def failures() -> dict[int, dict]:
    """Every message of the failure queue, by the rejected record's sequence number."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="failures")["QueueUrl"]
    found: dict[int, dict] = {}
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            rejected = json.loads(m["Body"])["rejected"]
            found[int(rejected["sequenceNumber"])] = rejected
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
    return found


def test_names_and_values_are_taken_up_to_their_limits_and_refused_one_past(
    aggregator, lambda_context, emitted_metrics
):
    longest = "m" * 128
    taken = [
        record(1, {"metric": longest, "value": 1}),
        record(2, {"metric": "x", "value": 1}),
        record(3, b'{"metric": "big", "value": 999999999999.999999}', key="big"),
        record(4, b'{"metric": "big", "value": -999999999999.000001}', key="big"),
    ]
    refused = [
        record(10, {"metric": longest + "m", "value": 1}),
        record(11, {"metric": "", "value": 1}, key="x"),
        record(12, {"metric": "big", "value": 10**12}),
        record(13, {"metric": "big", "value": -(10**12)}),
        record(14, b'{"metric": "x", "value": 1.0000001}', key="x"),
        record(15, b'{"metric": "\\ud800", "value": 1}', key="\ud800"),
        record(16, {"metric": "x", "value": 1, "b" * 100: 1, "a" * 100: 1}),
        record(17, {"metric": "x", "value": 1}, key="k" * 100),
    ]
    state = aggregator.handler(invocation([*taken, *refused], {}), lambda_context)["state"]
    assert state["metrics"] == {
        longest: [1, "1", "1", "1"],
        "x": [1, "1", "1", "1"],
        "big": [2, "0.999998", "-999999999999.000001", "999999999999.999999"],
    }
    magnitude = "value: must be less than 1,000,000,000,000 in magnitude"
    reasons = {n: r["reason"] for n, r in failures().items()}
    assert reasons.pop(15).startswith("metric: not valid Unicode")
    assert reasons == {
        10: "metric: required, a string of 1 to 128 characters",
        11: "metric: required, a string of 1 to 128 characters",
        12: magnitude,
        13: magnitude,
        14: "value: at most 6 decimal places",
        16: f"{'a' * 64}: unknown field",
        17: f"partitionKey: {'k' * 64!r} is not the record's metric; a metric's values must share its "
        "partition key so one shard's window holds all of them",
    }
    assert emitted_metrics() == {"RecordsRejected": 8, "RecordsAggregated": 4}


def test_a_rejected_records_data_is_kept_up_to_64_kib_and_every_rejection_reaches_the_queue(
    aggregator, lambda_context
):
    at_limit, past = b"x" * (48 * 1024), b"y" * (48 * 1024 + 3)  # 64 KiB of base64, and 4 characters more
    bad = [record(n, b"{" * (n + 1)) for n in range(11)]  # more than one SendMessageBatch holds
    state = aggregator.handler(invocation([record(20, at_limit), record(21, past), *bad], {}), lambda_context)
    assert state == {"state": {"metrics": {}}}
    found = failures()
    assert sorted(found) == [*range(11), 20, 21]
    assert found[20]["dataTruncated"] is False and base64.b64decode(found[20]["data"]) == at_limit
    assert found[21]["dataTruncated"] is True and len(found[21]["data"]) == 64 * 1024
    assert base64.b64decode(found[21]["data"]) == past[: 48 * 1024]


def test_a_failure_queue_that_refuses_a_rejected_record_fails_the_batch(
    aggregator, lambda_context, monkeypatch
):
    def refuse(QueueUrl, Entries):
        return {
            "Successful": [],
            "Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "KMS.Throttling"} for e in Entries],
        }

    monkeypatch.setattr(aggregator.sqs, "send_message_batch", refuse)
    with pytest.raises(RuntimeError, match=r"the failure queue refused 2 rejected record\(s\)"):
        aggregator.handler(invocation([record(1, b"no"), record(2, b"nope")], {}), lambda_context)


def test_a_first_close_writes_and_alerts_with_its_metrics_and_an_alert_subject_fits_sns(
    aggregator, lambda_context, emitted_metrics, monkeypatch
):
    metric = "a" * 117 + ".latency_ms"
    published = []
    publish = aggregator.sns.publish

    def recorded(**kwargs):
        published.append(kwargs)
        return publish(**kwargs)

    monkeypatch.setattr(aggregator.sns, "publish", recorded)
    run_window(
        aggregator,
        lambda_context,
        [[record(1, {"metric": metric, "value": 2000}), record(2, {"metric": "db.errors", "value": 5})]],
    )
    assert emitted_metrics() == {"RecordsAggregated": 2, "AnomalyAlerts": 1, "WindowItemsWritten": 2}
    [sent] = published
    assert sent["Subject"] == f"Anomaly in {metric}"[:100] and len(sent["Subject"]) == 100
    assert sent["MessageAttributes"] == {"metric": {"DataType": "String", "StringValue": metric}}


def test_records_carried_by_a_final_invocation_count_in_the_window(aggregator, lambda_context):
    """Lambda's final invocation normally carries no records; one that does must not lose them."""
    shard = "shardId-000000000099"
    state = aggregator.handler(
        invocation([record(1, {"metric": "orders", "value": 2})], {}, shard=shard), lambda_context
    )["state"]
    aggregator.handler(
        invocation([record(2, {"metric": "orders", "value": 5})], state, final=True, shard=shard),
        lambda_context,
    )
    stored = items()[f"orders@2026-01-01T00:00:00Z#{shard}"]
    assert (stored["count"], stored["sum"], stored["max"]) == (2, 7, 5)
