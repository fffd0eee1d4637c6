"""Kinesis's record limits and write throughput, and Firehose reading a Kinesis source with its own
role: where moto is kinder than AWS, the local cloud refuses as AWS does."""

from __future__ import annotations

import gzip

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.hooks import would_pass_checks

MIB = 1024 * 1024
SOURCE_ACTIONS = ["kinesis:DescribeStream", "kinesis:ListShards", "kinesis:GetShardIterator"]


def _arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _delivery(stream: str, prefix: str) -> dict:
    return {
        "Type": "AWS::KinesisFirehose::DeliveryStream",
        "DependsOn": ["Reader"],
        "Properties": {
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {"KinesisStreamARN": _arn(stream), "RoleARN": _arn("Reader")},
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": _arn("Lake"),
                "RoleARN": _arn("Reader"),
                "Prefix": prefix + "!{timestamp:yyyy/MM/dd}/",
                "ErrorOutputPrefix": "failed/!{firehose:error-output-type}/",
                "CompressionFormat": "GZIP",
                "BufferingHints": {"IntervalInSeconds": 30, "SizeInMBs": 1},
            },
        },
    }


def _allow(actions: list[str], *resources: dict) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": list(resources)}


#: Written as CloudFormation, not synthesized: a CDK synth would cost this file most of its time.
TEMPLATE = {
    "Resources": {
        "Lake": {"Type": "AWS::S3::Bucket"},
        "Events": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "Held": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "Reader": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "firehose.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "read-and-write",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                _allow(SOURCE_ACTIONS, _arn("Events"), _arn("Held")),
                                # GetRecords on "Events" only: the delivery stream reading "Held" may not.
                                _allow(["kinesis:GetRecords"], _arn("Events")),
                                _allow(["s3:PutObject"], {"Fn::Join": ["", [_arn("Lake"), "/*"]]}),
                            ],
                        },
                    }
                ],
            },
        },
        "Delivery": _delivery("Events", "in/"),
        "HeldDelivery": _delivery("Held", "held/"),
    }
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    artifact = StackArtifact("KinesisLimits", TEMPLATE, tmp_path_factory.mktemp("kinesis-limits"))
    with LocalCloud(artifact) as started:
        yield started


@pytest.fixture
def fresh(cloud):
    cloud.drain()
    cloud.advance(1)  # a second of its own: the shard's throughput is counted per second
    return cloud


def put(cloud: LocalCloud, data: bytes, key: str = "k") -> dict:
    return cloud.client("kinesis").put_record(
        StreamName=cloud.physical_id("Events"), Data=data, PartitionKey=key
    )


def refused(call) -> dict:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]


def test_a_record_over_1_mib_and_a_key_over_256_characters_are_refused_with_aws_wording(fresh):
    assert put(fresh, b"x" * (MIB - 1))["SequenceNumber"], (
        "1 MiB exactly with its 1-character key is a record"
    )
    fresh.advance(1)
    error = refused(lambda: put(fresh, b"x" * (MIB + 1)))
    assert error == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value at 'data' failed to satisfy constraint: "
        "Member must have length less than or equal to 1048576",
    }
    error = refused(lambda: put(fresh, b"x", key="k" * 257))
    assert error["Code"] == "ValidationException"
    assert f"Value '{'k' * 257}' at 'partitionKey' failed to satisfy constraint" in error["Message"]
    assert "less than or equal to 256" in error["Message"]


def test_the_1_mib_of_a_record_counts_its_partition_key_as_aws_counts_it(fresh):
    """AWS: "The record size limit applies to the total size of the partition key and data blob",
    in PutRecord as in PutRecords (where moto already counts the key)."""
    error = refused(lambda: put(fresh, b"x" * MIB))
    assert error["Code"] == "ValidationException"
    assert "Value at 'data' failed to satisfy constraint" in error["Message"]
    records = [{"Data": b"x" * (MIB - 1), "PartitionKey": "kk"}]
    error = refused(
        lambda: fresh.client("kinesis").put_records(StreamName=fresh.physical_id("Events"), Records=records)
    )
    assert error["Message"].startswith("1 validation error detected: Value at 'records.1.member.data'")


