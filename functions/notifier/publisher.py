"""Publish an order event to the notifier topic, refusing one that breaks the message schema.

Invoked through the SDK by the order service (RequestResponse) with the event itself. A valid event
is published and answered ``{"statusCode": 202, "message_id": ...}``; a bad one is answered 400
with every field at fault named, and nothing is published, so no subscriber ever sees it.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from schema import MESSAGE_SCHEMA
from shared.notifier import InvalidMessage, NotifierClient
from shared.observability import instrument, logger, metrics

client = NotifierClient(os.environ["TOPIC_ARN"], MESSAGE_SCHEMA, attribute_fields=("event_type",))


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        message_id = client.publish(event)
    except InvalidMessage as error:
        logger.info("message refused", extra={"reason": str(error)})
        metrics.add_metric(name="MessagesRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 400, "error": {"code": "InvalidMessage", "message": str(error)}}
    metrics.add_metric(name="MessagesPublished", unit=MetricUnit.Count, value=1)
    return {"statusCode": 202, "message_id": message_id}
