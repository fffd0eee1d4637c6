"""The distributed trigger offline: the payment service's matching log line reaches every subscriber's
queue as a payment event and a non-matching one reaches none; a burst of lines arrives once each
(PublishBatch in tens, see the unit tests); a malformed line is reported while the rest go on; a failed publish is retried by Lambda and
then kept, with the error, in the failure queue.

One cloud for the module: each test reads every message of the queues, keeping its own by id."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

SUBSCRIBERS = ("FraudReview", "CustomerCare")
TRIGGER = "Pattern/Trigger"


@pytest.fixture(scope="module")
def shared_cloud(cloud_assembly):
    cloud = LocalCloud(load_stack(cloud_assembly.directory, "DistributedTriggerStack"), start=FIXED_START)
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture
def cloud(shared_cloud, request):
    request.node.local_clouds = [shared_cloud]  # its trace in the report of a failing test
    return shared_cloud


def trigger_invokes(cloud) -> list:
    return cloud.trace.find("invoke", target=cloud.function(TRIGGER).name)


def pay(cloud, payment_id: str, amount_cents: int, card_last4: str = "4242") -> dict:
    request = {
        "payment_id": payment_id,
        "customer_id": "c-1",
        "amount_cents": amount_cents,
        "currency": "EUR",
        "card_last4": card_last4,
    }
    return cloud.invoke("Pattern/Producer", request)["Payload"]


def take_all(cloud, output: str) -> list[dict]:
    """Every message of the queue, received and deleted."""
    sqs, url, taken = cloud.client("sqs"), cloud.outputs[output], []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return taken
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken.extend(messages)


def publishes(cloud) -> list:
    trigger = cloud.function(TRIGGER).name
    return [s for s in cloud.trace.find("send") if s.source == trigger]


def events_in(cloud, subscriber: str) -> list[dict]:
    return [json.loads(m["Body"]) for m in take_all(cloud, f"{subscriber}QueueUrl")]


def put_lines(cloud, stream: str, lines: list[str]) -> None:
    """Lines in the producer's log group, as a version of the service that logs differently would."""
    logs, group = cloud.client("logs"), cloud.outputs["LogGroupName"]
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(cloud.clock.now().timestamp() * 1000)
    events = [{"timestamp": now, "message": line} for line in lines]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def declined_line(payment_id: str, amount_cents: int = 20_000, drop: tuple[str, ...] = (), **fields) -> str:
    line = {
        "level": "WARNING",
        "message": "payment declined",
        "event": "payment_declined",
        "payment_id": payment_id,
        "customer_id": "c-9",
        "amount_cents": amount_cents,
        "currency": "EUR",
        "reason": "card_declined",
    }
    return json.dumps({k: v for k, v in {**line, **fields}.items() if k not in drop})


def test_a_matching_line_reaches_every_subscriber_and_a_non_matching_one_none(cloud):
    invoked = len(trigger_invokes(cloud))
    assert pay(cloud, "m-declined", 25_000, card_last4="0002")["outcome"] == "declined"
    assert pay(cloud, "m-captured", 25_000)["outcome"] == "captured"
    assert pay(cloud, "m-small", 5_000, card_last4="0002")["outcome"] == "declined"
    cloud.drain()

    assert len(trigger_invokes(cloud)) == invoked + 1, "only the matching line"
    for subscriber in SUBSCRIBERS:
        [event] = events_in(cloud, subscriber)
        assert event["event_type"] == "payment_declined"
        assert event["payment"] == {
            "payment_id": "m-declined",
            "customer_id": "c-1",
            "amount_cents": 25_000,
            "currency": "EUR",
            "reason": "card_declined",
        }
        assert event["source"]["log_group"] == cloud.outputs["LogGroupName"]
        assert len(event["event_id"]) == 56 and event["occurred_at"] == "2026-01-01T00:00:00.000Z"
        assert take_all(cloud, f"{subscriber}DeadLetterQueueUrl") == []
    assert take_all(cloud, "FailureQueueUrl") == []


def test_a_burst_of_lines_reaches_every_subscriber_once_each(cloud):
    sent = len(publishes(cloud))
    put_lines(cloud, "burst", [declined_line(f"b-{n:02d}") for n in range(12)])
    cloud.drain()

    for subscriber in SUBSCRIBERS:
        events = events_in(cloud, subscriber)
        assert sorted(e["payment"]["payment_id"] for e in events) == [f"b-{n:02d}" for n in range(12)]
        assert len({e["event_id"] for e in events}) == 12
    assert len(publishes(cloud)) - sent == 12, "one message per event"


def test_a_malformed_line_is_reported_and_the_others_published(cloud):
    lines = [
        declined_line("x-good"),
        declined_line("x-bad", drop=("customer_id",)),
        declined_line("x-worse", amount_cents=30_000, currency="euro"),
    ]
    invoked = len(trigger_invokes(cloud))
    put_lines(cloud, "malformed", lines)
    cloud.drain()

    for subscriber in SUBSCRIBERS:
        assert [e["payment"]["payment_id"] for e in events_in(cloud, subscriber)] == ["x-good"]
    reports = sorted(
        (json.loads(m["Body"]) for m in take_all(cloud, "FailureQueueUrl")),
        key=lambda r: r["log_event"]["message"],
    )
    assert [r["reason"] for r in reports] == [
        "payment.customer_id: required",
        "payment.currency: does not match ^[A-Z]{3}$",
    ]
    assert reports[0]["log_group"] == cloud.outputs["LogGroupName"]
    assert json.loads(reports[0]["log_event"]["message"])["payment_id"] == "x-bad"
    assert [s.outcome for s in trigger_invokes(cloud)[invoked:]] == ["ok"], "reported, not retried"


def test_a_failed_publish_is_retried_then_kept_with_its_error(cloud):
    """The topic's key is disabled: SNS refuses PublishBatch, Lambda retries twice, then sends the
    invocation record (the log payload and the error) to the failure queue."""
    kms = cloud.client("kms")
    key_id = cloud.physical_id("Pattern/TopicKey")
    kms.disable_key(KeyId=key_id)
    try:
        pay(cloud, "f-declined", 40_000, card_last4="0002")
        cloud.drain()
    finally:
        kms.enable_key(KeyId=key_id)

    for subscriber in SUBSCRIBERS:
        assert events_in(cloud, subscriber) == []
    [failure] = [json.loads(m["Body"]) for m in take_all(cloud, "FailureQueueUrl")]
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert "KMSDisabled" in json.dumps(failure["responsePayload"])
    assert set(failure["requestPayload"]) == {"awslogs"}, "the log payload, to replay"