def test_a_bad_explicit_hash_key_is_refused_as_aws_refuses_it_not_raised_from_moto(fresh):
    """The throughput check finds the record's shard by its ExplicitHashKey; one out of pattern or
    past 2^128 - 1 must come back as AWS's refusal, not as moto's exception or a ValueError."""
    client, name = fresh.client("kinesis"), fresh.physical_id("Events")
    error = refused(lambda: put_hashed(client, name, "abc"))
    assert error["Code"] == "ValidationException"
    assert "Value 'abc' at 'explicitHashKey' failed to satisfy constraint" in error["Message"]
    records = [{"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": "01"}]
    error = refused(lambda: client.put_records(StreamName=name, Records=records))
    assert "at 'records.1.member.explicitHashKey'" in error["Message"]
    error = refused(lambda: put_hashed(client, name, str(2**128)))
    assert error["Code"] == "InvalidArgumentException"
    assert "ExplicitHashKey must be in the range: [0, 2^128-1]" in error["Message"]
    assert put_hashed(client, name, str(2**127))["SequenceNumber"]


def put_hashed(client, name: str, key: str) -> dict:
    return client.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey=key)


def test_put_records_lists_every_bad_record_and_counts_keys_in_its_5_mib(fresh):
    client, name = fresh.client("kinesis"), fresh.physical_id("Events")
    error = refused(
        lambda: client.put_records(
            StreamName=name,
            Records=[
                {"Data": b"ok", "PartitionKey": "k"},
                {"Data": b"x" * (MIB + 1), "PartitionKey": "k"},
                {"Data": b"x", "PartitionKey": "k" * 257},
            ],
        )
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("2 validation errors detected: Value at 'records.2.member.data'")
    assert "at 'records.3.member.partitionKey'" in error["Message"]
    key = "k" * 256
    at_limit = [{"Data": b"x" * (MIB - 256), "PartitionKey": key}] * 5
    error = refused(
        lambda: client.put_records(StreamName=name, Records=[*at_limit, {"Data": b"x", "PartitionKey": "k"}])
    )
    assert error == {"Code": "InvalidArgumentException", "Message": "Records size exceeds 5 MB limit"}


def test_a_shard_takes_1_mib_a_second_put_records_fails_only_the_records_past_it(fresh):
    client, name = fresh.client("kinesis"), fresh.physical_id("Events")
    chunk = b"y" * (400 * 1024)
    answer = client.put_records(
        StreamName=name, Records=[{"Data": chunk + bytes([n]), "PartitionKey": "p"} for n in range(3)]
    )
    assert answer["FailedRecordCount"] == 1
    [first, second, third] = answer["Records"]
    assert "SequenceNumber" in first and "SequenceNumber" in second
    assert third["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert third["ErrorMessage"] == (
        f"Rate exceeded for shard {first['ShardId']} in stream {name} under account {fresh.account}."
    )
    error = refused(lambda: put(fresh, b"z" * (300 * 1024), key="p"))
    assert error["Code"] == "ProvisionedThroughputExceededException", "the shard is full for this second"
    fresh.advance(1)
    assert put(fresh, chunk + b"\x02", key="p")["SequenceNumber"], "the next second it takes the record"


def test_a_shard_takes_1000_records_a_second(fresh):
    client, name = fresh.client("kinesis"), fresh.physical_id("Events")
    records = [{"Data": b"r", "PartitionKey": "n"}] * 500
    assert client.put_records(StreamName=name, Records=records)["FailedRecordCount"] == 0
    assert client.put_records(StreamName=name, Records=records[:499])["FailedRecordCount"] == 0
    assert client.put_records(StreamName=name, Records=records[:3])["FailedRecordCount"] == 2


def objects(cloud: LocalCloud, prefix: str) -> dict[str, bytes]:
    s3_client, bucket = cloud.client("s3"), cloud.physical_id("Lake")
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"]: gzip.decompress(s3_client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in listed
    }


