"""Accept a webhook in milliseconds: validate it, put it on the queue, answer 202.

The receiver does no work beyond that, so a burst of webhooks costs only queue writes; the worker
drains the queue at the pace the downstream store can take. A malformed webhook gets a 400 here
and never reaches the queue.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from shared.http import validated_body
from shared.observability import instrument, logger, metrics
from webhook_event import WEBHOOK_EVENT

sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]
app = APIGatewayRestResolver()


@app.post("/webhooks")
def receive() -> tuple[dict[str, Any], int]:
    event = validated_body(app, WEBHOOK_EVENT)
    sqs.send_message(
        QueueUrl=QUEUE_URL,
        MessageBody=json.dumps(event, separators=(",", ":")),
        MessageAttributes={"type": {"DataType": "String", "StringValue": event["type"]}},
    )
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
    logger.info("accepted webhook", extra={"webhook_id": event["id"], "type": event["type"]})
    return {"accepted": event["id"]}, 202


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
