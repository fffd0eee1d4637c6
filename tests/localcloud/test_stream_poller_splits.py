"""Stream pollers splitting and skipping, driven with scripted answers (see tests/localcloud/pollers.py):
bisection on a function error, records the filter criteria skip, a tumbling window closed by a
record of the next one, and records lost past the stream's retention, at exact virtual times.

One cloud for the module, from a CloudFormation template; each test reads a stream of its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from localcloud.services.lambda_.event_sources.parallel import (
    ParallelDynamoDBEventSource,
    ParallelKinesisEventSource,
    virtual_shard,
)
from localcloud.services.lambda_.event_sources.streams import DynamoDBEventSource, KinesisEventSource
from localcloud.services.lambda_.runtime import InvocationResult
from tests.localcloud.pollers import Script, error, ok, pollers, template

pytestmark = pytest.mark.localcloud

STREAMS = (
    "Bisected",
    "Filtered",
    "NextWindow",
    "Expiring",
    "Defaults",
    "Lanes",
    "Traced",
    "Aging",
    "FannedOut",
    "OneLane",
    "Straddling",
    "EvenSplit",
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloud]:
    resources: dict[str, Any] = {
        name: {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}} for name in STREAMS
    }
    resources["Failures"] = {"Type": "AWS::SQS::Queue"}
    resources["Changes"] = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        },
    }
    stack = template(resources)
    stack["Outputs"]["ChangesStreamArn"] = {"Value": {"Fn::GetAtt": ["Changes", "StreamArn"]}}
    stack["Resources"]["FanOut"] = {
        "Type": "AWS::Kinesis::StreamConsumer",
        "Properties": {"StreamARN": {"Fn::GetAtt": ["FannedOut", "Arn"]}, "ConsumerName": "fan-out"},
    }
    stack["Outputs"]["FanOutArn"] = {"Value": {"Fn::GetAtt": ["FanOut", "ConsumerARN"]}}
    artifact = StackArtifact("StreamSplits", stack, tmp_path_factory.mktemp("stream-splits"))
    with LocalCloud(artifact, start=FIXED_START) as started:
        yield started


@pytest.fixture
def poll(cloud: LocalCloud) -> Iterator[Callable[..., Any]]:
    yield from pollers(cloud)


def put(cloud: LocalCloud, stream: str, *values: Any, raw: bool = False) -> list[str]:
    kinesis = cloud.client("kinesis")
    name = cloud.physical_id(stream)
    return [
        kinesis.put_record(StreamName=name, Data=v if raw else json.dumps(v).encode(), PartitionKey="k")[
            "SequenceNumber"
        ]
        for v in values
    ]


def values(event: dict[str, Any]) -> list[Any]:
    return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]


def test_bisection_splits_a_failing_batch_in_halves_until_the_bad_record_is_alone(cloud, poll):
    """With BisectBatchOnFunctionError a batch that failed whole is split in two, the first half
    retried after a 1 s back-off of its own; the larger half is the first when the count is odd. A
    lone record that fails is not split: its retries are used up (none here), and the shard goes on."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        return error() if "bad" in values(event) else ok()

    script = Script(cloud, [answer])
    poller = poll(
        KinesisEventSource, "BisectedArn", script, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0
    )
    start = cloud.clock.elapsed()
    put(cloud, "Bisected", 1, 2, "bad", 4, 5)
    cloud.drain()
    assert [
        (at, values(e)) for at, e in zip(script.times(start), (e for _, e in script.calls), strict=True)
    ] == [
        (0, [1, 2, "bad", 4, 5]),
        (1, [1, 2, "bad"]),
        (2, [1, 2]),
        (2, ["bad"]),
        (2, [4, 5]),
    ]
    splits = [s.detail.split(": ")[1] for s in cloud.trace.find("bisect", target=poller.function.name)]
    assert splits == ["5 -> 3 + 2", "3 -> 2 + 1"]
    retries = [(s.detail, s.outcome) for s in cloud.trace.find("retry") if s.source == poller.label]
    assert retries == [("shardId-000000000000: in 1s", "scheduled")] * 2, "each first half after 1 s"
    [discard] = [d for d in cloud.trace.find("discard") if d.source == poller.label]
    assert discard.detail.endswith("1 record(s) 3..3 (RetryAttemptsExhausted)"), "a lone record is not split"


