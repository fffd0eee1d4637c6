"""GetRecords' ``Limit`` above what Kinesis and DynamoDB Streams take is refused, as AWS refuses it
(moto returns records for any limit).

- Kinesis: at most 10,000 (botocore's model: ``GetRecordsInputLimit``, 1 to 10,000); over it AWS
  answers a ``ValidationException`` worded as its validation words it (kinesalite's tests, which run
  against Kinesis itself with ``REMOTE=1``, expect "Value '100000' at 'limit' failed to satisfy
  constraint: Member must have value less than or equal to 10000").
- DynamoDB Streams: "The upper limit is 1000" (API reference); over it a ``ValidationException``
  (ScyllaDB's Alternator test ``test_get_records_too_high_limit``, which passes on DynamoDB).

Below 1, botocore's own validation refuses the call before it is sent (``ParamValidationError``,
as with AWS), and the AWS endpoint answers that as a ``ValidationException``.
"""

from __future__ import annotations

import pytest
from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from botocore.exceptions import ClientError, ParamValidationError

from localcloud import LocalCloud
from localcloud.core import hooks
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    stream = kinesis.Stream(stack, "Stream", shard_count=1)
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        stream=dynamodb.StreamViewType.NEW_IMAGE,
        removal_policy=RemovalPolicy.DESTROY,
    )
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    stream.grant_read(reader)
    table.grant_stream_read(reader)
    CfnOutput(stack, "StreamName", value=stream.stream_name)
    CfnOutput(stack, "StreamArn", value=stream.stream_arn)
    CfnOutput(stack, "TableName", value=table.table_name)
    CfnOutput(stack, "ReaderArn", value=reader.role_arn)


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("GetRecordsLimits", build), start=FIXED_START) as started:
        yield started


@pytest.fixture(scope="module")
def kinesis_iterator(cloud) -> str:
    client = cloud.client("kinesis")
    name = cloud.outputs["StreamName"]
    client.put_record(StreamName=name, Data=b"one", PartitionKey="a")
    shard = client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    return client.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]


@pytest.fixture(scope="module")
def streams_iterator(cloud) -> str:
    table = cloud.outputs["TableName"]
    cloud.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "one"}})
    streams = cloud.client("dynamodbstreams")
    arn = cloud.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]


def test_kinesis_get_records_over_10000_is_a_validation_exception(cloud, kinesis_iterator):
    client = cloud.client("kinesis")
    with pytest.raises(ClientError) as refused:
        client.get_records(ShardIterator=kinesis_iterator, Limit=10_001)
    error = refused.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == (
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000"
    )
    records = client.get_records(ShardIterator=kinesis_iterator, Limit=10_000)["Records"]
    assert [r["Data"] for r in records] == [b"one"]


def test_dynamodb_streams_get_records_over_1000_is_a_validation_exception(cloud, streams_iterator):
    client = cloud.client("dynamodbstreams")
    with pytest.raises(ClientError) as refused:
        client.get_records(ShardIterator=streams_iterator, Limit=1001)
    error = refused.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"] == (
        "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"
    )
    records = client.get_records(ShardIterator=streams_iterator, Limit=1000)["Records"]
    assert [r["dynamodb"]["Keys"] for r in records] == [{"pk": {"S": "one"}}]


@pytest.mark.parametrize("service", ["kinesis", "dynamodbstreams"])
def test_a_limit_below_one_never_leaves_the_client(cloud, service):
    with pytest.raises(ParamValidationError, match="valid min value: 1"):
        cloud.client(service).get_records(ShardIterator="x" * 20, Limit=0)


def test_a_poller_may_skip_a_get_records_within_the_limit_but_not_one_over_it(
    cloud, kinesis_iterator, streams_iterator
):
    """The stream pollers skip a GetRecords moto holds nothing new for only if the call would pass
    every check: the limit check is run to say so, rather than forcing every skipped call."""
    role = cloud.outputs["ReaderArn"]
    calls = {
        "kinesis": ({"StreamARN": cloud.outputs["StreamArn"], "ShardIterator": kinesis_iterator}, 10_000),
        "dynamodbstreams": ({"ShardIterator": streams_iterator}, 1000),
    }
    for service, (params, highest) in calls.items():
        model = cloud.client(service).meta.service_model

        def passes(limit: int, params=params, model=model) -> bool:
            return hooks.would_pass_checks(
                cloud.kernel, role, "poller", model, "GetRecords", {**params, "Limit": limit}
            )

        assert passes(highest), service
        assert not passes(highest + 1), service
