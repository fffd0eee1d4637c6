"""What makes read heavy reporting: Aurora Serverless v2 and a Valkey node in isolated subnets,
reached only through the rules from each function's own security group, a TTL in the reader's
environment, a rule on the sales bus to the invalidator, and the dependencies as a layer."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_

from patterns.read_heavy_reporting import PIP_PLATFORMS, ReadHeavyReporting, pip_command
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "ReadHeavyReportingStack"


def function_of(raw, handler: str) -> tuple[str, dict]:
    [(logical_id, props)] = [
        (k, v) for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler
    ]
    return logical_id, props


def group_of(props: dict) -> str:
    [group] = props["VpcConfig"]["SecurityGroupIds"]
    return group["Fn::GetAtt"][0]


def ingress_sources(raw, target_group: str) -> dict[str, object]:
    """Source security group -> FromPort of every rule into ``target_group``."""
    return {
        rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]: rule["FromPort"]
        for rule in properties_of(raw, "AWS::EC2::SecurityGroupIngress").values()
        if rule["GroupId"]["Fn::GetAtt"][0] == target_group and "SourceSecurityGroupId" in rule
    }


def test_the_database_is_encrypted_aurora_postgresql_serverless_v2_in_isolated_subnets(templates):
    raw = templates[STACK]
    [cluster] = properties_of(raw, "AWS::RDS::DBCluster").values()
    assert cluster["Engine"] == "aurora-postgresql" and cluster["StorageEncrypted"] is True
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 2}
    [writer] = properties_of(raw, "AWS::RDS::DBInstance").values()
    assert writer["DBInstanceClass"] == "db.serverless" and not writer.get("PubliclyAccessible")
    subnets = properties_of(raw, "AWS::EC2::Subnet").values()
    assert subnets and not any(s.get("MapPublicIpOnLaunch") for s in subnets)
    assert (
        resources_of(raw, "AWS::EC2::InternetGateway") == {}
        and resources_of(raw, "AWS::EC2::NatGateway") == {}
    )


def test_the_cache_is_one_encrypted_valkey_node(templates):
    [cache] = properties_of(templates[STACK], "AWS::ElastiCache::ReplicationGroup").values()
    assert (cache["Engine"], cache["CacheNodeType"], cache["NumCacheClusters"]) == (
        "valkey",
        "cache.t4g.micro",
        1,
    )
    assert cache["AtRestEncryptionEnabled"] is True


def test_each_function_reaches_only_what_it_uses_through_its_own_security_group(templates):
    raw = templates[STACK]
    groups = {
        handler: group_of(function_of(raw, handler)[1])
        for handler in ("reports.read_report", "reports.record_sale", "reports.invalidate")
    }
    assert len(set(groups.values())) == 3
    [cluster_id] = resources_of(raw, "AWS::RDS::DBCluster")
    database_group = properties_of(raw, "AWS::RDS::DBCluster")[cluster_id]["VpcSecurityGroupIds"][0][
        "Fn::GetAtt"
    ][0]
    [cache_id] = resources_of(raw, "AWS::ElastiCache::ReplicationGroup")
    cache_group = properties_of(raw, "AWS::ElastiCache::ReplicationGroup")[cache_id]["SecurityGroupIds"][0][
        "Fn::GetAtt"
    ][0]
    to_database = ingress_sources(raw, database_group)
    assert set(to_database) == {groups["reports.read_report"], groups["reports.record_sale"]}
    assert all(port == {"Fn::GetAtt": [cluster_id, "Endpoint.Port"]} for port in to_database.values())
    to_cache = ingress_sources(raw, cache_group)
    assert set(to_cache) == {groups["reports.read_report"], groups["reports.invalidate"]}
    assert all(port == {"Fn::GetAtt": [cache_id, "PrimaryEndPoint.Port"]} for port in to_cache.values())


def test_each_function_is_told_only_where_what_it_uses_is(templates):
    raw = templates[STACK]
    told = {
        handler: set(function_of(raw, handler)[1]["Environment"]["Variables"]) - {"POWERTOOLS_SERVICE_NAME"}
        for handler in ("reports.read_report", "reports.record_sale", "reports.invalidate")
    }
    assert {"DB_SECRET_ARN", "CACHE_HOST", "CACHE_PORT", "CACHE_TTL_SECONDS"} <= told["reports.read_report"]
    assert "DB_SECRET_ARN" in told["reports.record_sale"] and "EVENT_BUS_NAME" in told["reports.record_sale"]
    assert not {"CACHE_HOST", "CACHE_PORT"} & told["reports.record_sale"]
    assert {"CACHE_HOST", "CACHE_PORT"} <= told["reports.invalidate"]
    assert not {"DB_SECRET_ARN", "EVENT_BUS_NAME"} & told["reports.invalidate"]


def test_a_security_group_given_for_a_function_is_refused_not_replaced():
    """Each function's group is the construct's own, with rules for exactly what it uses: one passed
    in props would be dropped silently, so the contract refuses it, naming the prop."""
    stack = Stack(App(), "Groups")
    with pytest.raises(ValueError, match="security_groups"):
        ReadHeavyReporting(stack, "Reports", reader_props={"security_groups": []})


def test_the_reader_caches_for_the_ttl_and_every_function_has_the_dependencies_layer(templates):
    raw = templates[STACK]
    _, reader = function_of(raw, "reports.read_report")
    assert reader["Environment"]["Variables"]["CACHE_TTL_SECONDS"] == "300"
    [layer] = resources_of(raw, "AWS::Lambda::LayerVersion").keys() - {
        k for k in resources_of(raw, "AWS::Lambda::LayerVersion") if "Shared" in k
    }
    for handler in ("reports.read_report", "reports.record_sale", "reports.invalidate"):
        assert {"Ref": layer} in function_of(raw, handler)[1]["Layers"]
    assert properties_of(raw, "AWS::Lambda::LayerVersion")[layer]["CompatibleArchitectures"] == ["arm64"]


def test_a_recorded_sale_reaches_the_invalidator_through_the_bus_only(templates):
    raw = templates[STACK]
    recorder_id, _ = function_of(raw, "reports.record_sale")
    invalidator_id, _ = function_of(raw, "reports.invalidate")
    [rule] = properties_of(raw, "AWS::Events::Rule").values()
    assert rule["EventPattern"] == {"source": ["read_heavy_reporting.sales"], "detail-type": ["SaleRecorded"]}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [invalidator_id, "Arn"]} and "DeadLetterConfig" in target
    role = raw["Resources"][recorder_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    puts = [s for s in statements_of(raw, role) if "events:PutEvents" in s["Action"]]
    [bus] = resources_of(raw, "AWS::Events::EventBus")
    assert puts == [
        {"Action": ["events:PutEvents"], "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus, "Arn"]}}
    ]


def test_only_the_database_s_users_read_its_secret(templates):
    raw = templates[STACK]
    readers = {
        handler: raw["Resources"][function_of(raw, handler)[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
        for handler in ("reports.read_report", "reports.record_sale", "reports.invalidate")
    }
    granted = {
        handler
        for handler, role in readers.items()
        if any("secretsmanager:GetSecretValue" in s["Action"] for s in statements_of(raw, role))
    }
    assert granted == {"reports.read_report", "reports.record_sale"}


def test_the_layer_is_built_for_the_function_s_platform_with_wheels_only(tmp_path):
    command = pip_command(
        tmp_path / "requirements.txt",
        tmp_path / "python",
        lambda_.Runtime.PYTHON_3_13,
        lambda_.Architecture.ARM_64,
    )
    assert "--only-binary=:all:" in command
    assert command[command.index("--platform") + 1] == PIP_PLATFORMS["arm64"] == "manylinux_2_28_aarch64"
    assert command[command.index("--python-version") + 1] == "3.13"


def test_a_ttl_under_a_second_is_refused():
    for ttl in (Duration.millis(10), Duration.millis(1500)):
        with pytest.raises(ValueError, match="cache_ttl must be a whole number of seconds"):
            ReadHeavyReporting(Stack(App(), "Bad"), "Reports", cache_ttl=ttl)
