"""The less scalable store: at most ``WRITES_PER_SECOND`` writes in any one second, "throttled" beyond.

It stands for the system a frugal consumer protects (a legacy database, a partner's API with a
quota) and answers as such a system does: each write it takes is stored, the rest come back as
throttled for the caller to retry later. The limit is held here, in the store, because only the
store sees every one of its clients; a consumer can pace itself, never the others.

The limit is a sliding window: the store keeps the times of its latest accepted writes in one
item of its table and takes a write only while fewer than the limit fall in the second before it,
so no one-second window, wherever it starts, holds more. The item is replaced conditionally on
its version, so two instances of the store cannot both spend the same capacity. Time is the
function's clock (the local cloud's virtual one offline).

Invoked synchronously with ``{"writes": [{"id": ..., ...}, ...]}``; answers
``{"stored": [ids], "throttled": [ids]}``. A write whose id is stored already is answered as
stored and left as it was, so a redelivered message is written once; it still spends capacity, as
a repeated request to the real system would.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from shared.dynamodb import Table
from shared.observability import instrument, logger, metrics

table = Table(os.environ["TABLE_NAME"])
WRITES_PER_SECOND = int(os.environ["WRITES_PER_SECOND"])
#: The key of the limiter's item; written ids never start with "#" (the consumer checks them).
LIMITER_KEY = "#limiter"
WINDOW_MS = 1000
#: Attempts to spend capacity when another instance changed the limiter item meanwhile.
ATTEMPTS = 3


class BadRequest(ValueError):
    """The caller sent something that is not a list of writes with ids."""


def now_ms() -> int:
    return int(time.time() * 1000)


def admit(wanted: int, at: int) -> int:
    """Spend up to ``wanted`` writes of capacity at ``at`` (ms); return how many were granted."""
    for _ in range(ATTEMPTS):
        limiter = table.get_item({"id": LIMITER_KEY}, ConsistentRead=True)
        version = int(limiter["version"]) if limiter else 0
        recent = [int(t) for t in limiter["recent"]] if limiter else []
        recent = [t for t in recent if t > at - WINDOW_MS]
        granted = min(wanted, WRITES_PER_SECOND - len(recent))
        if granted <= 0:
            return 0
        try:
            table.put_item(
                {"id": LIMITER_KEY, "version": version + 1, "recent": recent + [at] * granted},
                ConditionExpression="attribute_not_exists(id) OR version = :version",
                ExpressionAttributeValues={":version": {"N": str(version)}},
            )
        except table.ConditionalCheckFailed:
            continue
        return granted
    return 0


def store(write: dict[str, Any], at: int) -> bool:
    """Write once: False if the id is stored already (a redelivery)."""
    try:
        table.put_item({**write, "written_at": at}, ConditionExpression="attribute_not_exists(id)")
    except table.ConditionalCheckFailed:
        return False
    return True


def parse(event: Any) -> list[dict[str, Any]]:
    writes = event.get("writes") if isinstance(event, dict) else None
    if not isinstance(writes, list) or not all(
        isinstance(w, dict) and isinstance(w.get("id"), str) and w["id"] and not w["id"].startswith("#")
        for w in writes
    ):
        raise BadRequest('expected {"writes": [{"id": "<not starting with #>", ...}, ...]}')
    return writes


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    writes = parse(event)
    at = now_ms()
    granted = admit(len(writes), at) if writes else 0
    taken, throttled = writes[:granted], writes[granted:]
    repeated = sum(not store(write, at) for write in taken)
    metrics.add_metric(name="StoreWrites", unit=MetricUnit.Count, value=len(taken) - repeated)
    if repeated:
        metrics.add_metric(name="StoreRepeatedWrites", unit=MetricUnit.Count, value=repeated)
    if throttled:
        metrics.add_metric(name="StoreThrottled", unit=MetricUnit.Count, value=len(throttled))
        logger.info("throttled", extra={"throttled": len(throttled), "limit": WRITES_PER_SECOND})
    return {"stored": [w["id"] for w in taken], "throttled": [w["id"] for w in throttled]}
