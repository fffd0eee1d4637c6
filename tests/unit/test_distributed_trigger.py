"""The distributed trigger's handlers against moto: log payloads into schema-checked events published
with PublishBatch within its limits, malformed lines reported, and the payment service's log lines."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import itertools
import json
import sys

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.unit.conftest import FUNCTIONS

pytestmark = pytest.mark.unit

_spec = importlib.util.spec_from_file_location(
    "trigger_batches", FUNCTIONS / "distributed_trigger" / "batches.py"
)
BATCHES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(BATCHES)

GROUP, STREAM = "/aws/lambda/payments", "2026/01/01/[$LATEST]abc"


def line(payment_id: str, **fields) -> str:
    base = {
        "level": "WARNING",
        "event": "payment_declined",
        "payment_id": payment_id,
        "customer_id": "c-1",
        "amount_cents": 20_000,
        "currency": "EUR",
        "reason": "over_limit",
    }
    return json.dumps({**base, **fields})


def awslogs(*log_events: dict, message_type: str = "DATA_MESSAGE") -> dict:
    payload = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": GROUP,
        "logStream": STREAM,
        "subscriptionFilters": ["Declines"],
        "logEvents": list(log_events),
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


def log_event(n: int, message: str, **extra) -> dict:
    return {"id": f"{n:056d}", "timestamp": 1767225600123, "message": message, **extra}


# ----------------------------------------------------------------------------------------- batches


def entries_of(sizes: list[int]) -> list[dict]:
    return [{"Id": str(i), "Message": "x" * size} for i, size in enumerate(sizes)]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 100), max_size=40), st.sampled_from([100, 1000]))
def test_batches_keep_order_and_stay_within_ten_entries_and_the_byte_limit(sizes, limit):
    entries = entries_of(sizes)
    found = list(BATCHES.batches(entries, max_bytes=limit))
    assert [e for batch in found for e in batch] == entries
    assert all(1 <= len(batch) <= 10 for batch in found)
    assert all(sum(BATCHES.entry_size(e) for e in batch) <= limit for batch in found)
    for first, second in itertools.pairwise(found):
        full = len(first) == 10 or sum(map(BATCHES.entry_size, first)) + BATCHES.entry_size(second[0]) > limit
        assert full, "a batch is closed only when the next entry would not fit"


def test_an_entry_over_the_limit_alone_is_refused_and_attributes_count():
    with pytest.raises(BATCHES.EntryTooLarge, match="entry 0: 101 bytes"):
        list(BATCHES.batches(entries_of([101]), max_bytes=100))
    entry = {
        "Id": "a",
        "Message": "é",
        "MessageAttributes": {"t": {"DataType": "String", "StringValue": "ab"}},
    }
    assert BATCHES.entry_size(entry) == 2 + 1 + 6 + 2


# ----------------------------------------------------------------------------------------- trigger


@pytest.fixture(scope="module")
def trigger_module():
    """One moto and one load of the trigger for the module: each test reads the queues empty."""
    with mock_aws(config={"core": {"reset_boto3_session": False}}), pytest.MonkeyPatch.context() as patch:
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="events")["TopicArn"]
        buffer = sqs.create_queue(QueueName="buffer")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=buffer, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        failures = sqs.create_queue(QueueName="failures")["QueueUrl"]
        patch.setenv("TOPIC_ARN", topic)
        patch.setenv("FAILURE_QUEUE_URL", failures)
        patch.syspath_prepend(str(FUNCTIONS / "distributed_trigger"))
        for source in (FUNCTIONS / "distributed_trigger").glob("*.py"):
            sys.modules.pop(source.stem, None)
        module = importlib.import_module("trigger")
        module.queues = {"buffer": buffer, "failures": failures}
        yield module


@pytest.fixture
def trigger(trigger_module, monkeypatch):
    module, publish_batch = trigger_module, trigger_module.sns.publish_batch
    module.calls = []

    def counted(**kwargs):
        module.calls.append(len(kwargs["PublishBatchRequestEntries"]))
        return publish_batch(**kwargs)

    monkeypatch.setattr(module.sns, "publish_batch", counted)
    yield module
    assert messages(module, "buffer") == [] and messages(module, "failures") == [], "each test reads its own"


def messages(module, queue: str) -> list[dict]:
    sqs, found = module.sqs, []
    while batch := sqs.receive_message(
        QueueUrl=module.queues[queue], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            sqs.delete_message(QueueUrl=module.queues[queue], ReceiptHandle=message["ReceiptHandle"])
        found.extend(batch)
    return found


def test_log_events_become_payment_events_published_in_batches_of_ten(
    trigger, lambda_context, emitted_metrics
):
    events = [log_event(n, line(f"p-{n:02d}")) for n in range(12)]
    answer = trigger.handler(awslogs(*events), lambda_context)

    assert answer == {"published": 12, "rejected": 0}
    assert trigger.calls == [10, 2]
    received = messages(trigger, "buffer")
    bodies = sorted((json.loads(m["Body"]) for m in received), key=lambda e: e["payment"]["payment_id"])
    assert bodies[0] == {
        "event_id": f"{0:056d}",
        "event_type": "payment_declined",
        "occurred_at": "2026-01-01T00:00:00.123Z",
        "source": {"log_group": GROUP, "log_stream": STREAM},
        "payment": {
            "payment_id": "p-00",
            "customer_id": "c-1",
            "amount_cents": 20_000,
            "currency": "EUR",
            "reason": "over_limit",
        },
    }
    assert len(bodies) == 12
    assert {m["MessageAttributes"]["event_type"]["StringValue"] for m in received} == {"payment_declined"}
    assert emitted_metrics() == {"EventsPublished": 12, "LogEventsRejected": 0}


def test_a_malformed_line_is_reported_with_its_field_and_the_rest_published(trigger, lambda_context):
    events = [
        log_event(1, line("ok")),
        log_event(2, "payment declined for p-2"),
        log_event(3, line("bad", amount_cents="200.00", event="payment_refunded")),
        log_event(4, "[1, 2]"),
    ]
    assert trigger.handler(awslogs(*events), lambda_context) == {"published": 1, "rejected": 3}

    assert [json.loads(m["Body"])["payment"]["payment_id"] for m in messages(trigger, "buffer")] == ["ok"]
    reports = sorted(
        (json.loads(m["Body"]) for m in messages(trigger, "failures")), key=lambda r: r["log_event"]["id"]
    )
    assert [r["reason"] for r in reports] == [
        "message: not a JSON log line",
        'event_type: must be one of "payment_captured", "payment_declined"; '
        "payment.amount_cents: expected integer, got string",
        "message: not a JSON object",
    ]
    assert reports[0]["log_event"] == events[1] and reports[0]["log_group"] == GROUP


def test_a_line_the_parser_cannot_read_is_reported_and_the_rest_published(trigger, lambda_context):
    """Nesting deeper than Python's JSON parser follows raises RecursionError, and a digit that is
    not a decimal digit (``²``) passes ``str.isdigit`` but not ``int``: each is the line's fault, so
    it is reported alone while the batch's other lines are published."""
    deep = '{"event": "payment_declined", "payment_id": ' + "[" * 20_000 + "]" * 20_000 + "}"
    extracted = {"event": "payment_declined", "payment_id": "s-2", "customer_id": "c-2", "currency": "USD"}
    events = [
        log_event(1, line("ok")),
        log_event(2, deep),
        log_event(3, "payment_declined s-2 c-2 ² USD", extractedFields={**extracted, "amount_cents": "²"}),
        log_event(
            4, "payment_declined s-3 c-2 9… USD", extractedFields={**extracted, "amount_cents": "9" * 5000}
        ),
    ]
    assert trigger.handler(awslogs(*events), lambda_context) == {"published": 1, "rejected": 3}

    assert [json.loads(m["Body"])["payment"]["payment_id"] for m in messages(trigger, "buffer")] == ["ok"]
    reports = sorted(
        (json.loads(m["Body"]) for m in messages(trigger, "failures")), key=lambda r: r["log_event"]["id"]
    )
    assert [r["reason"] for r in reports] == [
        "message: not a JSON log line",
        "payment.amount_cents: expected integer, got string",
        "payment.amount_cents: expected integer, got string",
    ]


