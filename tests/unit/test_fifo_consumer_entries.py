"""The FIFO consumer's ledger at its edges, against moto: a debit down to exactly zero applies and one
cent more is refused naming the entry, each applied entry moves the version by one, and the metrics
count applied entries and redeliveries apart."""

from __future__ import annotations

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tests.unit.test_fifo_consumer import account, entry, failed_ids, fifo_event

pytestmark = pytest.mark.unit


@pytest.fixture
def consumer(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("fifo_consumer", "consumer", TABLE_NAME="ledger")


def test_a_debit_may_empty_the_account_but_not_overdraw_it(consumer, lambda_context):
    assert consumer.handler(fifo_event(entry("a", 1, 100), entry("a", 2, -100)), lambda_context) == {
        "batchItemFailures": []
    }
    item = account("a")
    assert (item["balance_cents"], item["version"]) == ({"N": "0"}, {"N": "2"})
    overdraw = fifo_event(entry("a", 3, -1), entry("b", 1, 1))
    assert failed_ids(consumer.handler(overdraw, lambda_context)) == [overdraw["Records"][0]["messageId"]]
    assert account("a")["balance_cents"] == {"N": "0"}


def test_an_overdraft_names_the_entry_the_debit_the_balance_and_the_account(consumer, lambda_context):
    consumer.handler(fifo_event(entry("a", 1, 30)), lambda_context)
    with pytest.raises(consumer.Overdrawn, match=r"^a-2: debit of 31 over balance 30 of a$"):
        consumer.apply(SQSRecord(fifo_event(entry("a", 2, -31))["Records"][0]))


def test_applied_entries_and_redeliveries_are_counted_apart(consumer, lambda_context, emitted_metrics):
    event = fifo_event(entry("a", 1, 5), entry("a", 2, 5), entry("b", 1, 5))
    consumer.handler(event, lambda_context)
    assert emitted_metrics() == {"EntriesApplied": 3}
    consumer.handler(event, lambda_context)
    assert emitted_metrics() == {"DuplicateEntries": 3}
