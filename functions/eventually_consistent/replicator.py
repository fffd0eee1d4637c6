"""The stream side: each change on the items table's stream, applied to the PostgreSQL replica.

A record is read from its images (``NEW_AND_OLD_IMAGES``): an INSERT or MODIFY from ``NewImage``
(a tombstone the API wrote is a deletion), a REMOVE (a tombstone purged by TTL, or an item
another writer deleted) from ``OldImage``, the only place its stamp is. Every record of the batch
is tried, each in its own statement; those the replica refuses (a CHECK it breaks, a record
without a valid stamp) fail the invocation after the rest have landed. The mapping then bisects
the batch until the refused record is alone, retries it, and sends its batch info to the failure
queue; the records applied meanwhile are delivered again and skipped by the ``last_updated``
guard. A connection error raises at once: the batch is retried whole.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from replica import Change, apply, migrate
from shared.observability import instrument, logger, metrics
from shared.postgres import Database

database = Database(application="eventually_consistent", migrate=migrate)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ChangesRefused(Exception):
    """Changes the replica would not take; the mapping isolates them and keeps their batch info."""


def change_of(record: dict[str, Any]) -> Change:
    """The record's change, or ValueError saying what is wrong with it."""
    stream = record.get("dynamodb") or {}
    removed = record.get("eventName") == "REMOVE"
    image = stream.get("OldImage" if removed else "NewImage")
    if not isinstance(image, dict):
        raise ValueError(f"{record.get('eventName')}: no {'OldImage' if removed else 'NewImage'}")
    from boto3.dynamodb.types import TypeDeserializer

    item = {name: TypeDeserializer().deserialize(value) for name, value in image.items()}
    item_id, stamp = item.get("item_id"), item.get("last_updated")
    if not isinstance(item_id, str) or not item_id:
        raise ValueError("item_id: missing")
    try:
        moment = EPOCH + timedelta(microseconds=int(stamp))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"last_updated: not microseconds since the epoch ({stamp!r})") from None
    if removed or item.get("deleted") is True:
        return Change(item_id, moment, deleted=True)
    return Change(
        item_id,
        moment,
        deleted=False,
        name=_text("name", item.get("name")),
        quantity=_whole("quantity", item.get("quantity")),
        price_cents=_whole("price_cents", item.get("price_cents")),
    )


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    import psycopg

    applied = skipped = 0
    refused: list[str] = []
    for record in event["Records"]:
        sequence = (record.get("dynamodb") or {}).get("SequenceNumber")
        try:
            change = change_of(record)
            if database.run(lambda connection, change=change: apply(connection, change)):
                applied += 1
            else:
                skipped += 1
        except (ValueError, psycopg.IntegrityError, psycopg.DataError) as error:
            reason = str(error).splitlines()[0]
            logger.warning("change refused by the replica", extra={"sequence": sequence, "reason": reason})
            refused.append(f"{sequence}: {reason}")
    metrics.add_metric(name="ChangesApplied", unit=MetricUnit.Count, value=applied)
    metrics.add_metric(name="StaleChangesSkipped", unit=MetricUnit.Count, value=skipped)
    if refused:
        metrics.add_metric(name="ChangesRefused", unit=MetricUnit.Count, value=len(refused))
        raise ChangesRefused("; ".join(refused))
    return {"applied": applied, "skipped": skipped}


def _whole(name: str, value: Any) -> int | None:
    """A whole DynamoDB number (a Decimal) as int; a missing one as None, for the replica's CHECK to judge.
    Anything else is refused here: PostgreSQL would round 1.5 into an integer column, or cast '5'."""
    from decimal import Decimal

    if value is None:
        return None
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"{name}: not a whole number ({value!r})")


def _text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name}: not a string ({value!r})")
