"""ElastiCache as a real Valkey server: a function in the VPC uses it with redis-py at the replication
group's primary endpoint, with its AUTH token; a key's TTL runs out on ``cloud.advance`` with no
sleeping; a function whose security group has no rule to the port times out naming the rule. One
server for the whole module (the other caches' endpoints resolve, their servers never start)."""

from __future__ import annotations

import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache

from localcloud.testing import cloud_for
from patterns.stack import SYNTH_METADATA
from tests.localcloud.conftest import listening, python_function

pytestmark = pytest.mark.localcloud

TOKEN = "a-token-of-twenty-chars"


def build(stack: Stack) -> None:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="App", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    subnets = [subnet.subnet_id for subnet in vpc.isolated_subnets]
    group = ec2.SecurityGroup(stack, "CacheGroup", vpc=vpc)
    subnet_group = elasticache.CfnSubnetGroup(stack, "Subnets", description="cache", subnet_ids=subnets)
    cache = elasticache.CfnReplicationGroup(
        stack,
        "Cache",
        replication_group_description="sessions",
        engine="valkey",
        cache_node_type="cache.t4g.micro",
        num_cache_clusters=1,
        cache_subnet_group_name=subnet_group.ref,
        security_group_ids=[group.security_group_id],
        auth_token=TOKEN,
    )
    port = ec2.Port.tcp_range(0, 65535)
    environment = {"HOST": cache.attr_primary_end_point_address, "PORT": cache.attr_primary_end_point_port}
    allowed = python_function(
        stack, "Allowed", "cache_client", vpc=vpc, environment={**environment, "TOKEN": TOKEN}
    )
    group.connections.allow_from(allowed, port)
    python_function(stack, "Blocked", "cache_client", vpc=vpc, environment={**environment, "TOKEN": TOKEN})
    serverless = elasticache.CfnServerlessCache(
        stack,
        "Serverless",
        engine="valkey",
        serverless_cache_name="carts",
        subnet_ids=subnets,
        security_group_ids=[group.security_group_id],
    )
    single = elasticache.CfnCacheCluster(
        stack,
        "Single",
        engine="redis",
        cache_node_type="cache.t4g.micro",
        num_cache_nodes=1,
        cache_subnet_group_name=subnet_group.ref,
        vpc_security_group_ids=[group.security_group_id],
    )
    CfnOutput(stack, "Primary", value=cache.attr_primary_end_point_address)
    CfnOutput(stack, "Port", value=cache.attr_primary_end_point_port)
    CfnOutput(stack, "ServerlessEndpoint", value=serverless.attr_endpoint_address)
    CfnOutput(stack, "ServerlessPort", value=serverless.attr_endpoint_port)
    CfnOutput(stack, "SingleEndpoint", value=single.attr_redis_endpoint_address)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    app = App(outdir=str(tmp_path_factory.mktemp("cdk-elasticache")), context=SYNTH_METADATA)
    build(Stack(app, "CacheSemantics"))
    with cloud_for(app, "CacheSemantics") as running:
        yield running
        started = [server.port for server in running.kernel.servers.servers.values() if server.started]
    assert started and not any(listening(port) for port in started), "a server outlived its cloud"


def run(cloud, function: str, **event) -> dict:
    return cloud.invoke(function, event)["Payload"]


def test_endpoints_resolve_to_servers_started_only_when_used(cloud):
    assert cloud.outputs["Primary"].endswith(".use1.cache.amazonaws.com")
    assert (
        cloud.outputs["ServerlessEndpoint"].startswith("carts-")
        and ".serverless.use1." in cloud.outputs["ServerlessEndpoint"]
    )
    assert cloud.outputs["SingleEndpoint"].endswith(".0001.use1.cache.amazonaws.com")
    servers = cloud.kernel.servers.servers
    assert len({server.port for server in servers.values()}) == 3
    assert str(servers["Serverless"].port) == cloud.outputs["ServerlessPort"]
    assert not servers["Serverless"].started and not servers["Single"].started


def test_a_key_s_ttl_runs_out_on_advance_with_no_sleeping(cloud):
    assert run(cloud, "Allowed", set="session", value="ada", ttl=60, get="session") == {
        "value": "ada",
        "ttl": 60,
    }
    cloud.advance(59)
    assert run(cloud, "Allowed", get="session") == {"value": "ada", "ttl": 1}
    cloud.advance(1)
    assert run(cloud, "Allowed", get="session") == {"value": None, "ttl": -2}
    run(cloud, "Allowed", set="kept", value="forever", get="kept")
    cloud.advance(3600)
    assert run(cloud, "Allowed", get="kept") == {"value": "forever", "ttl": -1}


def test_the_auth_token_is_the_server_s_password(cloud):
    refused = run(cloud, "Allowed", get="session", token="")
    assert refused["error"] == "AuthenticationError"
    wrong = run(cloud, "Allowed", get="session", token="not-the-token-at-all")
    assert wrong["error"] == "AuthenticationError"


def test_a_function_whose_security_group_lacks_the_rule_times_out_naming_it(cloud):
    answer = run(cloud, "Blocked", get="session")
    assert answer == {"error": "TimeoutError", "message": "Timeout connecting to server"}
    [timeout] = cloud.trace.find("timeout", target="CacheSemantics/Cache", outcome="ConnectTimeout")
    assert "CacheSemantics/Cache's security group" in timeout.detail and "no ingress on" in timeout.detail
