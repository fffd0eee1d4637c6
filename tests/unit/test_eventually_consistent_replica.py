"""The replica module's choices, which need no server: a deletion is written as a tombstone and a live
item as an upsert, a change counts as applied only when the guarded statement wrote its row, and the
schema is migrated under the advisory lock, in one transaction. What the guarded SQL itself does (a
stale change skipped, a tombstone winning a tie) runs against PostgreSQL in
tests/e2e/test_eventually_consistent.py."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.unit

STAMP = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Connection:
    """Records what a psycopg connection is asked to run; each statement reports ``rowcount`` rows."""

    def __init__(self, rowcount: int = 1) -> None:
        self.rowcount = rowcount
        self.log: list[tuple] = []

    def execute(self, statement: str, parameters=None):
        self.log.append(("execute", statement, parameters))
        return self

    @contextlib.contextmanager
    def transaction(self):
        self.log.append(("begin",))
        yield
        self.log.append(("commit",))


@pytest.fixture(scope="module")
def replica():
    import importlib
    import sys

    from tests.unit.conftest import FUNCTIONS

    sys.path.insert(0, str(FUNCTIONS / "eventually_consistent"))
    sys.modules.pop("replica", None)
    try:
        yield importlib.import_module("replica")
    finally:
        sys.modules.pop("replica", None)
        sys.path.remove(str(FUNCTIONS / "eventually_consistent"))


def test_a_live_change_is_an_upsert_and_a_deletion_a_tombstone_with_the_changes_values(replica):
    connection = Connection()
    live = replica.Change("a", STAMP, deleted=False, name="tea", quantity=2, price_cents=150)
    assert replica.apply(connection, live) is True
    assert connection.log == [
        (
            "execute",
            replica.UPSERT,
            {"item_id": "a", "name": "tea", "quantity": 2, "price_cents": 150, "last_updated": STAMP},
        )
    ]
    connection.log.clear()
    assert replica.apply(connection, replica.Change("a", STAMP, deleted=True)) is True
    [(_, statement, parameters)] = connection.log
    assert (statement, parameters["item_id"], parameters["last_updated"]) == (replica.TOMBSTONE, "a", STAMP)


@pytest.mark.parametrize("deleted", [False, True])
def test_a_change_the_guard_skipped_is_not_counted_as_applied(replica, deleted):
    """The statement's WHERE guard leaves the row alone when the replica holds as new: 0 rows."""
    change = replica.Change("a", STAMP, deleted=deleted, name="tea", quantity=1, price_cents=1)
    assert replica.apply(Connection(rowcount=0), change) is False


def test_the_schema_is_migrated_under_the_advisory_lock_in_one_transaction(replica):
    connection = Connection()
    replica.migrate(connection)
    assert connection.log == [
        ("begin",),
        ("execute", "SELECT pg_advisory_xact_lock(%s)", (replica.MIGRATION_LOCK,)),
        ("execute", replica.DDL, None),
        ("commit",),
    ]
