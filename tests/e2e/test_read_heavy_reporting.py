"""Read heavy reporting offline, on the real PostgreSQL and Valkey servers the local cloud starts:
a second read comes from the cache and the database's own counter does not move; a recorded sale's
event clears the cached report; the TTL runs out on ``advance``; connections are reused and remade
when they break; a function whose security group lost its rule cannot reach the database, and a
reader that cannot reach the cache still answers from the database. One cloud for the module."""

from __future__ import annotations

import json

import psycopg
import pytest
import redis

from localcloud.core.clock import FIXED_START
from localcloud.testing import cloud_for

pytestmark = pytest.mark.e2e

STACK = "ReadHeavyReportingStack"
TTL = 300  # the construct's default cache_ttl


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with cloud_for(cloud_assembly.directory, STACK, start=FIXED_START) as running:
        yield running


@pytest.fixture(scope="module")
def database(cloud):
    """The test's own connection to the cluster's server (loopback and its port, as psql would)."""
    secret = json.loads(
        cloud.client("secretsmanager").get_secret_value(SecretId=cloud.outputs["DatabaseSecretArn"])[
            "SecretString"
        ]
    )
    cloud.invoke("Pattern/Reader", {"region": "warmup"})  # starts the server and migrates the schema
    with psycopg.connect(
        host="127.0.0.1",
        port=secret["port"],
        user=secret["username"],
        password=secret["password"],
        dbname=secret["dbname"],
        autocommit=True,
    ) as connection:
        yield connection


@pytest.fixture(scope="module")
def cache(cloud):
    server = cloud.kernel.servers.servers[cloud.kernel.logical_id("Pattern/Cache")]
    client = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
    yield client
    client.close()


def read(cloud, region: str) -> dict:
    return cloud.invoke("Pattern/Reader", {"region": region})["Payload"]


def database_reads(database, region: str) -> int:
    """How often ``sales_report`` ran for ``region``: counted by the database itself."""
    row = database.execute("SELECT reads FROM report_reads WHERE region = %s", (region,)).fetchone()
    return 0 if row is None else row[0]


def test_the_second_read_is_served_from_the_cache_without_touching_the_database(cloud, database, cache):
    first = read(cloud, "north")
    assert (first["statusCode"], first["source"]) == (200, "database")
    assert database_reads(database, "north") == 1
    assert json.loads(cache.get("report:sales:north")) == first["report"]
    second = read(cloud, "north")
    assert (second["source"], second["report"]) == ("cache", first["report"])
    assert database_reads(database, "north") == 1


def test_a_recorded_sale_s_event_clears_the_cached_report(cloud, database, cache):
    read(cloud, "east")
    assert read(cloud, "east")["source"] == "cache"
    recorded = cloud.invoke("Pattern/Recorder", {"region": "east", "amount": "19.99"})["Payload"]
    assert recorded["statusCode"] == 201 and recorded["sale"]["amount"] == "19.99"
    cloud.drain()
    [invalidation] = cloud.trace.find("invoke", target=cloud.function("Pattern/Invalidator").name)
    assert invalidation.outcome != "error"
    assert cache.get("report:sales:east") is None
    fresh = read(cloud, "east")
    assert (fresh["source"], fresh["report"]) == (
        "database",
        {"region": "east", "sales": 1, "total": "19.99"},
    )
    assert database_reads(database, "east") == 2
    assert (
        cloud.client("sqs").get_queue_attributes(
            QueueUrl=cloud.physical_id("Pattern/InvalidationFailures"),
            AttributeNames=["ApproximateNumberOfMessages"],
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_the_ttl_runs_out_on_advance(cloud, database):
    read(cloud, "west")
    cloud.advance(TTL - 1)
    assert read(cloud, "west")["source"] == "cache"
    cloud.advance(1)
    assert read(cloud, "west")["source"] == "database"
    assert database_reads(database, "west") == 2


def test_bad_input_is_a_400_naming_the_field(cloud, database):
    assert read(cloud, "North!") == {
        "statusCode": 400,
        "message": "region: must be 1 to 32 lowercase letters, digits or dashes, starting with a letter",
    }
    for amount in ("-1", "1.001", True, "NaN", None):
        answer = cloud.invoke("Pattern/Recorder", {"region": "south", "amount": amount})["Payload"]
        assert answer["statusCode"] == 400 and answer["message"].startswith("amount:")
    assert database.execute("SELECT count(*) FROM sales WHERE region = 'south'").fetchone()[0] == 0


def test_connections_are_reused_across_invocations_and_remade_when_broken(cloud, database, cache):
    def backends() -> list[int]:
        return [
            pid
            for (pid,) in database.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'read_heavy_reporting'"
            )
        ]

    before = backends()
    for region in ("r-1", "r-2", "r-3"):
        assert read(cloud, region)["source"] == "database"
    assert backends() == before and len(before) == 2  # the reader's and the recorder's, one each
    assert [c["name"] for c in cache.client_list()].count("read_heavy_reporting") == 2
    for pid in before:
        database.execute("SELECT pg_terminate_backend(%s)", (pid,))
    again = read(cloud, "r-4")
    assert (again["statusCode"], again["source"]) == (200, "database")
    assert len(backends()) == 1 and not set(backends()) & set(before)


def _revoke(cloud, target_group: str, source_group: str) -> list[dict]:
    ec2 = cloud.client("ec2")
    target = cloud.physical_id(target_group)
    source = cloud.physical_id(source_group)
    [group] = ec2.describe_security_groups(GroupIds=[target])["SecurityGroups"]
    rules = [
        {**rule, "UserIdGroupPairs": [pair for pair in rule["UserIdGroupPairs"] if pair["GroupId"] == source]}
        for rule in group["IpPermissions"]
        if any(pair["GroupId"] == source for pair in rule["UserIdGroupPairs"])
    ]
    assert rules, f"{source_group} has no rule into {target_group}"
    ec2.revoke_security_group_ingress(GroupId=target, IpPermissions=rules)
    return rules


def test_only_the_security_group_rules_let_the_reader_reach_the_database_and_the_cache(
    cloud, database, cache
):
    database.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'read_heavy_reporting'"
    )
    rules = _revoke(cloud, "Pattern/Database/SecurityGroup", "Pattern/ReaderSecurityGroup")
    blocked = cloud.invoke("Pattern/Reader", {"region": "blocked"})
    assert blocked.get("FunctionError") == "Unhandled"
    assert blocked["Payload"]["errorType"] == "OperationalError"
    [timeout] = cloud.trace.find("timeout", outcome="ConnectTimeout")
    assert "no ingress on" in timeout.detail and "Reader" in timeout.detail
    assert database_reads(database, "blocked") == 0
    cloud.client("ec2").authorize_security_group_ingress(
        GroupId=cloud.physical_id("Pattern/Database/SecurityGroup"), IpPermissions=rules
    )
    _revoke(cloud, "Pattern/CacheSecurityGroup", "Pattern/ReaderSecurityGroup")
    # Security groups are stateful: the reader's open connection outlives the rule, as on AWS.
    cache.client_kill_filter(_type="normal", skipme=True)
    degraded = read(cloud, "blocked")
    assert (degraded["statusCode"], degraded["source"]) == (200, "database")
    assert cache.get("report:sales:blocked") is None