def test_firehose_reads_with_its_role_and_records_wait_in_the_stream_while_it_may_not(fresh):
    kinesis_client, held = fresh.client("kinesis"), fresh.physical_id("Held")
    kinesis_client.put_record(StreamName=held, Data=b"waiting\n", PartitionKey="k")
    fresh.advance(60)
    assert objects(fresh, "held/") == {}, "Firehose may not read the stream: nothing delivered"
    denied = [s for s in fresh.trace.find("read") if s.source == f"kinesis:{held}"]
    assert len(denied) >= 60 and {s.outcome for s in denied} == {"error: AccessDeniedException"}, (
        "retried each second"
    )
    arn = kinesis_client.describe_stream_summary(StreamName=held)["StreamDescriptionSummary"]["StreamARN"]
    role = fresh.client("iam").get_role(RoleName=fresh.physical_id("Reader"))["Role"]["Arn"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kinesis:GetRecords", "Resource": arn}],
    }
    fresh.iam.add_identity_policy(role, allow, "test-grant")
    fresh.advance(1)
    assert objects(fresh, "held/") == {}, "read now, written after the buffer interval"
    fresh.advance(30)
    assert list(objects(fresh, "held/").values()) == [b"waiting\n"]


def test_creation_refuses_a_role_that_may_not_read_the_source_and_an_expression_prefix_without_errors(fresh):
    client = fresh.client("firehose")
    source = {
        "KinesisStreamARN": fresh.client("kinesis").describe_stream_summary(
            StreamName=fresh.physical_id("Events")
        )["StreamDescriptionSummary"]["StreamARN"],
        "RoleARN": fresh.client("iam")
        .get_role(RoleName=fresh.physical_id("Reader"))["Role"]["Arn"]
        .replace("Reader", "Nobody"),
    }
    destination = {
        "BucketARN": f"arn:aws:s3:::{fresh.physical_id('Lake')}",
        "RoleARN": source["RoleARN"],
        "Prefix": "x/!{timestamp:yyyy}/",
    }
    error = refused(
        lambda: client.create_delivery_stream(
            DeliveryStreamName="no-errors",
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration=source,
            ExtendedS3DestinationConfiguration=destination,
        )
    )
    assert error["Code"] == "InvalidArgumentException"
    assert "ErrorOutputPrefix" in error["Message"]
    error = refused(
        lambda: client.create_delivery_stream(
            DeliveryStreamName="no-role",
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration=source,
            ExtendedS3DestinationConfiguration={**destination, "ErrorOutputPrefix": "e/"},
        )
    )
    assert error["Code"] == "InvalidArgumentException"
    assert "cannot read the source stream" in error["Message"]


def test_the_write_checks_leave_an_idle_mappings_polls_free_to_skip_get_records(cloud):
    """A stream mapping skips GetRecords on a caught-up shard when the call would pass every check
    (:func:`localcloud.core.hooks.would_pass_checks`); Kinesis's write limits concern PutRecord(s)
    only, so they must not make every idle poll of every shard an SDK call."""
    model = cloud.client("kinesis").meta.service_model
    role = cloud.client("iam").get_role(RoleName=cloud.physical_id("Reader"))["Role"]["Arn"]
    arn = cloud.client("kinesis").describe_stream_summary(StreamName=cloud.physical_id("Events"))[
        "StreamDescriptionSummary"
    ]["StreamARN"]
    read = {"StreamARN": arn, "ShardIterator": "any", "Limit": 100}
    assert would_pass_checks(cloud.kernel, role, "mapping", model, "GetRecords", read)


def test_a_refused_creation_leaves_no_delivery_stream_behind(fresh):
    """Firehose refuses at CreateDeliveryStream: nothing is created, so the same name can be created
    again once the configuration is right (moto had already created it when the refusal came)."""
    client = fresh.client("firehose")
    reader = fresh.client("iam").get_role(RoleName=fresh.physical_id("Reader"))["Role"]["Arn"]
    source = {
        "KinesisStreamARN": fresh.client("kinesis").describe_stream_summary(
            StreamName=fresh.physical_id("Events")
        )["StreamDescriptionSummary"]["StreamARN"],
        "RoleARN": reader,
    }
    destination = {
        "BucketARN": f"arn:aws:s3:::{fresh.physical_id('Lake')}",
        "RoleARN": reader,
        "Prefix": "retried/!{timestamp:yyyy}/",
    }

    def create(**extra: str) -> dict:
        return client.create_delivery_stream(
            DeliveryStreamName="retried",
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration=source,
            ExtendedS3DestinationConfiguration={**destination, **extra},
        )

    assert refused(create)["Code"] == "InvalidArgumentException"
    assert "retried" not in client.list_delivery_streams()["DeliveryStreamNames"]
    assert create(ErrorOutputPrefix="retried-errors/")["DeliveryStreamARN"].endswith("/retried")
