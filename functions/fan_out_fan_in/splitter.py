"""Start a job: record it, split its lines into chunks, and hand each chunk to a worker (Event).

Invoked through the SDK (RequestResponse) with ``{"job_id", "lines", "chunk_size"}``; ``job_id``
is the caller's, so a job can be submitted again safely. The job's record is put first, only if it
is new, with its chunk count: that count is what the workers' fan-in compares against. Then one
asynchronous invoke per chunk: Lambda queues each and owns its retries and failure destination.

A repeat of a running job with the same lines sends every chunk again (the workers settle each
once), which is how a caller recovers from a splitter that failed part-way; a repeat of a finished
job answers its record; the same ``job_id`` with other lines is a 409. Bad input is a 400 naming
the field; nothing is recorded or sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from fan_in import (
    JOB_PART,
    MAX_CHUNK_SIZE,
    MAX_CHUNKS,
    MAX_LINE_LENGTH,
    MAX_LINES,
    RUNNING,
    TOTALS,
    job_summary,
    now,
    table,
)
from shared.dynamodb import from_attributes
from shared.observability import instrument, logger, metrics
from shared.validation import Field, InvalidInput, Schema, key_value

WORKER_FUNCTION = os.environ["WORKER_FUNCTION_NAME"]
DEFAULT_CHUNK_SIZE = 100
lambda_client = boto3.client("lambda")

JOB = Schema(
    job_id=Field(str, min_length=1, max_length=64),
    lines=Field(list, min_length=1, max_length=MAX_LINES),
    chunk_size=Field(int, required=False, minimum=1, maximum=MAX_CHUNK_SIZE),
)


def validate(event: Any) -> dict[str, Any]:
    job = JOB.validate(event)
    key_value("job_id", job["job_id"])
    for number, line in enumerate(job["lines"]):
        if not isinstance(line, str) or len(line) > MAX_LINE_LENGTH:
            raise InvalidInput(f"lines[{number}]: expected a string of at most {MAX_LINE_LENGTH} characters")
    size = job.get("chunk_size") or DEFAULT_CHUNK_SIZE
    if -(-len(job["lines"]) // size) > MAX_CHUNKS:
        raise InvalidInput(f"chunk_size: {size} makes more than {MAX_CHUNKS} chunks; use larger chunks")
    return {**job, "chunk_size": size}


def answer(status: int, code: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "error": {"code": code, "message": message}}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        job = validate(event)
    except InvalidInput as error:
        logger.info("job refused", extra={"reason": str(error)})
        return answer(400, "InvalidJob", str(error))
    job_id, lines, size = job["job_id"], job["lines"], job["chunk_size"]
    chunks = [lines[start : start + size] for start in range(0, len(lines), size)]
    digest = hashlib.sha256(json.dumps([size, lines]).encode()).hexdigest()
    record = {
        "job_id": job_id,
        "part": JOB_PART,
        "status": RUNNING,
        "chunks": len(chunks),
        "settled": 0,
        "failed": 0,
        **dict.fromkeys(TOTALS, 0),
        "digest": digest,
        "created_at": now(),
    }
    try:
        table.put_item(
            record,
            ConditionExpression="attribute_not_exists(job_id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except table.ConditionalCheckFailed as error:
        existing = from_attributes(error.response.get("Item", {}))
        if existing.get("digest") != digest:
            return answer(409, "JobConflict", f"job_id: {job_id!r} was submitted with other lines")
        if existing.get("status") != RUNNING:
            return {"statusCode": 200, "job": job_summary(existing)}
        logger.info("running job submitted again: sending its chunks again", extra={"job_id": job_id})
    for number, chunk in enumerate(chunks):
        # As UTF-8, not JSON escapes: an emoji is 4 bytes, not 12, so the largest chunk (MAX_CHUNK_SIZE
        # lines of MAX_LINE_LENGTH) stays under Lambda's 1 MB for an asynchronous event.
        payload = json.dumps({"job_id": job_id, "chunk": number, "lines": chunk}, ensure_ascii=False).encode()
        try:
            lambda_client.invoke(FunctionName=WORKER_FUNCTION, InvocationType="Event", Payload=payload)
        except (ClientError, BotoCoreError) as error:  # refused, unreachable or no answer in time
            # Chunks before this one are queued; the same job submitted again sends them all, each settled once.
            logger.error("fan-out stopped", extra={"job_id": job_id, "chunk": number, "reason": str(error)})
            return answer(503, "FanOutFailed", f"chunk {number} not sent; submit the same job again")
    metrics.add_metric(name="ChunksSent", unit=MetricUnit.Count, value=len(chunks))
    return {"statusCode": 202, "job_id": job_id, "chunks": len(chunks)}
