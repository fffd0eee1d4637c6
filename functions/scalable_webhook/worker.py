"""Drain the webhook queue into the events table, once per webhook id.

Each record is handled alone: a record that fails is reported as a batch item failure, so only it
returns to the queue, and after the queue's maxReceiveCount it moves to the dead-letter queue. A
webhook delivered twice (senders retry, SQS is at-least-once) is written once: the put is
conditional on the id being new, and a repeat counts as done.

The partial batch response is built here rather than with Powertools' ``BatchProcessor``: its import
loads every event data class (about 20 ms of cold start, a tenth of a bare boto3 handler) for what
is one loop. The contract is the same: failed records are reported by ``messageId``, and a batch in
which every record failed raises ``BatchProcessingError``, so the invocation counts as an error.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from webhook_event import WEBHOOK_EVENT

table = Table(os.environ["TABLE_NAME"])


class BatchProcessingError(Exception):
    """Every record of the batch failed: the whole invocation fails, and each record is retried."""


def store(record: dict[str, Any]) -> None:
    event = WEBHOOK_EVENT.validate(json.loads(record["body"]))
    try:
        table.put_item(
            {
                "id": event["id"],
                "type": event["type"],
                "data": json.dumps(event["data"], separators=(",", ":")),
                "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            },
            ConditionExpression="attribute_not_exists(id)",
        )
    except table.ConditionalCheckFailed:
        logger.info("duplicate webhook ignored", extra={"webhook_id": event["id"]})
        metrics.add_metric(name="DuplicateWebhooks", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="WebhooksStored", unit=MetricUnit.Count, value=1)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event["Records"]
    failures = []
    for record in records:
        try:
            store(record)
        except Exception as error:  # any failure returns this record alone to the queue
            logger.warning(
                "record failed", extra={"message_id": record["messageId"], "error": repr(error)[:500]}
            )
            failures.append({"itemIdentifier": record["messageId"]})
    if records and len(failures) == len(records):
        raise BatchProcessingError(f"all {len(records)} records failed")
    return {"batchItemFailures": failures}
