"""What makes the data-streaming pattern: an encrypted stream read N batches per shard at once, with
a batching window, bisect on error, bounded retries and record age, an on-failure queue, and grants
of exactly what the processor and its poller call."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from patterns.stream_processing import KINESIS_POLLER_ACTIONS, StreamProcessing
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "StreamProcessingStack"


def test_an_encrypted_stream_of_two_shards(templates):
    [stream] = properties_of(templates[STACK], "AWS::Kinesis::Stream").values()
    assert stream["ShardCount"] == 2
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert stream["RetentionPeriodHours"] == 24


def test_the_mapping_parallelizes_bisects_and_gives_up_to_the_failure_queue(templates):
    raw = templates[STACK]
    [stream] = resources_of(raw, "AWS::Kinesis::Stream")
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    [mapping] = properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [stream, "Arn"]}
    assert mapping["ParallelizationFactor"] == 4
    assert mapping["MaximumBatchingWindowInSeconds"] == 5
    assert mapping["BatchSize"] == 100
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 2, "bounded: a poison record never blocks its key forever"
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    assert "FunctionResponseTypes" not in mapping, "bisection isolates the bad record (see the docs page)"
    assert properties_of(raw, "AWS::SQS::Queue")[queue]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_grants_are_exactly_what_is_called_on_one_resource_each(templates):
    raw = templates[STACK]
    [stream] = resources_of(raw, "AWS::Kinesis::Stream")
    [table] = resources_of(raw, "AWS::DynamoDB::Table")
    [queue] = resources_of(raw, "AWS::SQS::Queue")
    granted = {
        tuple(sorted(s["Action"])): s["Resource"]
        for s in statements_of(raw)
        if not any(a.startswith(("logs:", "xray:")) for a in s["Action"])
    }
    assert granted == {
        ("dynamodb:UpdateItem",): {"Fn::GetAtt": [table, "Arn"]},
        tuple(sorted(KINESIS_POLLER_ACTIONS)): {"Fn::GetAtt": [stream, "Arn"]},
        ("sqs:SendMessage",): {"Fn::GetAtt": [queue, "Arn"]},
    }
    assert "kinesis:SubscribeToShard" not in KINESIS_POLLER_ACTIONS, "no enhanced fan-out here"


def test_an_existing_stream_with_its_own_key_and_refused_props():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Custom")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    stream = kinesis.Stream(stack, "Existing", encryption=kinesis.StreamEncryption.KMS, encryption_key=key)
    StreamProcessing(stack, "Mine", stream=stream, parallelization_factor=10, retry_attempts=0)
    raw = Template.from_stack(stack).to_json()
    [mapping] = properties_of(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["ParallelizationFactor"] == 10 and mapping["MaximumRetryAttempts"] == 0
    decrypt = [s for s in statements_of(raw) if s["Action"] == ["kms:Decrypt"]]
    assert [s["Resource"] for s in decrypt] == [
        {"Fn::GetAtt": [next(iter(resources_of(raw, "AWS::KMS::Key"))), "Arn"]}
    ]

    for props, message in [
        ({"parallelization_factor": 11}, "parallelization_factor must be from 1 to 10"),
        ({"parallelization_factor": 0}, "parallelization_factor"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"retry_attempts": -1}, "retry_attempts"),
        ({"max_batching_window": Duration.minutes(6)}, "max_batching_window"),
        ({"max_record_age": Duration.seconds(30)}, "max_record_age"),
        ({"max_record_age": Duration.days(8)}, "max_record_age"),
        ({"stream": stream, "stream_props": {"shard_count": 1}}, "stream and stream_props"),
        ({"failure_queue_props": {"fifo": True}}, "FIFO"),
    ]:
        with pytest.raises(ValueError, match=message):
            StreamProcessing(stack, f"Bad{len(stack.node.children)}", **props)


def test_turning_off_encryption_warns():
    from patterns.defaults import SecureDefaultOverridden

    stack = Stack(App(builtin_cloud_formation_validation=False), "Plain")
    with pytest.warns(SecureDefaultOverridden, match="encryption"):
        StreamProcessing(stack, "Plain", stream_props={"encryption": kinesis.StreamEncryption.UNENCRYPTED})
