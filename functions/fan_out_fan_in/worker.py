"""Work one chunk of a job and settle it, once, however often its event arrives.

Invoked asynchronously by the splitter with ``{"job_id", "chunk", "lines"}``; each line is an order
``sku,quantity,unit_price_cents``. The chunk's totals (orders, units, revenue) are settled into the
job with one transaction that puts the chunk's result only if it is new (:func:`fan_in.settle`), so
a duplicate delivery adds nothing. Then the worker tries to finish the job (:func:`fan_in.finish`):
the one whose settle brought the count to the job's chunks does, exactly once; a duplicate tries
too, so a crash between the two steps cannot leave a job running forever.

A line that cannot be read fails the chunk, naming the line: Lambda retries it, then sends the
event to the failure queue, where the recorder settles it as failed and the job ends partial.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from fan_in import CHUNK, MAX_LINE_LENGTH, finish, now, settle
from shared.observability import instrument, logger, metrics


class ChunkRejected(Exception):
    """A line of the chunk is not an order; retrying will not change that, the recorder will report it."""


def totals(chunk: int, lines: list[Any]) -> dict[str, int]:
    orders = units = revenue = 0
    for number, line in enumerate(lines, start=1):
        where = f"chunk {chunk} line {number}"
        if not isinstance(line, str) or len(line) > MAX_LINE_LENGTH:
            raise ChunkRejected(f"{where}: expected a text line of at most {MAX_LINE_LENGTH} characters")
        fields = line.split(",")
        if len(fields) != 3 or not fields[0].strip():
            raise ChunkRejected(f"{where}: expected sku,quantity,unit_price_cents, got {line[:60]!r}")
        quantity, price = _whole(where, "quantity", fields[1]), _whole(where, "unit_price_cents", fields[2])
        orders += 1
        units += quantity
        revenue += quantity * price
    return {"orders": orders, "units": units, "revenue_cents": revenue}


def _whole(where: str, name: str, text: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ChunkRejected(f"{where}: {name} {text[:20]!r} is not a whole number from 0 to 999999999")
    return int(text)


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    work = CHUNK.validate(event)
    job_id, chunk = work["job_id"], work["chunk"]
    result = totals(chunk, work["lines"])
    if settle(job_id, chunk, {"status": "OK", "settled_at": now(), **result}, result):
        metrics.add_metric(name="ChunksSettled", unit=MetricUnit.Count, value=1)
        logger.info("chunk settled", extra={"job_id": job_id, "chunk": chunk, **result})
    finished = finish(job_id)
    return {"job_id": job_id, "chunk": chunk, **result, "finished": finished is not None}
