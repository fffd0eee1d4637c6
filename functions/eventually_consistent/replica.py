"""The relational replica of the items table, and the one guarded statement per change.

Each row carries the ``last_updated`` of the change it holds, and a change is applied only when it
is newer (``WHERE replica.last_updated < excluded.last_updated``): a change the stream delivers
again (a retried or bisected batch) or late (a replay) is skipped, so the replica converges on
the newest version whatever order changes arrive in. A deletion is a tombstone row (``deleted``,
its stamp kept), never a removed row: a removed row would let an older change arriving later
bring the item back. A tombstone wins a tie with a live row of the same stamp, since a REMOVE
carries the stamp of the version it removed. ``live_items`` is what queries read.

The schema is migrated by the first connection of each execution environment, under an advisory
lock so two cold starts do not race. The CHECK constraints are the replica's own rules: a change
breaking one is refused here and kept in the stream mapping's failure queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK = 0xE7E7_C0DE

DDL = """
CREATE TABLE IF NOT EXISTS items (
    item_id text PRIMARY KEY,
    name text,
    quantity integer CHECK (quantity >= 0),
    price_cents bigint CHECK (price_cents >= 0),
    deleted boolean NOT NULL DEFAULT false,
    last_updated timestamptz NOT NULL,
    replicated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (deleted OR (name IS NOT NULL AND quantity IS NOT NULL AND price_cents IS NOT NULL))
);
CREATE OR REPLACE VIEW live_items AS
    SELECT item_id, name, quantity, price_cents, last_updated FROM items WHERE NOT deleted;
"""

UPSERT = """
INSERT INTO items AS replica (item_id, name, quantity, price_cents, deleted, last_updated)
VALUES (%(item_id)s, %(name)s, %(quantity)s, %(price_cents)s, false, %(last_updated)s)
ON CONFLICT (item_id) DO UPDATE SET
    name = excluded.name, quantity = excluded.quantity, price_cents = excluded.price_cents,
    deleted = false, last_updated = excluded.last_updated, replicated_at = now()
WHERE replica.last_updated < excluded.last_updated
"""

TOMBSTONE = """
INSERT INTO items AS replica (item_id, deleted, last_updated)
VALUES (%(item_id)s, true, %(last_updated)s)
ON CONFLICT (item_id) DO UPDATE SET
    name = NULL, quantity = NULL, price_cents = NULL,
    deleted = true, last_updated = excluded.last_updated, replicated_at = now()
WHERE replica.last_updated < excluded.last_updated
   OR (replica.last_updated = excluded.last_updated AND NOT replica.deleted)
"""


@dataclass(frozen=True)
class Change:
    """One item's version as the stream carries it: a live item, or a deletion."""

    item_id: str
    last_updated: datetime
    deleted: bool
    name: str | None = None
    quantity: int | None = None
    price_cents: int | None = None


def migrate(connection: psycopg.Connection) -> None:
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute(DDL)


def apply(connection: psycopg.Connection, change: Change) -> bool:
    """Apply ``change`` if it is newer than the row; False if the replica already holds as new."""
    statement = TOMBSTONE if change.deleted else UPSERT
    cursor = connection.execute(
        statement,
        {
            "item_id": change.item_id,
            "name": change.name,
            "quantity": change.quantity,
            "price_cents": change.price_cents,
            "last_updated": change.last_updated,
        },
    )
    return cursor.rowcount == 1
