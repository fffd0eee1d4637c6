"""The job's results table and its fan-in, shared by the splitter, the worker and the recorder.

One table keyed by job: the job's record (``part = "job"``) and one item per settled chunk
(``part = "chunk#00042"``). A chunk is *settled* once, by whoever gets there first: the worker with
its result or the recorder with its failure. Settling is one DynamoDB transaction that puts the
chunk's item only if it is new and adds to the job's counters, so a duplicate delivery changes
nothing. Completion is one conditional write: the job leaves ``RUNNING`` only when ``settled``
equals ``chunks``, and only once, so exactly one caller finishes it and no one polls.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table, from_attributes, to_attributes
from shared.observability import logger, metrics
from shared.validation import Field, Schema

#: Longest line and largest chunk: a chunk's event, sent as UTF-8, stays under Lambda's 1 MB async
#: payload (at most 6 bytes a character, for a control character's escape: 0.6 MB).
MAX_LINE_LENGTH = 200
MAX_CHUNK_SIZE = 500
MAX_LINES = 10_000
MAX_CHUNKS = 1_000
JOB_PART = "job"
RUNNING, COMPLETE, PARTIAL = "RUNNING", "COMPLETE", "PARTIAL"
#: What a chunk adds to its job: the aggregate is the sum of these over the chunks that succeeded.
TOTALS = ("orders", "units", "revenue_cents")

CHUNK = Schema(
    job_id=Field(str, min_length=1, max_length=64),
    chunk=Field(int, minimum=0, maximum=MAX_CHUNKS - 1),
    lines=Field(list, min_length=1, max_length=MAX_CHUNK_SIZE),
)

#: Every chunk writes its job's record, so concurrent transactions on it can be cancelled with
#: ``TransactionConflict``; DynamoDB's advice is to retry them with backoff, which is cheaper than
#: failing the invocation into Lambda's minute-long retry.
CONFLICT_ATTEMPTS = 8
CONFLICT_BACKOFF_SECONDS = (0.02, 1.0)

table = Table(os.environ["JOBS_TABLE_NAME"])
sleep = time.sleep


class UnknownJob(Exception):
    """A chunk of a job that has no record, or that already finished: nothing to add it to."""


def chunk_part(chunk: int) -> str:
    return f"chunk#{chunk:05d}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def settle(job_id: str, chunk: int, item: dict[str, Any], adds: dict[str, int]) -> bool:
    """Put the chunk's ``item`` and add ``adds`` to its job, both or neither; False for a chunk
    already settled (a duplicate delivery, or a failure recorded after its duplicate succeeded)."""
    names = {"#status": "status", **{f"#{name}": name for name in adds}}
    values = {":one": 1, ":running": RUNNING, **{f":{name}": value for name, value in adds.items()}}
    additions = ", ".join(["settled :one", *(f"#{name} :{name}" for name in adds)])
    request = [
        {
            "Put": {
                "TableName": table.name,
                "Item": to_attributes({"job_id": job_id, "part": chunk_part(chunk), **item}),
                "ConditionExpression": "attribute_not_exists(part)",
            }
        },
        {
            "Update": {
                "TableName": table.name,
                "Key": to_attributes({"job_id": job_id, "part": JOB_PART}),
                "UpdateExpression": f"ADD {additions}",
                "ConditionExpression": "#status = :running",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_attributes(values),
            }
        },
    ]
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            table.client.transact_write_items(TransactItems=request)
        except table.client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                logger.info("chunk already settled", extra={"job_id": job_id, "chunk": chunk})
                metrics.add_metric(name="DuplicateChunks", unit=MetricUnit.Count, value=1)
                return False
            if reasons[1:2] == ["ConditionalCheckFailed"]:
                raise UnknownJob(f"job {job_id!r} has no running record for chunk {chunk}") from None
            if "TransactionConflict" in reasons and attempt < CONFLICT_ATTEMPTS:
                backoff(attempt)
                continue
            raise
        return True
    raise AssertionError("unreachable: the last attempt returns or raises")


def backoff(attempt: int) -> None:
    """Full jitter: a random wait up to twice the last, so conflicting workers spread out."""
    low, high = CONFLICT_BACKOFF_SECONDS
    sleep(random.uniform(0, min(high, low * 2**attempt)))  # noqa: S311 - jitter, not a secret


def finish(job_id: str) -> dict[str, Any] | None:
    """Finish the job if every chunk has settled and no one has finished it yet: the job's record
    with its final status if this call did, else None. Safe to call after every settle."""
    key = {"job_id": job_id, "part": JOB_PART}
    for status, extra in ((COMPLETE, " AND failed = :zero"), (PARTIAL, "")):
        try:
            job = table.update_item(
                key,
                UpdateExpression="SET #status = :finished, finished_at = :now",
                ConditionExpression=f"settled = chunks AND #status = :running{extra}",
                ExpressionAttributeNames={"#status": "status"},
                values={
                    ":finished": status,
                    ":now": now(),
                    ":running": RUNNING,
                    **({":zero": 0} if extra else {}),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except table.ConditionalCheckFailed as error:
            old = from_attributes(error.response.get("Item", {}))
            if old.get("status") != RUNNING or old.get("settled") != old.get("chunks"):
                return None  # not every chunk has settled, or another caller finished it
            continue  # all settled, some failed: the job is partial
        summary = job_summary(job)
        logger.info("job finished", extra=summary)
        metrics.add_metric(name=f"Jobs{status.capitalize()}", unit=MetricUnit.Count, value=1)
        return summary
    return None


def job_summary(job: dict[str, Any]) -> dict[str, Any]:
    """A job's record as callers see it: plain numbers, failed chunks sorted."""
    plain = {
        k: int(v) if isinstance(v, Decimal) else v for k, v in job.items() if k not in ("part", "digest")
    }
    if "failed_chunks" in job:
        plain["failed_chunks"] = sorted(int(c) for c in job["failed_chunks"])
    return plain