def test_records_the_filters_reject_are_skipped_and_counted(cloud, poll):
    """Kinesis filter criteria see the data: JSON decoded, anything else as text."""
    script = Script(cloud, [lambda _: ok()])
    pattern = {"data": ["plain text"]}
    poller = poll(
        KinesisEventSource,
        "FilteredArn",
        script,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
    )
    kept = put(cloud, "Filtered", b"plain text", raw=True)
    put(cloud, "Filtered", b"other text", raw=True)
    put(cloud, "Filtered", {"data": "plain text"})
    cloud.drain()
    assert [[r["kinesis"]["sequenceNumber"] for r in e["Records"]] for _, e in script.calls] == [kept]
    [skipped] = [s for s in cloud.trace.find("filter") if s.source == poller.label]
    assert skipped.detail.endswith(": 2 record(s) filtered out") and skipped.outcome == "skipped"


def test_dynamodb_filters_see_the_whole_change_record(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}
    poll(
        DynamoDBEventSource,
        "ChangesStreamArn",
        script,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
    )
    dynamodb = cloud.client("dynamodb")
    table = cloud.physical_id("Changes")
    for item_id, kind in (("a", "keep"), ("b", "drop"), ("a", "keep")):
        dynamodb.put_item(TableName=table, Item={"id": {"S": item_id}, "kind": {"S": kind}})
    cloud.drain()
    records = [r for _, e in script.calls for r in e["Records"]]
    assert [(r["eventName"], r["dynamodb"]["Keys"]) for r in records] == [("INSERT", {"id": {"S": "a"}})]


def test_a_record_of_the_next_window_closes_the_current_one_at_its_end(cloud, poll):
    """A tumbling window's final invocation comes once it has ended and the shard is free (the
    function runs 5 s), before the next window's first batch, whose record is already waiting."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        return ok({"state": {"n": len(event["Records"]) + event["state"].get("n", 0)}})

    script = Script(cloud, [answer])
    poller = poll(KinesisEventSource, "NextWindowArn", script, TumblingWindowInSeconds=60)
    poller.function.duration = 5.0
    cloud.advance(-cloud.clock.elapsed() % 60 + 58)
    start = cloud.clock.elapsed() - 58
    put(cloud, "NextWindow", 1)
    cloud.advance(3)
    put(cloud, "NextWindow", 2)
    cloud.drain()
    calls = [
        (at, e["window"]["start"][11:], e["isFinalInvokeForWindow"], e["state"])
        for at, e in zip(script.times(start), (e for _, e in script.calls), strict=True)
    ]
    assert calls == [
        (58, calls[0][1], False, {}),
        (63, calls[0][1], True, {"n": 1}),
        (68, calls[2][1], False, {}),
        (120, calls[2][1], True, {"n": 1}),
    ]
    assert calls[0][1] != calls[2][1]


def test_records_past_the_streams_retention_are_lost_without_a_destination_send(cloud, poll):
    """A stream keeps records 24 h unless told otherwise: a failing batch retried past that loses its
    records, traced as lost, not sent anywhere."""
    script = Script(cloud, [lambda _: error()])
    poller = poll(KinesisEventSource, "ExpiringArn", script)
    poller.enabled = False
    start = cloud.clock.elapsed()
    put(cloud, "Expiring", 1, 2)
    cloud.advance(24 * 3600 - 10)
    poller.enabled = True
    cloud.advance(30)
    poller.enabled = False
    [expired] = [s for s in cloud.trace.find("expire") if s.source == poller.label]
    assert expired.detail.endswith(": 2 record(s) past the stream's retention") and expired.outcome == "lost"
    day = 24 * 3600
    assert script.times(start) == [day - 10, day - 9, day - 7, day - 3], "retried until past 24 h"
    assert expired.at - start == day + 5


def test_a_stream_mapping_takes_batches_of_100_by_default(cloud, poll):
    """Lambda's default BatchSize for Kinesis and DynamoDB streams is 100 records."""
    script = Script(cloud, [lambda _: ok()])
    poll(KinesisEventSource, "DefaultsArn", script)
    entries = [{"Data": json.dumps(n).encode(), "PartitionKey": "k"} for n in range(101)]
    cloud.client("kinesis").put_records(StreamName=cloud.physical_id("Defaults"), Records=entries)
    cloud.drain()
    assert [len(e["Records"]) for _, e in script.calls] == [100, 1]


def _key_in_lane(prefix: str, lane: int, factor: int, as_key=lambda k: k) -> str:
    """The first ``prefix-<n>`` whose partition key (as ``as_key`` makes it) hashes to ``lane``."""
    n = 0
    while virtual_shard(as_key(f"{prefix}-{n}"), factor) != lane:
        n += 1
    return f"{prefix}-{n}"


