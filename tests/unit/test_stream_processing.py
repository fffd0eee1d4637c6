"""The stream processor against moto: running totals in order, each record counted once, and a bad
record failing the batch where it stands."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from shared.validation import InvalidInput

pytestmark = pytest.mark.unit

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/readings"


def record(sequence: int, data: dict | bytes, key: str | None = None) -> dict:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    meter = key or (data.get("meter_id", "m") if isinstance(data, dict) else "m")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": meter,
            "sequenceNumber": str(sequence),
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": 1767225600.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/processor",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
    }


def event(*records: dict) -> dict:
    return {"Records": list(records)}


@pytest.fixture
def processor(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="totals",
        KeySchema=[{"AttributeName": "meter_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "meter_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("stream_processing", "processor", TABLE_NAME="totals")


def total(meter: str) -> tuple[int, int] | None:
    item = boto3.client("dynamodb").get_item(TableName="totals", Key={"meter_id": {"S": meter}}).get("Item")
    return None if item is None else (int(item["total_kwh"]["N"]), int(item["readings"]["N"]))


def test_readings_add_up_and_a_redelivered_record_is_counted_once(processor, lambda_context, emitted_metrics):
    batch = event(
        record(1, {"meter_id": "m-1", "kwh": 5}),
        record(2, {"meter_id": "m-2", "kwh": 7}),
        record(3, {"meter_id": "m-1", "kwh": 11}),
    )
    processor.handler(batch, lambda_context)
    assert emitted_metrics()["ReadingsApplied"] == 3
    processor.handler(batch, lambda_context)  # a retried batch
    assert total("m-1") == (16, 2) and total("m-2") == (7, 1)
    assert emitted_metrics()["DuplicateReadings"] == 3


def test_sequence_numbers_compare_as_numbers_not_as_text(processor, lambda_context):
    # "9" > "10" as text: unpadded, the later record would be taken for one already counted.
    processor.handler(event(record(9, {"meter_id": "m-1", "kwh": 1})), lambda_context)
    processor.handler(event(record(10, {"meter_id": "m-1", "kwh": 2})), lambda_context)
    long = 49_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_001
    processor.handler(event(record(long, {"meter_id": "m-1", "kwh": 4})), lambda_context)
    assert total("m-1") == (7, 3)


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        (b"{not json", None, "body: not valid JSON"),
        (b"\xff\xfe", None, "data: not UTF-8"),
        ({"meter_id": "m-1", "kwh": -1}, None, "kwh: less than 0"),
        ({"meter_id": "m-1", "kwh": 1.5}, None, "kwh: expected integer"),
        ({"meter_id": "m-1"}, None, "kwh: required"),
        ({"meter_id": "m-1", "kwh": 1, "extra": 1}, None, "extra: unknown field"),
        ({"meter_id": "m-1", "kwh": 1}, "m-2", "partitionKey: 'm-2' is not the reading's meter_id"),
    ],
)
def test_a_bad_record_fails_the_batch_where_it_stands(processor, lambda_context, data, key, message):
    batch = event(
        record(1, {"meter_id": "m-1", "kwh": 3}),
        record(2, data, key=key),
        record(3, {"meter_id": "m-1", "kwh": 100}),
    )
    with pytest.raises(InvalidInput, match=message):
        processor.handler(batch, lambda_context)
    assert total("m-1") == (3, 1), "applied before it, nothing after it"
