"""The reporting handlers' own logic, one module at a time: what they refuse (naming the field), the
reader answering from the database when the cache is unreachable, and when a connection is remade.
The real PostgreSQL and Valkey paths run in tests/e2e/test_read_heavy_reporting.py."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.unit

ENVIRONMENT = {
    "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
    "CACHE_HOST": "127.0.0.1",
    "CACHE_PORT": "1",  # nothing listens there: the cache is unreachable
    "EVENT_BUS_NAME": "sales",
    "CACHE_TTL_SECONDS": "60",
}


@pytest.fixture
def reports(aws, load_handler):
    return load_handler("read_heavy_reporting", "reports", **ENVIRONMENT)


@pytest.mark.parametrize("region", [None, "", "North", "1st", "a" * 33, "eu west", "eu\n", 7, ["eu"]])
def test_a_bad_region_is_a_400_naming_it(reports, lambda_context, region):
    answer = reports.read_report({"region": region}, lambda_context)
    assert answer["statusCode"] == 400 and answer["message"].startswith("region:")
    answer = reports.record_sale({"region": region, "amount": 1}, lambda_context)
    assert answer["statusCode"] == 400 and answer["message"].startswith("region:")


@pytest.mark.parametrize(
    "amount", [None, 0, -1, "0.001", "1e400", "NaN", "Infinity", True, "ten", 1000000.01]
)
def test_a_bad_amount_is_a_400_naming_it(reports, lambda_context, amount):
    answer = reports.record_sale({"region": "eu", "amount": amount}, lambda_context)
    assert answer["statusCode"] == 400 and answer["message"].startswith("amount:")


@pytest.mark.parametrize("amount", [1, "0.01", 12.5, "1000000"])
def test_amounts_within_bounds_pass(reports, amount):
    assert reports.amount_of({"amount": amount}) > 0
    assert reports.region_of({"region": "eu-west-1"}) == "eu-west-1"


def test_an_invalidation_without_a_region_fails_so_lambda_retries_it(reports, lambda_context):
    with pytest.raises(reports.BadInput, match="region:"):
        reports.invalidate({"detail": {}}, lambda_context)


def test_the_reader_answers_from_the_database_when_the_cache_is_unreachable(
    reports, lambda_context, monkeypatch
):
    queried = []

    def database(work):
        queried.append(True)
        return (2, 31.5)

    monkeypatch.setattr(reports, "with_database", database)
    answer = reports.read_report({"region": "eu"}, lambda_context)
    assert answer == {
        "statusCode": 200,
        "source": "database",
        "report": {"region": "eu", "sales": 2, "total": "31.50"},
    }
    assert queried == [True]


class Connection:
    """Stands in for a psycopg connection that fails its next statement."""

    def __init__(self, broken: bool) -> None:
        self.broken, self.closed = broken, False

    def execute(self, *_):
        raise psycopg.OperationalError("server closed the connection unexpectedly")


def test_a_broken_connection_is_remade_once_and_a_refused_statement_is_not(aws, load_handler, monkeypatch):
    connections = load_handler("read_heavy_reporting", "connections", **ENVIRONMENT)
    made = []

    def connect():
        made.append(True)
        database = connections._database
        database.connection = Connection(broken=False) if len(made) > 1 else Connection(broken=True)
        return database.connection

    monkeypatch.setattr(connections._database, "connect", connect)
    with pytest.raises(psycopg.OperationalError):
        connections.with_database(lambda connection: connection.execute("SELECT 1"))
    assert len(made) == 2  # the broken one, then one fresh connection, whose failure is raised
