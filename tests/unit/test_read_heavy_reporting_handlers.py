"""The reporting handlers against a real Valkey server (one for the module) and moto's EventBridge,
with the database replaced by what its query answers: a miss is read from the database and kept for
the TTL, a hit is answered from the cache and counted, a dropped cache connection is retried once,
an invalidation deletes the key, and a recorded sale is announced on the bus (or the call fails).
The SQL itself runs in tests/e2e/test_read_heavy_reporting.py."""

from __future__ import annotations

import json
import os
import shutil
import sys
from contextlib import contextmanager
from decimal import Decimal

import boto3
import psycopg
import pytest
import redis

from localcloud.core.servers import LOOPBACK, reserve_port
from localcloud.errors import LocalCloudError
from localcloud.services.elasticache.provision import start_valkey
from tests.unit.test_read_heavy_reporting import ENVIRONMENT

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def valkey():
    """A Valkey of the module's own. valkey-server cannot bind port 0 and say which port it got, so
    its port is reserved as the local cloud reserves its servers' (below the ephemeral range that
    other processes' connections and port-0 binds draw from), and the server that answers there must
    be the one started: if another process took the port first, the next one is tried."""
    for attempt in range(5):
        reservation = reserve_port(f"{os.getpid()}/{__name__}/{attempt}")
        port = reservation.getsockname()[1]
        reservation.close()
        try:
            process, folder = start_valkey(port, None)
        except LocalCloudError:
            continue
        client = redis.Redis(host=LOOPBACK, port=port, decode_responses=True)
        try:
            if client.info("server")["process_id"] == process.pid:
                break
        except redis.RedisError:
            pass  # another kind of server answered there
        client.close()
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)
    else:
        pytest.fail("no loopback port held a Valkey of this module's own in 5 attempts")
    yield client
    client.close()
    process.kill()
    process.wait()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def reports(valkey, aws, load_handler, monkeypatch):
    valkey.flushall()
    boto3.client("events", region_name="us-east-1").create_event_bus(Name="sales")
    module = load_handler(
        "read_heavy_reporting",
        "reports",
        **{**ENVIRONMENT, "CACHE_PORT": str(valkey.connection_pool.connection_kwargs["port"])},
    )
    module.queries = []

    def database(work):
        module.queries.append(work)
        return (3, 12.5) if len(module.queries) == 1 else (4, 20)

    monkeypatch.setattr(module, "with_database", database)
    yield module
    module.cache().close()  # the environment's connection, so the next test's is the only one


def test_a_miss_is_read_from_the_database_and_kept_for_the_ttl_then_hits_are_counted(
    reports, valkey, lambda_context, emitted_metrics
):
    report = {"region": "eu", "sales": 3, "total": "12.50"}
    assert reports.read_report({"region": "eu"}, lambda_context) == {
        "statusCode": 200,
        "source": "database",
        "report": report,
    }
    assert emitted_metrics() == {"ReportCacheMisses": 1}
    assert json.loads(valkey.get("report:sales:eu")) == report
    assert valkey.ttl("report:sales:eu") == 60
    for _ in range(2):
        assert reports.read_report({"region": "eu"}, lambda_context) == {
            "statusCode": 200,
            "source": "cache",
            "report": report,
        }
    assert emitted_metrics() == {"ReportCacheHits": 2}
    assert len(reports.queries) == 1


def test_a_dropped_cache_connection_is_retried_at_once_on_a_fresh_one(reports, valkey, lambda_context):
    reports.read_report({"region": "eu"}, lambda_context)
    [reader] = [c for c in valkey.client_list() if c["name"] == "read_heavy_reporting"]
    assert valkey.client_kill_filter(_id=reader["id"]) == 1
    assert reports.read_report({"region": "eu"}, lambda_context)["source"] == "cache"
    assert len(reports.queries) == 1


def test_an_invalidation_deletes_the_regions_report_so_the_next_read_is_fresh(
    reports, valkey, lambda_context
):
    reports.read_report({"region": "eu"}, lambda_context)
    reports.read_report({"region": "us"}, lambda_context)
    sale = {"detail-type": "SaleRecorded", "detail": {"region": "eu", "saleId": 7}}
    assert reports.invalidate(sale, lambda_context) == {"region": "eu", "removed": 1}
    assert reports.invalidate(sale, lambda_context) == {"region": "eu", "removed": 0}
    assert valkey.exists("report:sales:us") == 1
    assert reports.read_report({"region": "eu"}, lambda_context)["source"] == "database"
    with pytest.raises(reports.BadInput, match="region:"):
        reports.invalidate("eu", lambda_context)


