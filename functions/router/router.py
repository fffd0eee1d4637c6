"""Route each message to the one task that handles its type, asynchronously, and move on.

Invoked asynchronously. The envelope is validated, the task is looked up by ``type`` in the route
table the construct gives in ``ROUTES`` (its one source), and the message (stamped with ``routed_at``) is handed to that task with
``InvocationType=Event``. A message that cannot be routed (malformed, or of an unknown type)
raises, so Lambda retries it and then sends it, with the error, to the router's failure
destination; a routed message's own failures are its task's, ending in the task's destination.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from messages import ENVELOPE
from shared.observability import instrument, logger, metrics

#: Message type -> task, from the construct (patterns/router.py), read at cold start.
ROUTES: dict[str, str] = json.loads(os.environ["ROUTES"])
#: Each task's function name, read at cold start: a missing one fails the deployment's first call.
TASK_FUNCTIONS = {task: os.environ[f"TASK_FUNCTION_{task.upper()}"] for task in set(ROUTES.values())}
lambda_client = boto3.client("lambda")


class UnknownMessageType(Exception):
    """No task handles this message type."""


def route(message: dict[str, Any]) -> str:
    """The task ``message`` goes to; raises :class:`UnknownMessageType` if there is none."""
    task = ROUTES.get(message["type"])
    if task is None:
        known = ", ".join(sorted(ROUTES))
        raise UnknownMessageType(f"no task for message type {message['type']!r}; known types: {known}")
    return task


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    message = ENVELOPE.validate(event)
    try:
        task = route(message)
    except UnknownMessageType:
        logger.warning("unroutable message", extra={"message_id": message["id"], "type": message["type"]})
        metrics.add_metric(name="UnroutableMessages", unit=MetricUnit.Count, value=1)
        raise
    routed = {**message, "routed_at": datetime.now(UTC).isoformat(timespec="milliseconds")}
    lambda_client.invoke(
        FunctionName=TASK_FUNCTIONS[task], InvocationType="Event", Payload=json.dumps(routed).encode()
    )
    logger.info("message routed", extra={"message_id": message["id"], "type": message["type"], "task": task})
    metrics.add_metric(name="MessagesRouted", unit=MetricUnit.Count, value=1)
    return {"id": message["id"], "task": task}
