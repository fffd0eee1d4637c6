"""One subscriber's consumer: store each order event its subscription selected in its own inbox table.

The subscription delivers raw messages (the event as published), so the body is the event. It is
checked against the same schema the publisher enforced (a subscriber trusts no producer blindly):
a record that fails is reported as a batch item failure, retried by SQS, and after the queue's
maxReceiveCount moves to the queue's dead-letter queue. An event delivered twice (SNS and SQS are
at-least-once) is stored once: the put is keyed by ``event_id``.

The partial batch response is built here, as the scalable webhook's worker does, rather than with
Powertools' ``BatchProcessor``, whose import costs cold start for what is one loop.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from schema import MESSAGE_SCHEMA
from shared.dynamodb import Table
from shared.json_schema import validate
from shared.observability import instrument, logger, metrics

SUBSCRIBER = os.environ["SUBSCRIBER_NAME"]
inbox = Table(os.environ["INBOX_TABLE_NAME"])


class BatchProcessingError(Exception):
    """Every record of the batch failed: the whole invocation fails, and each record is retried."""


def store(record: dict[str, Any]) -> None:
    event = validate(MESSAGE_SCHEMA, json.loads(record["body"]))
    order = event["order"]
    inbox.put_item(
        {
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "order_id": order["order_id"],
            "total_cents": order["total_cents"],
            "country": order["country"],
        }
    )
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=1)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event["Records"]
    failures = []
    for record in records:
        try:
            store(record)
        except Exception as error:  # any failure returns this record alone to the queue
            logger.warning(
                "record failed",
                extra={
                    "subscriber": SUBSCRIBER,
                    "message_id": record["messageId"],
                    "error": repr(error)[:500],
                },
            )
            failures.append({"itemIdentifier": record["messageId"]})
    if records and len(failures) == len(records):
        raise BatchProcessingError(f"all {len(records)} records failed")
    return {"batchItemFailures": failures}
