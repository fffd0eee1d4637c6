"""Turn the log lines a subscription filter selected into payment events, published to the topic.

CloudWatch Logs invokes this function asynchronously with ``{"awslogs": {"data": ...}}``: base64 of
a gzip'd ``DATA_MESSAGE`` holding the log group, stream and the matching ``logEvents`` (or a
``CONTROL_MESSAGE`` when Logs checks the destination, which is acknowledged and otherwise ignored).
Each log event becomes one event of ``payment_event.schema.json``: its id is the log event's id
(the same on a redelivery, so subscribers can keep each once), its fields come from the JSON line,
or from ``extractedFields`` when the filter is space-delimited. The events are published with
PublishBatch, at most 10 entries and 256 KiB per call, ``event_type`` also sent as an attribute.

A log event that does not make a valid event (not JSON, a field missing or wrong) is reported, not
retried: it is sent, with the reason naming the field, to the failure queue, and the others are
published. A failure to publish (SNS or its key refusing) fails the invocation: Lambda retries it,
then sends it with the error to the same queue (the function's on-failure destination), so a log
line is never lost silently.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from batches import MAX_BATCH_BYTES, EntryTooLarge, batches, entry_size
from schema import EVENT_SCHEMA, INTEGER_FIELDS, PAYMENT_FIELDS
from shared.json_schema import validate
from shared.observability import instrument, logger, metrics
from shared.validation import InvalidInput

TOPIC_ARN = os.environ["TOPIC_ARN"]
FAILURE_QUEUE_URL = os.environ["FAILURE_QUEUE_URL"]
sns = boto3.client("sns")
sqs = boto3.client("sqs")


class PublishFailed(Exception):
    """SNS refused some entries of a batch: the invocation fails, so Lambda retries it."""


def decode(event: Any) -> dict[str, Any]:
    """The ``awslogs`` payload; ``ValueError`` when the invocation is not one (nothing to retry well,
    so after Lambda's retries it reaches the on-failure destination with the payload)."""
    try:
        data = gzip.decompress(base64.b64decode(event["awslogs"]["data"], validate=True))
        payload = json.loads(data)
    except (KeyError, TypeError, binascii.Error, OSError, EOFError, ValueError) as error:
        raise ValueError(f"not a CloudWatch Logs subscription payload: {error!r}"[:300]) from None
    if not isinstance(payload, dict) or payload.get("messageType") not in ("DATA_MESSAGE", "CONTROL_MESSAGE"):
        raise ValueError("not a CloudWatch Logs subscription payload: no messageType")
    return payload


def payment_event(payload: dict[str, Any], log_event: dict[str, Any]) -> dict[str, Any]:
    """The domain event one log line stands for; :class:`InvalidInput` naming each field at fault."""
    fields = log_event.get("extractedFields")
    if fields is None:
        try:
            fields = json.loads(log_event["message"])
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser follows
            raise InvalidInput("message: not a JSON log line") from None
        if not isinstance(fields, dict):
            raise InvalidInput("message: not a JSON object")
    else:
        fields = {k: _integer(v) if k in INTEGER_FIELDS else v for k, v in fields.items()}
    moment = datetime.fromtimestamp(log_event["timestamp"] / 1000, UTC)
    return validate(
        EVENT_SCHEMA,
        {
            "event_id": log_event["id"],
            "event_type": fields.get("event"),
            "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "source": {"log_group": payload["logGroup"], "log_stream": payload["logStream"]},
            "payment": {name: fields[name] for name in PAYMENT_FIELDS if name in fields},
        },
    )


def _integer(text: str) -> int | str:
    """An extracted field's text as the integer it spells in ASCII digits; else the text itself, for
    the schema to refuse by name (``str.isdigit`` also takes ``²``, which ``int`` does not, and
    ``int`` refuses more than 4,300 digits)."""
    if text.isascii() and text.isdigit():
        try:
            return int(text)
        except ValueError:
            return text
    return text


def entry(index: int, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": str(index),
        "Message": json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": event["event_type"]}},
    }


def publish(entries: list[dict[str, Any]]) -> None:
    for batch in batches(entries):
        failed = sns.publish_batch(TopicArn=TOPIC_ARN, PublishBatchRequestEntries=batch).get("Failed", [])
        if failed:
            codes = ", ".join(f"{f['Id']}: {f.get('Code')}" for f in failed)
            raise PublishFailed(f"SNS refused {len(failed)} of {len(batch)} entries ({codes})")


def report(payload: dict[str, Any], log_event: dict[str, Any], reason: str) -> None:
    logger.warning("log event rejected", extra={"log_event_id": log_event.get("id"), "reason": reason})
    body = {
        "reason": reason,
        "log_group": payload["logGroup"],
        "log_stream": payload["logStream"],
        "log_event": {k: log_event.get(k) for k in ("id", "timestamp", "message")},
    }
    sqs.send_message(QueueUrl=FAILURE_QUEUE_URL, MessageBody=json.dumps(body))


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = decode(event)
    if payload["messageType"] == "CONTROL_MESSAGE":
        return {"published": 0, "rejected": 0}
    entries, rejected = [], []
    for log_event in payload.get("logEvents", []):
        try:
            candidate = entry(len(entries), payment_event(payload, log_event))
            if entry_size(candidate) > MAX_BATCH_BYTES:
                raise EntryTooLarge("message: larger than SNS's 256 KiB")
            entries.append(candidate)
        except (InvalidInput, EntryTooLarge) as error:
            rejected.append((log_event, str(error)))
    publish(entries)
    for log_event, reason in rejected:
        report(payload, log_event, reason)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(entries))
    metrics.add_metric(name="LogEventsRejected", unit=MetricUnit.Count, value=len(rejected))
    return {"published": len(entries), "rejected": len(rejected)}
