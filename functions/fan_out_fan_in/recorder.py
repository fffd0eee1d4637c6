"""Record each chunk that failed every retry, so its job finishes partial and names it.

Reads the worker's failure queue: each message is Lambda's invocation record of a chunk event that
failed its retries (``requestPayload`` the event, ``responsePayload`` the error). The chunk is
settled as failed, with the error, in the same transaction as every chunk (:func:`fan_in.settle`):
a failure recorded twice, or after a duplicate of the chunk succeeded, changes nothing. Then the
job is finished if this was its last chunk.

A record that cannot be settled (no job, or no chunk number in it) is reported as a batch item
failure, so it returns to the queue and, after its retries, stays in the queue's dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from fan_in import CHUNK, finish, now, settle
from shared.observability import instrument, logger, metrics

MAX_ERROR_LENGTH = 500


class BatchProcessingError(Exception):
    """Every record of the batch failed: the whole invocation fails, and each record is retried."""


def record_failure(message: dict[str, Any]) -> None:
    invocation = json.loads(message["body"])
    work = CHUNK.validate(invocation["requestPayload"])
    job_id, chunk = work["job_id"], work["chunk"]
    response = invocation.get("responsePayload") or {}
    condition = invocation.get("requestContext", {}).get("condition", "")
    error = {
        "error_type": str(response.get("errorType", condition))[:MAX_ERROR_LENGTH],
        "error_message": str(response.get("errorMessage", condition))[:MAX_ERROR_LENGTH],
    }
    if settle(
        job_id,
        chunk,
        {"status": "FAILED", "settled_at": now(), **error},
        {"failed": 1, "failed_chunks": {chunk}},
    ):
        logger.warning("chunk failed", extra={"job_id": job_id, "chunk": chunk, **error})
        metrics.add_metric(name="ChunksFailed", unit=MetricUnit.Count, value=1)
    finish(job_id)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event["Records"]
    failures = []
    for record in records:
        try:
            record_failure(record)
        except Exception as error:  # any failure returns this record alone to the queue
            logger.error(
                "failure not recorded", extra={"message_id": record["messageId"], "error": repr(error)[:500]}
            )
            failures.append({"itemIdentifier": record["messageId"]})
    if records and len(failures) == len(records):
        raise BatchProcessingError(f"all {len(records)} records failed")
    return {"batchItemFailures": failures}
