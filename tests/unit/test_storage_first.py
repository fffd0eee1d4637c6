"""The storage-first processor: each stored request is written once; a bad one fails alone, loudly."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.events import dynamodb_stream_event, eventbridge_event, sqs_event

pytestmark = pytest.mark.unit

GOOD = {
    "type": "order.placed",
    "payload": {"order_id": "o-1", "total": 12.5, "lines": [{"sku": "tea", "qty": 2}]},
}


@pytest.fixture
def table(aws):
    boto3.client("dynamodb").create_table(
        TableName="processed",
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return boto3.resource("dynamodb").Table("processed")


@pytest.fixture
def processor(table, load_handler):
    return load_handler("storage_first", "processor", PROCESSED_TABLE_NAME="processed")


def stored_messages(*requests: tuple[str | None, object]) -> dict:
    """SQS messages as the API's integration sends them: the body, and the request id as an attribute."""
    event = sqs_event(*(body for _, body in requests))
    for record, (request_id, _) in zip(event["Records"], requests, strict=True):
        if request_id is not None:
            record["messageAttributes"] = {
                "requestId": {"stringValue": request_id, "dataType": "String", "stringListValues": []}
            }
    return event


def stored_rows(*requests: tuple[str, object]) -> dict:
    """Stream INSERTs of the requests table as the API's PutItem writes them: the body as a string."""
    return dynamodb_stream_event(
        *(
            {
                "request_id": request_id,
                "body": body if isinstance(body, str) else json.dumps(body),
                "received_at": 1,
            }
            for request_id, body in requests
        )
    )


def put_event(request_id: object, body: object) -> dict:
    """An event as the API's PutEvents puts it on the bus."""
    return eventbridge_event(
        {"request_id": request_id, "body": body}, source="storage-first.api", detail_type="Request"
    )


def items(table) -> dict[str, dict]:
    return {item["request_id"]: item for item in table.scan()["Items"]}


BAD_BODIES = [
    pytest.param({"type": "order.shipped", "payload": {}}, id="unknown-type"),
    pytest.param({"type": "order.placed"}, id="no-payload"),
    pytest.param({"type": "order.placed", "payload": [1]}, id="payload-not-object"),
    pytest.param({"type": "order.placed", "payload": {}, "extra": 1}, id="unknown-field"),
    pytest.param("{not json", id="not-json"),
    pytest.param("", id="empty"),
    pytest.param([GOOD], id="array"),
]


# ----------------------------------------------------------------------------------------- SQS


def test_sqs_request_is_written_with_its_request_id(processor, table, lambda_context):
    response = processor.sqs_handler(stored_messages(("req-1", GOOD)), lambda_context)

    assert response == {"batchItemFailures": []}
    item = items(table)["req-1"]
    assert item["type"] == "order.placed"
    assert item["payload"] == {
        "order_id": "o-1",
        "total": Decimal("12.5"),
        "lines": [{"sku": "tea", "qty": 2}],
    }
    assert item["processed_at"]


def test_sqs_duplicate_request_is_written_once(processor, table, lambda_context):
    processor.sqs_handler(stored_messages(("req-1", GOOD)), lambda_context)
    first = items(table)["req-1"]

    redelivered = {**GOOD, "payload": {"order_id": "changed"}}
    response = processor.sqs_handler(stored_messages(("req-1", redelivered), ("req-1", GOOD)), lambda_context)

    assert response == {"batchItemFailures": []}, "a duplicate is done, not failed"
    assert items(table) == {"req-1": first}


