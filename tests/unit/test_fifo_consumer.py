"""The FIFOer's consumer and the ledger publisher, against moto."""

from __future__ import annotations

import json

import boto3
import pytest

from shared.ledger import LedgerPublisher, parse_entry
from shared.validation import InvalidInput
from tests.events import sqs_event

pytestmark = pytest.mark.unit


def entry(account: str, n: int, amount: int) -> dict:
    return {"event_id": f"{account}-{n}", "account_id": account, "amount_cents": amount}


def fifo_event(*entries: dict | str, group: str | None = None) -> dict:
    """An SQS FIFO event: each record in the group of its entry's account (or ``group``)."""
    event = sqs_event(*entries)
    for record, body in zip(event["Records"], entries, strict=True):
        record["attributes"]["MessageGroupId"] = group or (
            body["account_id"] if isinstance(body, dict) else "g"
        )
        record["attributes"]["MessageDeduplicationId"] = record["messageId"]
    return event


@pytest.fixture
def consumer(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("fifo_consumer", "consumer", TABLE_NAME="ledger")


def account(account_id: str) -> dict:
    return (
        boto3.client("dynamodb")
        .get_item(TableName="ledger", Key={"account_id": {"S": account_id}})
        .get("Item", {})
    )


def failed_ids(answer: dict) -> list[str]:
    return [f["itemIdentifier"] for f in answer["batchItemFailures"]]


def test_entries_apply_in_order_and_a_redelivery_is_written_once(consumer, lambda_context):
    event = fifo_event(entry("a", 1, 100), entry("a", 2, -60))
    assert consumer.handler(event, lambda_context) == {"batchItemFailures": []}
    assert consumer.handler(event, lambda_context) == {"batchItemFailures": []}, "a redelivered batch"
    item = account("a")
    assert item["balance_cents"] == {"N": "40"} and item["version"] == {"N": "2"}
    assert [e["S"] for e in item["entries"]["L"]] == ["a-1", "a-2"]


def test_a_failure_holds_back_its_groups_later_records_only(consumer, lambda_context):
    event = fifo_event(entry("a", 1, -5), entry("b", 1, 10), entry("a", 2, 50), entry("b", 2, 5))
    ids = [r["messageId"] for r in event["Records"]]
    answer = consumer.handler(event, lambda_context)
    assert failed_ids(answer) == [ids[0], ids[2]], "a-2 is reported without being tried"
    assert account("a") == {}, "a-2 did not overtake the failed debit"
    assert account("b")["balance_cents"] == {"N": "15"}


def test_malformed_records_fail_and_a_batch_of_failures_fails_the_invocation(consumer, lambda_context):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    wrong_group = fifo_event(entry("a", 1, 5), group="not-a")
    with pytest.raises(BatchProcessingError):
        consumer.handler(fifo_event("{not json", entry("a", 0, 0)), lambda_context)
    with pytest.raises(BatchProcessingError):
        consumer.handler(wrong_group, lambda_context)
    assert account("a") == {}


def test_a_concurrent_write_is_retried_not_lost(consumer, lambda_context, monkeypatch):
    consumer.handler(fifo_event(entry("a", 1, 100)), lambda_context)
    real_get = consumer.table.get_item

    def stale_read(key, **kwargs):
        item = real_get(key, **kwargs)
        return item and {**item, "version": item["version"] - 1}

    monkeypatch.setattr(consumer.table, "get_item", stale_read)
    event = fifo_event(entry("a", 2, 1), entry("b", 1, 1))
    assert failed_ids(consumer.handler(event, lambda_context)) == [event["Records"][0]["messageId"]]
    assert account("a")["balance_cents"] == {"N": "100"}, "the conditional write refused the stale read"
    monkeypatch.setattr(consumer.table, "get_item", real_get)
    assert consumer.handler(event, lambda_context) == {"batchItemFailures": []}, "retried, it applies"
    assert account("a")["balance_cents"] == {"N": "101"}


def test_the_publisher_validates_and_groups_by_account(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(
        QueueName="ledger.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    ledger = LedgerPublisher(url, client=sqs)
    ledger.publish(entry("acc-1", 1, 5), deduplication_id="acc-1-1")
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["MessageGroupId"] == "acc-1"
    assert message["Attributes"]["MessageDeduplicationId"] == "acc-1-1"
    assert parse_entry(message["Body"], "acc-1") == entry("acc-1", 1, 5)
    for bad, field in [
        ({**entry("a", 1, 5), "amount_cents": 0}, "amount_cents"),
        ({**entry("a", 1, 5), "amount_cents": "5"}, "amount_cents"),
        ({**entry("a", 1, 5), "account_id": "a b"}, "account_id"),
        ({k: v for k, v in entry("a", 1, 5).items() if k != "event_id"}, "event_id"),
    ]:
        with pytest.raises(InvalidInput, match=field):
            ledger.publish(bad)
    with pytest.raises(InvalidInput, match="deduplication_id"):
        ledger.publish(entry("a", 1, 5), deduplication_id="")
    with pytest.raises(ValueError, match="FIFO"):
        LedgerPublisher(url.removesuffix(".fifo"), client=sqs)
    assert json.loads(message["Body"])["event_id"] == "acc-1-1"