def test_a_space_delimited_filters_extracted_fields_make_the_event(trigger, lambda_context):
    fields = {
        "event": "payment_declined",
        "payment_id": "s-1",
        "customer_id": "c-2",
        "amount_cents": "15000",
        "currency": "USD",
    }
    event = log_event(5, "payment_declined s-1 c-2 15000 USD", extractedFields=fields)
    assert trigger.handler(awslogs(event), lambda_context)["published"] == 1
    [message] = messages(trigger, "buffer")
    assert json.loads(message["Body"])["payment"]["amount_cents"] == 15000, (
        "extracted as text, published as an integer"
    )


def test_a_control_message_publishes_nothing(trigger, lambda_context):
    assert trigger.handler(awslogs(message_type="CONTROL_MESSAGE"), lambda_context) == {
        "published": 0,
        "rejected": 0,
    }
    assert trigger.calls == []


@pytest.mark.parametrize(
    "event",
    [{}, {"awslogs": {"data": "not base64!"}}, {"awslogs": {"data": base64.b64encode(b"plain").decode()}}],
)
def test_what_is_no_logs_payload_fails_the_invocation(trigger, lambda_context, event):
    with pytest.raises(ValueError, match="not a CloudWatch Logs subscription payload"):
        trigger.handler(event, lambda_context)


