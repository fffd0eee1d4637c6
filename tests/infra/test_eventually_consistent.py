"""What makes eventually consistent: a table whose stream carries both images, a mapping that bisects,
retries a bounded number of times, gives up on old records and keeps what it gives up on in an
encrypted queue; a replica on encrypted Aurora PostgreSQL that requires TLS, in isolated subnets,
reached only from the replicator's own security group; grants scoped to one table, one secret,
one stream and one queue."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb

from patterns.eventually_consistent import EventuallyConsistent
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "EventuallyConsistentStack"


def function_of(raw, handler: str) -> tuple[str, dict]:
    [(logical_id, props)] = [
        (k, v) for k, v in properties_of(raw, "AWS::Lambda::Function").items() if v["Handler"] == handler
    ]
    return logical_id, props


def actions_of(raw, handler: str) -> dict[str, object]:
    """Action -> resource of every statement of the function's role (logs and X-Ray aside)."""
    role = raw["Resources"][function_of(raw, handler)[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = {}
    for statement in statements_of(raw, role):
        for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
            if not action.startswith(("logs:", "xray:")):
                granted[action] = statement["Resource"]
    return granted


def test_the_table_streams_both_images_and_expires_tombstones(templates):
    [table] = properties_of(templates[STACK], "AWS::DynamoDB::Table").values()
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "item_id", "KeyType": "HASH"}]


def test_the_mapping_bisects_retries_bounds_age_and_keeps_failures_in_an_encrypted_queue(templates):
    raw = templates[STACK]
    replicator_id, _ = function_of(raw, "replicator.handler")
    [mapping] = properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["FunctionName"] == {"Ref": replicator_id}
    assert mapping["BisectBatchOnFunctionError"] is True
    assert (mapping["MaximumRetryAttempts"], mapping["MaximumRecordAgeInSeconds"]) == (2, 3600)
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    [queue_id] = [q for q in resources_of(raw, "AWS::SQS::Queue") if "FailedChanges" in q]
    assert destination == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert raw["Resources"][queue_id]["Properties"]["SqsManagedSseEnabled"] is True


def test_the_replica_is_encrypted_aurora_postgresql_requiring_tls_in_isolated_subnets(templates):
    raw = templates[STACK]
    [cluster] = properties_of(raw, "AWS::RDS::DBCluster").values()
    assert cluster["Engine"] == "aurora-postgresql" and cluster["StorageEncrypted"] is True
    [group_id] = resources_of(raw, "AWS::RDS::DBClusterParameterGroup")
    assert cluster["DBClusterParameterGroupName"] == {"Ref": group_id}
    assert raw["Resources"][group_id]["Properties"]["Parameters"] == {"rds.force_ssl": "1"}
    assert (
        resources_of(raw, "AWS::EC2::InternetGateway") == {}
        and resources_of(raw, "AWS::EC2::NatGateway") == {}
    )
    _, replicator = function_of(raw, "replicator.handler")
    assert replicator["Environment"]["Variables"]["DB_SSLMODE"] == "require"
    [group] = replicator["VpcConfig"]["SecurityGroupIds"]
    database_group = cluster["VpcSecurityGroupIds"][0]["Fn::GetAtt"][0]
    into_database = [
        rule
        for rule in properties_of(raw, "AWS::EC2::SecurityGroupIngress").values()
        if rule["GroupId"] == {"Fn::GetAtt": [database_group, "GroupId"]}
    ]
    assert [rule["SourceSecurityGroupId"] for rule in into_database] == [group]


def test_each_function_is_granted_exactly_what_it_calls(templates):
    raw = templates[STACK]
    [table_id] = resources_of(raw, "AWS::DynamoDB::Table")
    writer = actions_of(raw, "items.handler")
    assert writer == {
        action: {"Fn::GetAtt": [table_id, "Arn"]}
        for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
    }
    replicator = actions_of(raw, "replicator.handler")
    stream = {"Fn::GetAtt": [table_id, "StreamArn"]}
    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        assert replicator[action] == stream
    [attachment] = resources_of(raw, "AWS::SecretsManager::SecretTargetAttachment")
    assert replicator["secretsmanager:GetSecretValue"] == {"Ref": attachment}  # the cluster's secret
    [queue_id] = [q for q in resources_of(raw, "AWS::SQS::Queue") if "FailedChanges" in q]
    assert replicator["sqs:SendMessage"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert not any(action.startswith("dynamodb:") and "Item" in action for action in replicator)
    assert not any(action.startswith(("secretsmanager:", "sqs:")) for action in writer)


def test_props_outside_lambda_s_limits_or_a_table_without_a_stream_are_refused():
    stack = Stack(App(), "Refused")
    for props, message in (
        ({"retry_attempts": -1}, "retry_attempts"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_record_age": Duration.seconds(30)}, "max_record_age"),
        ({"max_batching_window": Duration.minutes(6)}, "max_batching_window"),
        ({"failure_queue_props": {"fifo": True}}, "fifo"),
        ({"replicator_props": {"security_groups": []}}, "security_groups"),
    ):
        with pytest.raises(ValueError, match=message):
            EventuallyConsistent(stack, f"Bad{len(stack.node.children)}", **props)
    streamless = dynamodb.Table.from_table_name(stack, "Streamless", "items")
    with pytest.raises(ValueError, match="table must have a stream"):
        EventuallyConsistent(stack, "NoStream", table=streamless)
