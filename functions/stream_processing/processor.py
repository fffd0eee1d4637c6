"""Keep each meter's running total of the readings on a Kinesis stream, each reading counted once.

A reading is a JSON record ``{"meter_id": "m-1", "kwh": 12}`` put with the meter as partition key,
so Lambda hands one meter's readings over in order (with a parallelization factor above 1 too:
one meter's records always go through the same virtual shard). Each reading adds to the meter's
item ``{meter_id, total_kwh, readings, last_sequence}`` with a write conditional on the item's
``last_sequence`` being lower than the record's: a record the mapping delivers again (a retried or
bisected batch carries records already applied) is skipped, not counted twice.

A bad record (not JSON, a field missing or out of range, a partition key that is not its
meter) raises: processing stops there, so nothing of the batch after it overtakes it, and the
invocation fails. The mapping then bisects the batch until the bad record is alone, retries it and
sends its batch info to the on-failure destination. That is why this handler does not use
``ReportBatchItemFailures``: Powertools' ``BatchProcessor`` would go on past a failed record and
apply the same meter's later readings first, and with the sequence guard a retried earlier reading
would then be skipped as old, so a transient failure would lose it.

Example::

    apply(reading_record)   # adds its kwh to the meter's total, or skips it if already counted
"""

from __future__ import annotations

import base64
import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent, event_source
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema, key_value, parse_json_body

table = Table(os.environ["TABLE_NAME"])

#: Largest reading accepted, in kWh: a larger one is a faulty meter, not consumption.
MAX_KWH = 1_000_000
READING = Schema(
    meter_id=Field(str, min_length=1, max_length=128), kwh=Field(int, minimum=0, maximum=MAX_KWH)
)
#: Kinesis sequence numbers are decimal strings of up to 129 digits (the API's pattern is
#: ``0|[1-9]\d{0,128}``): zero-padded to that, they compare as strings.
SEQUENCE_DIGITS = 129


def reading(record: KinesisStreamRecord) -> dict[str, Any]:
    """The record's reading, or :class:`InvalidInput` naming what is wrong."""
    raw = base64.b64decode(record.kinesis.data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("data: not UTF-8 text") from None
    data = READING.validate(parse_json_body(text))
    key_value("meter_id", data["meter_id"])
    if record.kinesis.partition_key != data["meter_id"]:
        raise InvalidInput(
            f"partitionKey: {record.kinesis.partition_key!r} is not the reading's meter_id; "
            "a meter's readings must share its partition key to stay in order"
        )
    return data


def apply(record: KinesisStreamRecord) -> bool:
    """Add one reading to its meter's total; False if this record was counted already."""
    data = reading(record)
    sequence = record.kinesis.sequence_number.zfill(SEQUENCE_DIGITS)
    try:
        table.update_item(
            {"meter_id": data["meter_id"]},
            UpdateExpression="ADD #total :kwh, #readings :one SET #last = :sequence",
            ConditionExpression="attribute_not_exists(#last) OR #last < :sequence",
            ExpressionAttributeNames={
                "#total": "total_kwh",
                "#readings": "readings",
                "#last": "last_sequence",
            },
            values={":kwh": data["kwh"], ":one": 1, ":sequence": sequence},
        )
    except table.ConditionalCheckFailed:
        logger.info("reading already counted", extra={"meter_id": data["meter_id"], "sequence": sequence})
        metrics.add_metric(name="DuplicateReadings", unit=MetricUnit.Count, value=1)
        return False
    metrics.add_metric(name="ReadingsApplied", unit=MetricUnit.Count, value=1)
    return True


@instrument
@event_source(data_class=KinesisStreamEvent)
def handler(event: KinesisStreamEvent, context: Any) -> None:
    """Apply the batch in order; a bad record fails the invocation so the mapping bisects around it."""
    for record in event.records:
        try:
            apply(record)
        except InvalidInput as error:
            logger.warning(
                "rejected reading",
                extra={"reason": str(error), "sequence": record.kinesis.sequence_number},
            )
            metrics.add_metric(name="ReadingsRejected", unit=MetricUnit.Count, value=1)
            raise