def test_each_virtual_shard_takes_its_own_batches_and_a_failing_one_holds_only_itself(cloud, poll):
    """ParallelizationFactor 10: each partition key's lane is invoked on its own, at once, in its
    key's order; a lane whose batch failed waits out its back-off while the others go on."""
    first, second, third = (_key_in_lane("lane", lane, 10) for lane in (0, 5, 9))

    failed: list[bool] = []

    def answer(event: dict[str, Any]) -> InvocationResult:
        if "fail-once" in values(event) and not failed:
            failed.append(True)
            return error()
        return ok()

    script = Script(cloud, [answer])
    poller = poll(ParallelKinesisEventSource, "LanesArn", script, ParallelizationFactor=10)
    poller.function.duration = 1.0
    assert [len(lanes) for lanes in poller.virtual_shards.values()] == [10]
    start = cloud.clock.elapsed()
    kinesis = cloud.client("kinesis")
    for key, data in ((first, 1), (second, "fail-once"), (third, 3), (first, 4)):
        kinesis.put_record(
            StreamName=cloud.physical_id("Lanes"), Data=json.dumps(data).encode(), PartitionKey=key
        )
    cloud.drain()
    calls = sorted(
        (at, json.dumps(values(e)))
        for at, e in zip(script.times(start), (e for _, e in script.calls), strict=True)
    )
    assert calls == [(0, '["fail-once"]'), (0, "[1, 4]"), (0, "[3]"), (1, '["fail-once"]')]


def test_dynamodb_changes_go_to_the_lane_of_their_items_key(cloud, poll):
    def as_key(item_id: str) -> str:
        return json.dumps({"id": {"S": item_id}}, sort_keys=True)

    first, second = _key_in_lane("item", 0, 2, as_key), _key_in_lane("item", 1, 2, as_key)
    script = Script(cloud, [lambda _: ok()])
    poller = poll(
        ParallelDynamoDBEventSource,
        "ChangesStreamArn",
        script,
        ParallelizationFactor=2,
        StartingPosition="LATEST",
    )
    poller.function.duration = 1.0
    start = cloud.clock.elapsed()
    for n in range(2):
        for item_id in (first, second):
            cloud.client("dynamodb").put_item(
                TableName=cloud.physical_id("Changes"), Item={"id": {"S": item_id}, "n": {"S": str(n)}}
            )
    cloud.drain()
    lanes = sorted(
        (at, [r["dynamodb"]["Keys"]["id"]["S"] for r in e["Records"]])
        for at, e in zip(script.times(start), (e for _, e in script.calls), strict=True)
    )
    assert lanes == sorted([(0, [first, first]), (0, [second, second])])


def test_the_trace_tells_what_a_report_checkpointed_and_when_retries_ran_out(cloud, poll):
    """The delivery spans say where each retry starts, what was checkpointed before it, and when the
    retries ran out; the retry spans say when the next attempt comes."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        failed = [r for r in event["Records"] if json.loads(base64.b64decode(r["kinesis"]["data"])) == 2]
        return ok({"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in failed]})

    poller = poll(
        KinesisEventSource,
        "TracedArn",
        Script(cloud, [answer]),
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    one, two, _ = put(cloud, "Traced", 1, 2, 3)
    cloud.drain()
    spans = cloud.trace.find("deliver", target=poller.function.name)
    assert [(s.outcome, s.data["checkpointed"]) for s in spans] == [
        (f"reported failures: retry from {two}", [one]),
        (f"reported failures: retry from {two}; retries exhausted after 2 invocation(s)", []),
    ]
    retries = [s.detail for s in cloud.trace.find("retry") if s.source == poller.label]
    assert retries == ["shardId-000000000000: in 1s"]


def test_only_the_records_past_the_maximum_age_are_given_up_the_rest_of_the_batch_goes_on(cloud, poll):
    """The too-old head of a batch goes to the destination (its Kinesis arrival times to the
    millisecond); the younger records of the same batch are invoked as usual, traced under the
    stream's name."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(
        KinesisEventSource,
        "AgingArn",
        script,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    poller.enabled = False
    arrived = cloud.clock.now()
    old = put(cloud, "Aging", "old")
    cloud.advance(30.5)
    young = put(cloud, "Aging", "young")
    cloud.advance(30.5)
    poller.enabled = True
    cloud.drain()
    assert [[r["kinesis"]["sequenceNumber"] for r in e["Records"]] for _, e in script.calls] == [young]
    [delivery] = cloud.trace.find("deliver", target=poller.function.name)
    assert delivery.source == "kinesis:" + cloud.physical_id("Aging")
    answer = cloud.client("sqs").receive_message(QueueUrl=cloud.physical_id("Failures"))
    [info] = [json.loads(m["Body"])["KinesisBatchInfo"] for m in answer["Messages"]]
    stamp = arrived.strftime("%Y-%m-%dT%H:%M:%S.") + f"{arrived.microsecond // 1000:03d}Z"
    assert (info["startSequenceNumber"], info["batchSize"]) == (old[0], 1)
    assert info["approximateArrivalOfFirstRecord"] == info["approximateArrivalOfLastRecord"] == stamp