def test_entries_sns_refuses_fail_the_invocation_so_lambda_retries_it(trigger, lambda_context, monkeypatch):
    refused = {"Successful": [], "Failed": [{"Id": "0", "Code": "InternalError", "SenderFault": False}]}
    monkeypatch.setattr(trigger.sns, "publish_batch", lambda **kwargs: refused)
    with pytest.raises(trigger.PublishFailed, match=r"SNS refused 1 of 1 entries \(0: InternalError\)"):
        trigger.handler(awslogs(log_event(1, line("p"))), lambda_context)
    assert messages(trigger, "failures") == [], "nothing reported before the publish held"


# ----------------------------------------------------------------------------------------- producer


@pytest.fixture
def producer(load_handler):
    return load_handler("distributed_trigger", "producer", DECLINE_ABOVE_CENTS="100000")


def logged(producer, caplog) -> list[dict]:
    """The lines the payment service logged that carry an ``event``, as its JSON formatter writes them."""
    formatter = producer.logger.registered_formatter
    return [json.loads(formatter.format(r)) for r in caplog.records if hasattr(r, "event")]


PAYMENT = {
    "payment_id": "p-1",
    "customer_id": "c-1",
    "amount_cents": 5000,
    "currency": "EUR",
    "card_last4": "4242",
}


@pytest.mark.parametrize(
    ("change", "outcome", "reason"),
    [
        ({}, "captured", None),
        ({"card_last4": "0002"}, "declined", "card_declined"),
        ({"amount_cents": 100_001}, "declined", "over_limit"),
    ],
)
def test_the_payment_service_logs_one_structured_line_per_outcome(
    producer, lambda_context, caplog, change, outcome, reason
):
    answer = producer.handler({**PAYMENT, **change}, lambda_context)
    assert answer["statusCode"] == 200 and answer["outcome"] == outcome
    [entry] = logged(producer, caplog)
    assert entry["event"] == f"payment_{outcome}" and entry.get("reason") == reason
    assert entry["amount_cents"] == {**PAYMENT, **change}["amount_cents"] and entry["customer_id"] == "c-1"


def test_a_bad_payment_request_is_answered_400_naming_the_fields(producer, lambda_context, caplog):
    answer = producer.handler({**PAYMENT, "amount_cents": "12", "currency": "euro"}, lambda_context)
    assert answer["statusCode"] == 400
    assert (
        answer["error"]["message"]
        == "amount_cents: expected integer, got string; currency: does not match ^[A-Z]{3}$"
    )
    assert logged(producer, caplog) == [], "nothing the trigger would select"
