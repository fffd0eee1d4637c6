"""shared/ledger.py's contract at its edges, without a queue: what parse_entry takes and refuses (SQS's
1-to-128-character ids, the amount's bounds, the group that must be the account), and what the
publisher sends (a sorted, compact body, so content-based deduplication sees one entry as one)."""

from __future__ import annotations

import json

import pytest

from shared.ledger import MAX_AMOUNT_CENTS, LedgerPublisher, parse_entry
from shared.validation import InvalidInput

pytestmark = pytest.mark.unit

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/ledger.fifo"


def body(**changes) -> str:
    return json.dumps({"event_id": "e-1", "account_id": "acc-1", "amount_cents": 5, **changes})


def refused(text: str, group: str | None = None) -> str:
    with pytest.raises(InvalidInput) as refusal:
        parse_entry(text, group)
    return str(refusal.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "e" * 128, "account_id": "a" * 128},
        {"event_id": "e", "account_id": "a"},
        {"amount_cents": MAX_AMOUNT_CENTS},
        {"amount_cents": -MAX_AMOUNT_CENTS},
        {"amount_cents": 1},
        {"amount_cents": -1},
        {"memo": "m" * 256},
    ],
)
def test_entries_at_the_bounds_are_taken(changes):
    assert parse_entry(body(**changes)) == json.loads(body(**changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_id": "e" * 129}, "event_id: longer than 128"),
        ({"account_id": "a" * 129}, "account_id: longer than 128"),
        ({"event_id": ""}, "event_id: shorter than 1"),
        ({"account_id": ""}, "account_id: shorter than 1"),
        (
            {"account_id": "a b", "event_id": "é"},
            "event_id: 1 to 128 letters, digits or punctuation; "
            "account_id: 1 to 128 letters, digits or punctuation",
        ),
        ({"amount_cents": 0}, "amount_cents: must not be 0"),
        ({"amount_cents": MAX_AMOUNT_CENTS + 1}, "amount_cents: greater than 1000000000000"),
        ({"amount_cents": -MAX_AMOUNT_CENTS - 1}, "amount_cents: less than -1000000000000"),
        ({"memo": "m" * 257}, "memo: longer than 256"),
    ],
)
def test_entries_past_the_bounds_are_refused_naming_the_field(changes, message):
    assert refused(body(**changes)) == message


def test_a_body_that_is_no_entry_is_refused_with_the_reason():
    assert refused("{not json") == "body: not valid JSON"
    assert refused("[]") == "body: expected a JSON object, got array"


def test_the_group_must_be_the_entrys_account_when_given():
    assert parse_entry(body(), "acc-1")["account_id"] == "acc-1"
    assert parse_entry(body())["account_id"] == "acc-1", "no group to compare: the publisher's own check"
    assert refused(body(), "acc-2") == "MessageGroupId: 'acc-2' is not the entry's account_id"


class Recorder:
    """Records send_message calls and answers as SQS does."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send_message(self, **params):
        self.sent.append(params)
        return {"MessageId": f"m-{len(self.sent)}"}


def test_the_publisher_sends_a_sorted_compact_body_grouped_by_account_through_its_client():
    client = Recorder()
    ledger = LedgerPublisher(URL, client=client)
    entry = {"amount_cents": -5, "event_id": "e-2", "account_id": "acc-1", "memo": "rent"}
    assert ledger.publish(entry) == "m-1"
    assert ledger.publish(dict(reversed(entry.items())), deduplication_id="e-2") == "m-2"
    expected_body = '{"account_id":"acc-1","amount_cents":-5,"event_id":"e-2","memo":"rent"}'
    assert client.sent == [
        {"QueueUrl": URL, "MessageBody": expected_body, "MessageGroupId": "acc-1"},
        {
            "QueueUrl": URL,
            "MessageBody": expected_body,
            "MessageGroupId": "acc-1",
            "MessageDeduplicationId": "e-2",
        },
    ]


def test_the_publisher_refuses_a_bad_deduplication_id_and_sends_nothing():
    client = Recorder()
    ledger = LedgerPublisher(URL, client=client)
    for bad in ("", "d" * 129, "a b"):
        with pytest.raises(InvalidInput, match=r"^deduplication_id: 1 to 128 letters"):
            ledger.publish({"event_id": "e", "account_id": "a", "amount_cents": 1}, deduplication_id=bad)
    assert client.sent == []
