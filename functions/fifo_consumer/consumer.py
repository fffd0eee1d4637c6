"""Apply ledger entries from the FIFO queue to account balances, in order, each entry once.

The queue's message group is the account, so SQS hands over one account's entries in the order
they were sent, and none of them while an earlier one is in flight. The batch (up to 10 messages
of several accounts) goes through Powertools' ``SqsFifoPartialProcessor`` with
``skip_group_on_error``: once an entry of an account fails, every later entry of that account in
the batch is reported failed without being tried, so none overtakes it, while other accounts'
entries go on. The failed ones return to the queue together and after the queue's
``maxReceiveCount`` move to its FIFO dead-letter queue, in order. A batch whose every entry failed
raises ``BatchProcessingError``, failing the invocation.

A debit that would overdraw the account fails: that is why order matters. Each write is
conditional on the account's ``version`` read before it, and an entry whose ``event_id`` is in the
account's ``entries`` already is a redelivery, counted and skipped, so it is applied once.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

from shared.dynamodb import Table
from shared.ledger import parse_entry
from shared.observability import instrument, logger, metrics

table = Table(os.environ["TABLE_NAME"])
processor = SqsFifoPartialProcessor(skip_group_on_error=True, logger=logger)  # type: ignore[arg-type]


class Overdrawn(Exception):
    """A debit larger than the balance: it waits for a credit, then reaches the dead-letter queue."""


class ConcurrentWrite(Exception):
    """The account changed between read and write: the entry is retried."""


def apply(record: Any) -> None:
    entry = parse_entry(record.body, record.attributes.message_group_id)
    account_id, event_id = entry["account_id"], entry["event_id"]
    account = table.get_item({"account_id": account_id}, ConsistentRead=True)
    if account is not None and event_id in account["entries"]:
        logger.info("entry already applied", extra={"event_id": event_id, "account_id": account_id})
        metrics.add_metric(name="DuplicateEntries", unit=MetricUnit.Count, value=1)
        return
    balance = int(account["balance_cents"]) if account else 0
    version = int(account["version"]) if account else 0
    new_balance = balance + entry["amount_cents"]
    if new_balance < 0:
        raise Overdrawn(
            f"{event_id}: debit of {-entry['amount_cents']} over balance {balance} of {account_id}"
        )
    try:
        table.update_item(
            {"account_id": account_id},
            UpdateExpression="SET #balance = :balance, #version = :next, "
            "#entries = list_append(if_not_exists(#entries, :none), :event)",
            ConditionExpression="attribute_not_exists(account_id)"
            if account is None
            else "#version = :version",
            ExpressionAttributeNames={
                "#balance": "balance_cents",
                "#version": "version",
                "#entries": "entries",
            },
            values={
                ":balance": new_balance,
                ":next": version + 1,
                ":none": [],
                ":event": [event_id],
                **({":version": version} if account is not None else {}),
            },
        )
    except table.ConditionalCheckFailed:
        raise ConcurrentWrite(f"{account_id} changed while {event_id} was applied") from None
    metrics.add_metric(name="EntriesApplied", unit=MetricUnit.Count, value=1)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=apply, processor=processor, context=context)
