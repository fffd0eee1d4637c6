"""Drain the webhook queue into the events table, once per webhook id.

Each record is handled alone: a record that fails is reported as a batch item failure, so only it
returns to the queue, and after the queue's maxReceiveCount it moves to the dead-letter queue. A
webhook delivered twice (senders retry, SQS is at-least-once) is written once: the put is
conditional on the id being new, and a repeat counts as done.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics
from webhook_event import WEBHOOK_EVENT

table = Table(os.environ["TABLE_NAME"])
processor = BatchProcessor(event_type=EventType.SQS)


def store(record: SQSRecord) -> None:
    event = WEBHOOK_EVENT.validate(json.loads(record.body))
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
    return process_partial_response(event=event, record_handler=store, processor=processor, context=context)
