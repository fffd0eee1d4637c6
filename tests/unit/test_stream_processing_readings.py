"""The stream processor at its edges, against moto: readings at the bounds, Kinesis's longest sequence
numbers (129 digits, the API's pattern says) ordered as numbers, and a rejected reading counted
before the batch fails."""

from __future__ import annotations

import boto3
import pytest

from shared.validation import InvalidInput
from tests.unit.test_stream_processing import event, record, total

pytestmark = pytest.mark.unit


@pytest.fixture
def processor(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="totals",
        KeySchema=[{"AttributeName": "meter_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "meter_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("stream_processing", "processor", TABLE_NAME="totals")


def test_a_reading_at_the_bounds_is_counted_and_one_past_them_is_refused(processor, lambda_context):
    meter = "m" * 128
    processor.handler(
        event(record(1, {"meter_id": meter, "kwh": 1_000_000}), record(2, {"meter_id": meter, "kwh": 0})),
        lambda_context,
    )
    assert total(meter) == (1_000_000, 2)
    for data, message in [
        ({"meter_id": meter, "kwh": 1_000_001}, r"^kwh: greater than 1000000$"),
        ({"meter_id": "m" * 129, "kwh": 1}, r"^meter_id: longer than 128$"),
        ({"meter_id": "", "kwh": 1}, r"^meter_id: shorter than 1$"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            processor.handler(event(record(3, data)), lambda_context)


def test_sequence_numbers_of_up_to_129_digits_are_kept_padded_and_in_order(processor, lambda_context):
    """Kinesis's SequenceNumber is ``0|([1-9]\\d{0,128})``: one digit and up to 128 more."""
    shorter, longest = int("9" * 128), int("1" + "0" * 128)
    processor.handler(event(record(shorter, {"meter_id": "m-1", "kwh": 1})), lambda_context)
    processor.handler(event(record(longest, {"meter_id": "m-1", "kwh": 2})), lambda_context)
    assert total("m-1") == (3, 2), "the 129-digit number is the later one"
    item = boto3.client("dynamodb").get_item(TableName="totals", Key={"meter_id": {"S": "m-1"}})["Item"]
    assert item["last_sequence"] == {"S": str(longest)}
    processor.handler(event(record(5, {"meter_id": "m-2", "kwh": 1})), lambda_context)
    item = boto3.client("dynamodb").get_item(TableName="totals", Key={"meter_id": {"S": "m-2"}})["Item"]
    assert item["last_sequence"] == {"S": "5".zfill(129)}


def test_a_rejected_reading_is_counted_and_the_ones_before_it_applied(
    processor, lambda_context, emitted_metrics
):
    batch = event(record(1, {"meter_id": "m-1", "kwh": 1}), record(2, b"{not json"))
    with pytest.raises(InvalidInput):
        processor.handler(batch, lambda_context)
    assert emitted_metrics() == {"ReadingsApplied": 1, "ReadingsRejected": 1}


def test_apply_says_whether_the_reading_was_counted(processor):
    from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent

    [first] = KinesisStreamEvent(event(record(1, {"meter_id": "m-1", "kwh": 2}))).records
    assert processor.apply(first) is True
    assert processor.apply(first) is False, "delivered again, it is not counted twice"
    assert total("m-1") == (2, 1)
    processor.metrics.clear_metrics()  # called outside the handler, nothing flushed them
