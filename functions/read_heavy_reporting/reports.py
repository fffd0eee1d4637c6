"""The reporting functions: a cache-aside report reader, a sale recorder, and the cache invalidator.

``read_report`` answers ``{"region"}`` with the region's sales report from the cache, or, on a miss,
from PostgreSQL, then keeps it in the cache for ``CACHE_TTL_SECONDS``. ``record_sale`` writes
``{"region", "amount"}`` to PostgreSQL and announces it on the event bus; ``invalidate`` (the bus's
rule target) deletes the region's cached report, so the next read is fresh rather than up to a TTL
old. Bad input is a 400 naming the field; an invalidation that fails is raised, so Lambda retries
it and then keeps it in the on-failure queue.
"""

from __future__ import annotations

import json
import os
import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from connections import cache, with_database
from shared.observability import instrument, logger, metrics

TTL_SECONDS = int(os.environ.get("CACHE_TTL_SECONDS", "300"))
REGION = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
EVENT_SOURCE = "read_heavy_reporting.sales"
SALE_RECORDED = "SaleRecorded"
MAX_AMOUNT = Decimal("1000000")

_events = None


class BadInput(ValueError):
    """A request the functions refuse, naming the field."""


def cache_key(region: str) -> str:
    return f"report:sales:{region}"


def region_of(body: Any) -> str:
    region = body.get("region") if isinstance(body, dict) else None
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise BadInput("region: must be 1 to 32 lowercase letters, digits or dashes, starting with a letter")
    return region


def amount_of(body: dict[str, Any]) -> Decimal:
    raw = body.get("amount")
    try:
        amount = (
            Decimal(str(raw)) if isinstance(raw, (int, float, str)) and not isinstance(raw, bool) else None
        )
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 < amount <= MAX_AMOUNT:
        raise BadInput(f"amount: must be a number above 0 and at most {MAX_AMOUNT}")
    if amount != amount.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
        raise BadInput("amount: at most 2 decimal places")
    return amount


def refused(error: BadInput) -> dict[str, Any]:
    logger.info("request refused", extra={"reason": str(error)})
    return {"statusCode": 400, "message": str(error)}


def cached_report(region: str) -> dict[str, Any] | None:
    """The cached report, or None on a miss or when the cache cannot be reached (reads then fall
    back to the database: the cache makes reads cheaper, it is not where reports live)."""
    from redis import RedisError

    try:
        cached = cache().get(cache_key(region))
    except RedisError as error:
        logger.warning("cache unreachable, reading the database", extra={"error": str(error)})
        return None
    return None if cached is None else json.loads(cached)


def database_report(region: str) -> dict[str, Any]:
    count, total = with_database(
        lambda connection: connection.execute("SELECT * FROM sales_report(%s)", (region,)).fetchone()
    )
    return {"region": region, "sales": count, "total": f"{total:.2f}"}


@instrument
def read_report(event: Any, context: Any) -> dict[str, Any]:
    try:
        region = region_of(event)
    except BadInput as error:
        return refused(error)
    report = cached_report(region)
    if report is not None:
        metrics.add_metric(name="ReportCacheHits", unit=MetricUnit.Count, value=1)
        return {"statusCode": 200, "source": "cache", "report": report}
    metrics.add_metric(name="ReportCacheMisses", unit=MetricUnit.Count, value=1)
    report = database_report(region)
    from redis import RedisError

    try:
        cache().set(cache_key(region), json.dumps(report), ex=TTL_SECONDS)
    except RedisError as error:
        logger.warning("could not cache the report", extra={"error": str(error)})
    return {"statusCode": 200, "source": "database", "report": report}


@instrument
def record_sale(event: Any, context: Any) -> dict[str, Any]:
    global _events
    try:
        region = region_of(event)
        amount = amount_of(event)
    except BadInput as error:
        return refused(error)
    sale_id = with_database(
        lambda connection: connection.execute(
            "INSERT INTO sales (region, amount) VALUES (%s, %s) RETURNING id", (region, amount)
        ).fetchone()[0]
    )
    if _events is None:
        import boto3

        _events = boto3.client("events")
    sent = _events.put_events(
        Entries=[
            {
                "EventBusName": os.environ["EVENT_BUS_NAME"],
                "Source": EVENT_SOURCE,
                "DetailType": SALE_RECORDED,
                "Detail": json.dumps({"region": region, "saleId": sale_id}),
            }
        ]
    )
    if sent.get("FailedEntryCount"):
        # The sale is stored; its report stays cached until the TTL. Fail loudly so it is retried.
        raise RuntimeError(f"SaleRecorded not accepted: {sent['Entries'][0].get('ErrorMessage')}")
    return {"statusCode": 201, "sale": {"id": sale_id, "region": region, "amount": f"{amount:.2f}"}}


@instrument
def invalidate(event: Any, context: Any) -> dict[str, Any]:
    region = region_of(event.get("detail") if isinstance(event, dict) else None)
    removed = cache().delete(cache_key(region))
    logger.info("report invalidated", extra={"region": region, "removed": removed})
    return {"region": region, "removed": removed}
