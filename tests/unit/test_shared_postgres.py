"""The shared PostgreSQL connection's lifecycle against moto's Secrets Manager: the secret's credentials
and the TLS settings reach the driver, the schema is migrated once per opened connection, a warm
environment reuses its connection, a broken or closed one is remade once, and a statement the server
refused is not retried. psycopg.connect is replaced by a recorder; the real server path runs in the
e2e tests of eventually_consistent and read_heavy_reporting."""

from __future__ import annotations

import json

import boto3
import psycopg
import pytest

from shared.postgres import Database

pytestmark = pytest.mark.unit

SECRET = {"host": "db.internal", "port": 5433, "username": "app", "password": "s3cret", "dbname": "shop"}


class Connection:
    """Stands in for a psycopg connection: its state flags, and the statements it ran. One whose
    server went away fails its next statement and is then ``broken``, as psycopg marks it."""

    def __init__(self, fail_with: Exception | None = None, *, server_gone: bool = False) -> None:
        self.closed = self.broken = False
        self.fail_with, self.server_gone = fail_with, server_gone
        self.ran: list[str] = []

    def execute(self, statement: str) -> str:
        if self.server_gone:
            self.broken = True
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        if self.fail_with is not None:
            raise self.fail_with
        self.ran.append(statement)
        return statement


@pytest.fixture
def opened(aws, monkeypatch):
    """The keyword arguments of each psycopg.connect call; each returns the next queued Connection."""
    arn = boto3.client("secretsmanager").create_secret(Name="db", SecretString=json.dumps(SECRET))["ARN"]
    monkeypatch.setenv("DB_SECRET_ARN", arn)
    monkeypatch.delenv("DB_SSLMODE", raising=False)
    monkeypatch.delenv("DB_SSLROOTCERT", raising=False)
    calls: list[dict] = []
    queue: list[Connection] = []

    def connect(**kwargs):
        calls.append(kwargs)
        return queue.pop(0) if queue else Connection()

    monkeypatch.setattr(psycopg, "connect", connect)
    return calls, queue


def test_the_secret_and_tls_reach_the_driver_and_a_warm_connection_is_reused(opened, monkeypatch):
    calls, _ = opened
    migrated = []
    database = Database(application="orders", migrate=migrated.append)

    assert database.run(lambda c: c.execute("SELECT 1")) == "SELECT 1"
    assert database.run(lambda c: c.execute("SELECT 2")) == "SELECT 2"

    assert calls == [
        {
            "host": "db.internal",
            "port": 5433,
            "user": "app",
            "password": "s3cret",
            "dbname": "shop",
            "application_name": "orders",
            "autocommit": True,
            "connect_timeout": 5,
            "sslmode": "require",
        }
    ], "one connection for the warm environment, encrypted by default"
    assert database.opened == 1 and migrated == [database.connection]
    assert database.connection.ran == ["SELECT 1", "SELECT 2"]

    monkeypatch.setenv("DB_SSLMODE", "verify-full")
    monkeypatch.setenv("DB_SSLROOTCERT", "global-bundle.pem")
    database.connection.closed = True
    database.run(lambda c: c.execute("SELECT 3"))
    assert {k: calls[-1][k] for k in ("sslmode", "sslrootcert")} == {
        "sslmode": "verify-full",
        "sslrootcert": "global-bundle.pem",
    }
    assert database.opened == 2 and len(migrated) == 2, "a new connection is migrated too"


def test_a_broken_connection_is_remade_once_and_a_refused_statement_is_not(opened):
    calls, queue = opened
    database = Database(application="orders")
    first = Connection()
    queue.append(first)
    database.run(lambda c: c.execute("SELECT 1"))
    first.server_gone = True

    assert database.run(lambda c: c.execute("SELECT 2")) == "SELECT 2", "remade after a failover"
    assert len(calls) == 2 and database.connection is not first and database.opened == 2

    refused = psycopg.OperationalError("canceling statement due to statement timeout")
    database.connection.fail_with = refused
    with pytest.raises(psycopg.OperationalError, match="statement timeout"):
        database.run(lambda c: c.execute("SELECT 3"))
    assert len(calls) == 2, "the connection is sound: the statement's own error is raised, not retried"

    database.connection.server_gone = True
    queue.append(Connection(server_gone=True))
    with pytest.raises(psycopg.OperationalError, match="server closed"):
        database.run(lambda c: c.execute("SELECT 4"))
    assert len(calls) == 3, "remade once, not in a loop"


def test_a_first_connection_that_fails_is_tried_once_more_and_its_error_raised(opened, monkeypatch):
    attempts = []

    def unreachable(**kwargs):
        attempts.append(kwargs["host"])
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(psycopg, "connect", unreachable)
    database = Database(application="orders")
    with pytest.raises(psycopg.OperationalError, match="connection refused"):
        database.run(lambda c: c.execute("SELECT 1"))
    assert attempts == ["db.internal", "db.internal"] and database.opened == 0