@pytest.mark.parametrize(
    ("source", "actions"),
    [
        (
            "FannedOutArn",
            "kinesis:DescribeStream, kinesis:GetRecords, kinesis:GetShardIterator, kinesis:ListStreams",
        ),
        (
            "FanOutArn",
            "kinesis:DescribeStream, kinesis:GetRecords, kinesis:GetShardIterator, kinesis:ListStreams, "
            "kinesis:DescribeStreamConsumer, kinesis:SubscribeToShard",
        ),
    ],
)
def test_an_enhanced_fan_out_consumer_needs_the_consumers_actions_too(cloud, poll, source, actions):
    """Reading through a stream consumer, Lambda also needs DescribeStreamConsumer and
    SubscribeToShard on the consumer; reading the stream itself, only the four read actions."""
    with pytest.raises(InvalidRequest) as refused:
        poll(KinesisEventSource, source, Script(cloud, [lambda _: ok()]), role="BareArn")
    assert str(refused.value).endswith(f"may not {actions})")


def test_without_a_parallelization_factor_a_shard_is_one_lane(cloud, poll):
    """ParallelizationFactor defaults to 1: records of keys that two lanes would split still go in
    one batch per shard, in the shard's order."""
    first, second = _key_in_lane("one", 0, 2), _key_in_lane("one", 1, 2)
    script = Script(cloud, [lambda _: ok()])
    poll(ParallelKinesisEventSource, "OneLaneArn", script)
    kinesis = cloud.client("kinesis")
    for n, key in enumerate((first, second, first)):
        kinesis.put_record(
            StreamName=cloud.physical_id("OneLane"), Data=json.dumps(n).encode(), PartitionKey=key
        )
    cloud.drain()
    assert [values(e) for _, e in script.calls] == [[0, 1, 2]]


def test_records_of_a_window_waiting_behind_a_busy_shard_go_before_its_final_invocation(cloud, poll):
    """The shard is busy past the window's end while a record of the window and one of the next
    wait: the window's record is invoked first, then its final invocation, then the next window."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        return ok({"state": {"n": len(event["Records"]) + event["state"].get("n", 0)}})

    script = Script(cloud, [answer])
    poller = poll(KinesisEventSource, "StraddlingArn", script, TumblingWindowInSeconds=60)
    poller.function.duration = 20.0
    cloud.advance(-cloud.clock.elapsed() % 60 + 50)
    start = cloud.clock.elapsed() - 50
    put(cloud, "Straddling", "a")
    cloud.advance(5)
    put(cloud, "Straddling", "b")
    cloud.advance(10)
    put(cloud, "Straddling", "c")
    cloud.drain()
    calls = [
        (at, values(e), e["isFinalInvokeForWindow"], e["state"])
        for at, e in zip(script.times(start), (e for _, e in script.calls), strict=True)
    ]
    assert calls == [
        (50, ["a"], False, {}),
        (70, ["b"], False, {"n": 1}),
        (90, [], True, {"n": 2}),
        (110, ["c"], False, {}),
        (130, [], True, {"n": 1}),
    ]


def test_an_even_batch_is_bisected_in_equal_halves(cloud, poll):
    def answer(event: dict[str, Any]) -> InvocationResult:
        return error() if "bad" in values(event) else ok()

    poller = poll(
        KinesisEventSource,
        "EvenSplitArn",
        Script(cloud, [answer]),
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
    )
    put(cloud, "EvenSplit", 1, 2, 3, "bad")
    cloud.drain()
    splits = [s.detail.split(": ")[1] for s in cloud.trace.find("bisect", target=poller.function.name)]
    assert splits == ["4 -> 2 + 2", "2 -> 1 + 1"]
