"""The ledger's message contract, and the publisher producers send entries with.

An entry moves an account's balance by ``amount_cents`` (a credit above zero, a debit below).
Entries of one account must be applied in the order they were sent, since a debit is refused when
it would overdraw: the account is the SQS FIFO message group. The publisher validates an entry
before it is sent, so a malformed one is refused at the producer with the field named, and sends it
with ``MessageGroupId`` set to its account and, when given, ``MessageDeduplicationId``.

Example::

    ledger = LedgerPublisher(queue_url)
    ledger.publish({"event_id": "e-1", "account_id": "acc-1", "amount_cents": 500})
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.validation import Field, InvalidInput, Schema

#: SQS's rule for MessageGroupId and MessageDeduplicationId: 1 to 128 of these characters.
SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
MAX_AMOUNT_CENTS = 10**12

LEDGER_ENTRY = Schema(
    event_id=Field(str, min_length=1, max_length=128),
    account_id=Field(str, min_length=1, max_length=128),
    amount_cents=Field(int, minimum=-MAX_AMOUNT_CENTS, maximum=MAX_AMOUNT_CENTS),
    memo=Field(str, required=False, max_length=256),
)


def parse_entry(body: str, group_id: str | None = None) -> dict[str, Any]:
    """The entry in a message ``body``; :class:`InvalidInput` naming the field if it is not one.

    ``group_id`` is the message's group: it must be the entry's account, or the entry could be
    applied out of its account's order.
    """
    try:
        entry = LEDGER_ENTRY.validate(json.loads(body))
    except ValueError as error:
        raise InvalidInput(
            str(error) if isinstance(error, InvalidInput) else "body: not valid JSON"
        ) from None
    _check_entry(entry)
    if group_id is not None and group_id != entry["account_id"]:
        raise InvalidInput(f"MessageGroupId: {group_id!r} is not the entry's account_id")
    return entry


def _check_entry(entry: dict[str, Any]) -> None:
    problems = [
        f"{name}: 1 to 128 letters, digits or punctuation"
        for name in ("event_id", "account_id")
        if not SQS_ID.fullmatch(entry[name])
    ]
    if entry["amount_cents"] == 0:
        problems.append("amount_cents: must not be 0")
    if problems:
        raise InvalidInput("; ".join(problems))


class LedgerPublisher:
    """Sends ledger entries to the FIFO queue, grouped by account, after validating them."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        if not queue_url.endswith(".fifo"):
            raise ValueError(f"{queue_url}: not a FIFO queue (its name ends in .fifo)")
        self.queue_url = queue_url
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self.client = client

    def publish(self, entry: dict[str, Any], *, deduplication_id: str | None = None) -> str:
        """Send ``entry``; the message id SQS answers (the first copy's for a duplicate).

        Without ``deduplication_id`` the queue deduplicates by content (its default); a queue made
        with explicit deduplication refuses such a send. Pass the same id for every retry of one
        entry, for instance its ``event_id``.
        """
        LEDGER_ENTRY.validate(entry)
        _check_entry(entry)
        params: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": json.dumps(entry, separators=(",", ":"), sort_keys=True),
            "MessageGroupId": entry["account_id"],
        }
        if deduplication_id is not None:
            if not SQS_ID.fullmatch(deduplication_id):
                raise InvalidInput("deduplication_id: 1 to 128 letters, digits or punctuation")
            params["MessageDeduplicationId"] = deduplication_id
        return str(self.client.send_message(**params)["MessageId"])
