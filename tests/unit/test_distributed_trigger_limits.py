"""The distributed trigger at SNS's PublishBatch limits and the edges of a Logs payload, against moto:
an entry of exactly 256 KiB goes alone and one byte more is refused, twenty-one entries are three
calls, a rejected log line is reported whole and counted, milliseconds are kept in the event's time,
and a payload that is not a subscription's is refused naming why."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tests.unit import test_distributed_trigger as row
from tests.unit.test_distributed_trigger import awslogs, line, log_event, messages

#: The row's fixtures: one moto and one load of the trigger for the module.
trigger_module, trigger = row.trigger_module, row.trigger

pytestmark = pytest.mark.unit

LIMIT = 256 * 1024


@pytest.fixture
def batches(load_handler):
    """Imported as the trigger imports it (the row's own file loads a private copy)."""
    return load_handler("distributed_trigger", "batches")


def test_publish_batch_limits_are_snss_ten_entries_and_256_kib(batches):
    assert (batches.MAX_ENTRIES, batches.MAX_BATCH_BYTES) == (10, LIMIT)
    whole = {"Id": "0", "Message": "x" * LIMIT}
    assert list(batches.batches([whole])) == [[whole]]
    with pytest.raises(
        batches.EntryTooLarge, match=rf"^entry 1: {LIMIT + 1} bytes, over SNS's {LIMIT} per batch$"
    ):
        list(batches.batches([whole, {"Id": "1", "Message": "x" * (LIMIT + 1)}]))
    halves = [{"Id": str(i), "Message": "x" * (LIMIT // 2)} for i in range(3)]
    assert [len(b) for b in batches.batches(halves)] == [2, 1], "two halves fill a batch exactly"
    small = [{"Id": str(i), "Message": "x"} for i in range(21)]
    assert [len(b) for b in batches.batches(small)] == [10, 10, 1]
    assert list(batches.batches([])) == []


def test_a_batch_holds_exactly_the_limit_whichever_batch_it_is(batches):
    half, byte = "x" * (LIMIT // 2), "x"
    sizes = [half, half, byte, half, half, byte]
    entries = [{"Id": str(i), "Message": m} for i, m in enumerate(sizes)]
    assert [[e["Id"] for e in b] for b in batches.batches(entries)] == [["0", "1"], ["2", "3"], ["4", "5"]]
    halves = [{"Id": str(i), "Message": half} for i in range(4)]
    assert [[e["Id"] for e in b] for b in batches.batches(halves)] == [["0", "1"], ["2", "3"]]


def test_each_attribute_counts_its_name_type_and_value(batches):
    """SNS's MessageAttributeValue: "all parts of the message attribute, including name, type, and
    value, are included in the message size restriction" -- a binary value's bytes too."""
    entry = {
        "Id": "a",
        "Message": "é",
        "MessageAttributes": {
            "t": {"DataType": "String", "StringValue": "ab"},
            "n": {"DataType": "Binary", "BinaryValue": b"zzz"},
        },
    }
    assert batches.entry_size(entry) == 2 + (1 + 6 + 2) + (1 + 6 + 3)


def test_extracted_digits_become_integers_only_in_integer_fields(trigger, lambda_context):
    """First of the module's trigger tests: the schema's integer fields are found at import, which
    the mutation tool credits to the first test that loaded the trigger."""
    fields = {
        "event": "payment_captured",
        "payment_id": "123",
        "customer_id": "456",
        "amount_cents": "789",
        "currency": "USD",
    }
    assert (
        trigger.handler(awslogs(log_event(4, "x", extractedFields=fields)), lambda_context)["published"] == 1
    )
    [message] = messages(trigger, "buffer")
    assert json.loads(message["Body"])["payment"] == {
        "payment_id": "123",
        "customer_id": "456",
        "amount_cents": 789,
        "currency": "USD",
    }


def test_published_and_rejected_log_events_are_counted_apart(trigger, lambda_context, emitted_metrics):
    answer = trigger.handler(awslogs(log_event(0, line("ok")), log_event(1, "not json")), lambda_context)
    assert answer == {"published": 1, "rejected": 1}
    assert emitted_metrics() == {"EventsPublished": 1, "LogEventsRejected": 1}
    assert len(messages(trigger, "buffer")) == 1
    [report] = [json.loads(m["Body"]) for m in messages(trigger, "failures")]
    assert report == {
        "reason": "message: not a JSON log line",
        "log_group": "/aws/lambda/payments",
        "log_stream": "2026/01/01/[$LATEST]abc",
        "log_event": {"id": f"{1:056d}", "timestamp": 1767225600123, "message": "not json"},
    }


def test_the_events_time_keeps_the_log_events_milliseconds(trigger, lambda_context):
    event = {**log_event(2, line("ms")), "timestamp": 1767225600007}
    trigger.handler(awslogs(event), lambda_context)
    [message] = messages(trigger, "buffer")
    assert json.loads(message["Body"])["occurred_at"] == "2026-01-01T00:00:00.007Z"


def test_extracted_fields_that_are_not_digits_stay_text_and_are_named(trigger, lambda_context):
    fields = {
        "event": "payment_declined",
        "payment_id": "s-1",
        "customer_id": "c-2",
        "amount_cents": "1.5",
        "currency": "USD",
    }
    answer = trigger.handler(awslogs(log_event(3, "x", extractedFields=fields)), lambda_context)
    assert answer == {"published": 0, "rejected": 1}
    [report] = [json.loads(m["Body"]) for m in messages(trigger, "failures")]
    assert report["reason"] == "payment.amount_cents: expected integer, got string"


def encoded(payload) -> dict:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


@pytest.mark.parametrize("payload", [[1], {"messageType": "OTHER"}, {"logEvents": []}])
def test_a_payload_without_a_known_message_type_fails_the_invocation(trigger, lambda_context, payload):
    with pytest.raises(ValueError, match=r"^not a CloudWatch Logs subscription payload: no messageType$"):
        trigger.handler(encoded(payload), lambda_context)
    assert trigger.calls == []


def test_a_millisecond_of_999_stays_three_digits(trigger, lambda_context):
    trigger.handler(awslogs({**log_event(5, line("late")), "timestamp": 1767225600999}), lambda_context)
    [message] = messages(trigger, "buffer")
    assert json.loads(message["Body"])["occurred_at"] == "2026-01-01T00:00:00.999Z"


def test_text_beyond_ascii_is_published_as_it_is_so_it_counts_once_per_byte(trigger, lambda_context):
    trigger.handler(awslogs(log_event(6, line("p-é", customer_id="Zoë"))), lambda_context)
    [message] = messages(trigger, "buffer")
    assert '"customer_id":"Zoë"' in message["Body"] and '"payment_id":"p-é"' in message["Body"]


def test_data_with_characters_outside_base64_is_refused_not_skipped(trigger, lambda_context):
    good = awslogs(log_event(7, line("p")))["awslogs"]["data"]
    with pytest.raises(ValueError, match=r"^not a CloudWatch Logs subscription payload: Error\("):
        trigger.handler({"awslogs": {"data": good[:8] + "!" + good[8:]}}, lambda_context)
    assert trigger.calls == []


def test_the_refusal_quotes_at_most_300_characters_of_the_error(trigger):
    data = base64.b64encode(gzip.compress(b"\xff" * 400)).decode()
    with pytest.raises(ValueError) as refused:
        trigger.decode({"awslogs": {"data": data}})
    message = str(refused.value)
    assert message.startswith("not a CloudWatch Logs subscription payload: UnicodeDecodeError(")
    assert len(message) == 300


@pytest.fixture
def producer(load_handler):
    return load_handler("distributed_trigger", "producer", DECLINE_ABOVE_CENTS="100000")


PAYMENT = {
    "payment_id": "p-1",
    "customer_id": "c-1",
    "amount_cents": 5000,
    "currency": "EUR",
    "card_last4": "4242",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payment_id": ""}, "payment_id: shorter than 1 characters"),
        ({"payment_id": "p" * 65}, "payment_id: longer than 64 characters"),
        ({"customer_id": ""}, "customer_id: shorter than 1 characters"),
        ({"customer_id": "c" * 65}, "customer_id: longer than 64 characters"),
        ({"amount_cents": 0}, "amount_cents: less than 1"),
        ({"amount_cents": 100_000_001}, "amount_cents: more than 100000000"),
        ({"note": "x"}, "note: not a field of this message"),
    ],
)
def test_a_payment_request_past_its_bounds_is_a_400_naming_the_field(
    producer, lambda_context, change, message
):
    answer = producer.handler({**PAYMENT, **change}, lambda_context)
    assert answer == {"statusCode": 400, "error": {"code": "InvalidPayment", "message": message}}


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"payment_id": "p", "customer_id": "c"}, "captured"),
        ({"payment_id": "p" * 64, "customer_id": "c" * 64}, "captured"),
        ({"amount_cents": 1}, "captured"),
        ({"amount_cents": 100_000}, "captured"),
        ({"amount_cents": 100_001}, "declined"),
        ({"amount_cents": 100_000_000}, "declined"),
    ],
)
def test_a_payment_at_its_bounds_is_decided_and_the_limit_itself_is_captured(
    producer, lambda_context, change, outcome
):
    answer = producer.handler({**PAYMENT, **change}, lambda_context)
    assert (answer["statusCode"], answer["outcome"]) == (200, outcome)
