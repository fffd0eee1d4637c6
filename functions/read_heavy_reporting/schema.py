"""The reporting schema, migrated by the first connection of each execution environment.

Idempotent DDL under a transaction-scoped advisory lock, so two cold starts at once do not race on
``CREATE TABLE IF NOT EXISTS``. ``sales_report`` is the one query the reports run; it counts its
own calls in ``report_reads``, which is how the database's load from reports is seen on the server
(and how the tests show a cache hit does not reach it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK = 0x5EAD_4EA7

DDL = """
CREATE TABLE IF NOT EXISTS sales (
    id bigserial PRIMARY KEY,
    region text NOT NULL,
    amount numeric(12, 2) NOT NULL CHECK (amount > 0),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sales_by_region ON sales (region);
CREATE TABLE IF NOT EXISTS report_reads (region text PRIMARY KEY, reads bigint NOT NULL);
CREATE OR REPLACE FUNCTION sales_report(wanted text)
RETURNS TABLE (sale_count bigint, total_amount numeric) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_reads AS counted VALUES (wanted, 1)
        ON CONFLICT (region) DO UPDATE SET reads = counted.reads + 1;
    RETURN QUERY SELECT count(*), coalesce(sum(s.amount), 0) FROM sales s WHERE s.region = wanted;
END
$$;
"""


def migrate(connection: psycopg.Connection) -> None:
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute(DDL)