@pytest.mark.parametrize("bad", BAD_BODIES)
def test_sqs_poison_message_is_exactly_one_batch_item_failure(processor, table, lambda_context, bad):
    event = stored_messages(("good-1", GOOD), ("bad", bad), ("good-2", GOOD))
    poison_id = event["Records"][1]["messageId"]

    response = processor.sqs_handler(event, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert set(items(table)) == {"good-1", "good-2"}


def test_sqs_message_without_request_id_uses_its_message_id(processor, table, lambda_context):
    """A message from another producer is still processed, keyed by its stable message id."""
    event = stored_messages((None, GOOD))

    assert processor.sqs_handler(event, lambda_context) == {"batchItemFailures": []}
    assert set(items(table)) == {event["Records"][0]["messageId"]}


def test_sqs_batch_of_only_poison_fails_the_whole_invocation(processor, table, lambda_context):
    with pytest.raises(BatchProcessingError):
        processor.sqs_handler(stored_messages(("bad-1", "{"), ("bad-2", {})), lambda_context)
    assert not items(table)


def test_storage_outage_is_a_failure_not_a_drop(table, load_handler, lambda_context):
    """Any DynamoDB error but the duplicate check is a batch item failure, so SQS retries it."""
    processor = load_handler("storage_first", "processor", PROCESSED_TABLE_NAME="no-such-table")
    event = stored_messages(("req-1", GOOD), ("req-2", GOOD))

    with pytest.raises(BatchProcessingError):
        processor.sqs_handler(event, lambda_context)


# ----------------------------------------------------------------------------------------- DynamoDB stream


def test_stream_inserts_are_written(processor, table, lambda_context):
    response = processor.stream_handler(stored_rows(("req-1", GOOD), ("req-2", GOOD)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert set(items(table)) == {"req-1", "req-2"}
    assert items(table)["req-2"]["payload"]["total"] == Decimal("12.5")


def test_stream_duplicate_is_written_once(processor, table, lambda_context):
    processor.stream_handler(stored_rows(("req-1", GOOD)), lambda_context)
    first = items(table)["req-1"]

    response = processor.stream_handler(stored_rows(("req-1", GOOD)), lambda_context)

    assert response == {"batchItemFailures": []}
    assert items(table) == {"req-1": first}


@pytest.mark.parametrize("bad", BAD_BODIES)
def test_stream_poison_record_is_exactly_one_batch_item_failure(processor, table, lambda_context, bad):
    event = stored_rows(("good-1", GOOD), ("bad", bad), ("good-2", GOOD))
    poison_sequence = event["Records"][1]["dynamodb"]["SequenceNumber"]

    response = processor.stream_handler(event, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": poison_sequence}]}
    assert set(items(table)) == {"good-1", "good-2"}


def test_stream_record_without_request_id_fails(processor, table, lambda_context):
    event = dynamodb_stream_event(
        {"request_id": "good", "body": json.dumps(GOOD)}, {"body": json.dumps(GOOD)}
    )

    response = processor.stream_handler(event, lambda_context)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]
    }
    assert set(items(table)) == {"good"}


# ----------------------------------------------------------------------------------------- EventBridge


def test_event_is_written_once(processor, table, lambda_context):
    assert processor.event_handler(put_event("req-1", GOOD), lambda_context) == {
        "request_id": "req-1",
        "written": True,
    }
    first = items(table)["req-1"]

    assert processor.event_handler(put_event("req-1", GOOD), lambda_context)["written"] is False
    assert items(table) == {"req-1": first}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(put_event("req-1", {"type": "order.placed"}), id="bad-body"),
        pytest.param(put_event("req-1", "{not json"), id="body-not-json"),
        pytest.param(put_event(None, GOOD), id="no-request-id"),
        pytest.param(put_event("", GOOD), id="empty-request-id"),
        pytest.param(eventbridge_event(["not", "an", "object"]), id="detail-not-object"),
        pytest.param(
            put_event("req-1", {"type": "order.placed", "payload": {"note": "\u00e9" * 131_072}}),
            id="body-over-256-kib",
        ),
        pytest.param(
            put_event("req-1", {"type": "order.placed", "payload": {"note": "\ud800"}}), id="lone-surrogate"
        ),
        pytest.param(
            put_event("req-1", {"type": "order.placed", "payload": {"n": 10**40}}), id="number-over-38-digits"
        ),
        pytest.param(
            put_event("req-1", {"type": "order.placed", "payload": {"l": json.loads("[" * 40 + "]" * 40)}}),
            id="nested-deeper-than-32",
        ),
    ],
)
def test_bad_event_raises_so_lambda_retries_then_dead_letters_it(processor, table, lambda_context, event):
    with pytest.raises(processor.InvalidInput):
        processor.event_handler(event, lambda_context)
    assert not items(table)


def test_a_body_of_256_kib_is_written(processor, table, lambda_context):
    body = {"type": "order.placed", "payload": {"note": ""}}
    body["payload"]["note"] = "x" * (262_144 - len(json.dumps(body)))
    assert processor.event_handler(put_event("req-1", body), lambda_context)["written"] is True


@pytest.mark.parametrize(("length", "written"), [(1, True), (128, True), (129, False)])
def test_a_request_id_has_1_to_128_characters(processor, table, lambda_context, length, written):
    event = put_event("r" * length, GOOD)
    if written:
        assert processor.event_handler(event, lambda_context)["written"] is True
    else:
        with pytest.raises(processor.InvalidInput, match="request_id: expected a string of 1 to 128"):
            processor.event_handler(event, lambda_context)
        assert not items(table)


def test_processed_duplicate_and_rejected_requests_are_counted(
    processor, table, lambda_context, emitted_metrics
):
    processor.event_handler(put_event("req-1", GOOD), lambda_context)
    assert emitted_metrics() == {"RequestsProcessed": 1}
    processor.event_handler(put_event("req-1", GOOD), lambda_context)
    assert emitted_metrics() == {"DuplicateRequests": 1}
    with pytest.raises(processor.InvalidInput):
        processor.event_handler(put_event("req-2", {"type": "order.placed"}), lambda_context)
    assert emitted_metrics() == {"RequestsRejected": 1}
    processor.sqs_handler(stored_messages(("req-3", "{not json"), ("req-4", GOOD)), lambda_context)
    assert emitted_metrics() == {"RequestsRejected": 1, "RequestsProcessed": 1}
    processor.stream_handler(stored_rows(("req-5", "{not json"), ("req-6", GOOD)), lambda_context)
    assert emitted_metrics() == {"RequestsRejected": 1, "RequestsProcessed": 1}


def test_a_stream_record_without_a_new_image_is_a_batch_item_failure(processor, table, lambda_context):
    event = stored_rows(("req-1", GOOD), ("req-2", GOOD))
    del event["Records"][0]["dynamodb"]["NewImage"]
    failed = processor.stream_handler(event, lambda_context)["batchItemFailures"]
    assert failed == [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]
    assert set(items(table)) == {"req-2"}


def test_the_body_limit_counts_utf8_bytes_not_escaped_text(processor, table, lambda_context):
    body = {"type": "order.placed", "payload": {"note": "\u00e9" * 100_000}}  # 200 KB in UTF-8
    assert processor.event_handler(put_event("req-1", body), lambda_context)["written"] is True
