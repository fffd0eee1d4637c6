"""Processes requests that API Gateway stored first, in SQS, a DynamoDB table or an EventBridge bus.

One business function, :func:`process_request`, behind three entry points, one per storage:

- ``sqs_handler``: a batch of SQS messages (body = the request, attribute ``requestId``);
- ``stream_handler``: a batch of DynamoDB stream INSERT records (``request_id``, ``body`` as a string);
- ``event_handler``: one EventBridge event (``detail`` = ``{"request_id": ..., "body": {...}}``).

Every request is validated, then written once into the processed table (``PROCESSED_TABLE_NAME``)
with a conditional put: a redelivered request is acknowledged without a second write. A bad record
raises, so it is reported as a batch item failure (SQS and streams) or fails the invocation
(EventBridge) and ends in the pattern's dead-letter queue after its retries. Nothing is dropped
silently.

Example::

    written = process_request("r-1", '{"type": "order.placed", "payload": {"order_id": "o-1"}}')
    assert written and not process_request("r-1", '{"type": "order.placed", "payload": {}}')
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema, parse_json_body, storable

table = Table(os.environ["PROCESSED_TABLE_NAME"])

#: Kinds of request the API accepts: ``contract.json`` beside this module is the one list, which the
#: construct (patterns/storage_first.py) reads for the API's model.
CONTRACT = json.loads(Path(__file__).with_name("contract.json").read_text())
REQUEST_TYPES = tuple(CONTRACT["request_types"])
#: The largest body stored: a processed item must fit DynamoDB's 400 KB.
MAX_BODY_BYTES = CONTRACT["max_body_bytes"]
REQUEST = Schema(type=Field(str, choices=REQUEST_TYPES), payload=Field(dict))
MAX_REQUEST_ID_LENGTH = 128

sqs_processor = BatchProcessor(event_type=EventType.SQS)
stream_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def process_request(request_id: Any, body: Any) -> bool:
    """Validate one stored request and write it once; return False if it was already written.

    ``body`` is the request as JSON text or as an already decoded object. Raises
    :class:`~shared.validation.InvalidInput` for a request that can never succeed.
    """
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_REQUEST_ID_LENGTH:
        raise InvalidInput(f"request_id: expected a string of 1 to {MAX_REQUEST_ID_LENGTH} characters")
    data = REQUEST.validate(parse_json_body(body) if isinstance(body, str) else body)
    try:
        size = len(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(
            "body: holds a lone UTF-16 surrogate, which is not text DynamoDB can store"
        ) from None
    if size > MAX_BODY_BYTES:
        raise InvalidInput(f"body: larger than {MAX_BODY_BYTES:,} bytes")
    # DynamoDB takes no floats: carry JSON numbers as Decimal, refused here if it could not store them.
    payload = storable("payload", json.loads(json.dumps(data["payload"]), parse_float=Decimal))
    item = {
        "request_id": request_id,
        "type": data["type"],
        "payload": payload,
        "processed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    try:
        table.put_item(item, ConditionExpression="attribute_not_exists(request_id)")
    except table.ConditionalCheckFailed:
        logger.info("request already processed", extra={"request_id": request_id})
        metrics.add_metric(name="DuplicateRequests", unit=MetricUnit.Count, value=1)
        return False
    logger.info("request processed", extra={"request_id": request_id, "type": data["type"]})
    metrics.add_metric(name="RequestsProcessed", unit=MetricUnit.Count, value=1)
    return True


def _rejected(error: InvalidInput, **where: Any) -> None:
    logger.warning("rejected request", extra={"reason": str(error), **where})
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)


# --------------------------------------------------------------------------------------------- SQS


def _sqs_record(record: SQSRecord) -> None:
    attribute = record.message_attributes["requestId"]
    # A message sent to the queue by another producer has no attribute: its message id is stable
    # across redeliveries, so it serves as the idempotency key.
    request_id = attribute.string_value if attribute is not None else record.message_id
    try:
        process_request(request_id, record.body)
    except InvalidInput as error:
        _rejected(error, message_id=record.message_id, request_id=request_id)
        raise


@instrument
def sqs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch: failed messages are reported as batch item failures and retried by SQS."""
    return process_partial_response(
        event=event, record_handler=_sqs_record, processor=sqs_processor, context=context
    )


# --------------------------------------------------------------------------------------------- DynamoDB


def _stream_record(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        raise InvalidInput(
            f"{record.event_id}: stream record has no new image (stream view NEW_IMAGE needed)"
        )
    try:
        process_request(image.get("request_id"), image.get("body"))
    except InvalidInput as error:
        _rejected(error, event_id=record.event_id, request_id=image.get("request_id"))
        raise


@instrument
def stream_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """DynamoDB stream batch of INSERTs: a failed record is reported; the mapping bisects and retries."""
    return process_partial_response(
        event=event, record_handler=_stream_record, processor=stream_processor, context=context
    )


# --------------------------------------------------------------------------------------------- EventBridge


@instrument
def event_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One EventBridge event; raises on bad input so the target's retries and DLQ take it."""
    detail = EventBridgeEvent(event).detail
    request_id = detail.get("request_id") if isinstance(detail, dict) else None
    try:
        if not isinstance(detail, dict):
            raise InvalidInput("detail: expected a JSON object")
        written = process_request(request_id, detail.get("body"))
    except InvalidInput as error:
        _rejected(error, event_id=event.get("id"), request_id=request_id)
        raise
    return {"request_id": request_id, "written": written}