def test_a_recorded_sale_is_announced_on_the_bus_through_one_client_per_environment(
    reports, lambda_context, monkeypatch
):
    monkeypatch.setattr(reports, "with_database", lambda work: 41)
    assert reports._events is None
    reports.record_sale({"region": "eu", "amount": 1}, lambda_context)
    made, sent = reports._events, []
    real_put = made.put_events
    monkeypatch.setattr(made, "put_events", lambda **call: sent.append(call) or real_put(**call))
    answer = reports.record_sale({"region": "eu", "amount": "12.5"}, lambda_context)
    assert answer == {"statusCode": 201, "sale": {"id": 41, "region": "eu", "amount": "12.50"}}
    assert reports._events is made
    assert sent == [
        {
            "Entries": [
                {
                    "EventBusName": "sales",
                    "Source": "read_heavy_reporting.sales",
                    "DetailType": "SaleRecorded",
                    "Detail": json.dumps({"region": "eu", "saleId": 41}),
                }
            ]
        }
    ]


def test_a_sale_the_bus_refuses_fails_the_call_so_it_is_retried(reports, lambda_context, monkeypatch):
    refused = {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
    }
    monkeypatch.setattr(reports, "with_database", lambda work: 41)
    monkeypatch.setattr(reports, "_events", type("Bus", (), {"put_events": lambda self, **call: refused})())
    with pytest.raises(RuntimeError, match=r"^SaleRecorded not accepted: try again$"):
        reports.record_sale({"region": "eu", "amount": 1}, lambda_context)


class Recorder:
    """Stands in for a psycopg connection: the statements it ran, each answering ``row``; its
    transactions as BEGIN and COMMIT around them."""

    closed = broken = False

    def __init__(self, row: tuple = ()) -> None:
        self.ran: list[tuple[str, tuple]] = []
        self.row = row

    def execute(self, statement: str, params: tuple = ()):
        self.ran.append((" ".join(statement.split()), params))
        return self

    def fetchone(self) -> tuple:
        return self.row

    @contextmanager
    def transaction(self):
        self.ran.append(("BEGIN", ()))
        yield
        self.ran.append(("COMMIT", ()))


def test_the_first_connection_migrates_under_the_advisory_lock_in_one_transaction(
    aws, load_handler, monkeypatch
):
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="db",
        SecretString=json.dumps({"host": "h", "port": 5432, "username": "u", "password": "p", "dbname": "d"}),
    )["ARN"]
    connections = load_handler("read_heavy_reporting", "connections", **{**ENVIRONMENT, "DB_SECRET_ARN": arn})
    opened = Recorder()
    monkeypatch.setattr(psycopg, "connect", lambda **kwargs: opened)
    assert connections.database() is opened
    assert connections.database() is opened, "reused while warm: migrated once"
    lock = sys.modules["schema"].MIGRATION_LOCK  # any number every environment shares
    begin, locked, ddl, commit = opened.ran
    assert (begin, locked, commit) == (
        ("BEGIN", ()),
        ("SELECT pg_advisory_xact_lock(%s)", (lock,)),
        ("COMMIT", ()),
    )
    assert ddl[0].startswith("CREATE TABLE IF NOT EXISTS sales (") and "FUNCTION sales_report(" in ddl[0]


def test_a_sale_is_inserted_and_its_new_id_announced(reports, lambda_context, monkeypatch):
    database = Recorder(row=(41,))
    monkeypatch.setattr(reports, "with_database", lambda work: work(database))
    answer = reports.record_sale({"region": "eu", "amount": "0.5"}, lambda_context)
    assert answer == {"statusCode": 201, "sale": {"id": 41, "region": "eu", "amount": "0.50"}}
    assert database.ran == [
        ("INSERT INTO sales (region, amount) VALUES (%s, %s) RETURNING id", ("eu", Decimal("0.5")))
    ]


def test_the_cache_client_waits_at_most_2_s_and_retries_a_dropped_connection_once(reports):
    """A slow cache must not hold a read for redis-py's defaults: the reader answers from the database."""
    client = reports.cache()
    settings = client.connection_pool.connection_kwargs
    assert (settings["socket_connect_timeout"], settings["socket_timeout"]) == (2, 2)
    assert client.get_retry().get_retries() == 1
    assert settings["client_name"] == "read_heavy_reporting"
