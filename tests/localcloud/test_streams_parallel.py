"""ParallelizationFactor on stream mappings: virtual shards by partition key, one cloud for the module.

Each test uses partition keys of its own, chosen by the virtual shard they hash to, so it sees only
its own records; every failure goes to the one on-failure queue.
"""

from __future__ import annotations

import base64
import itertools
import json

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from localcloud.services.lambda_.event_sources.parallel import ParallelKinesisEventSource, virtual_shard
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

FACTOR = 4


STREAM_SETTINGS = (
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "TumblingWindowInSeconds",
)


def build(stack: Stack) -> None:
    log = pk_table(stack, "Log")
    failures = sqs.Queue(stack, "Failures")

    def recorder(construct_id: str) -> lambda_.Function:
        fn = python_function(
            stack, construct_id, "stream_recorder", environment={"TABLE_NAME": log.table_name}
        )
        log.grant_read_write_data(fn)
        return fn

    stream = kinesis.Stream(stack, "Readings", shard_count=1, removal_policy=RemovalPolicy.DESTROY)
    recorder("Parallel").add_event_source(
        sources.KinesisEventSource(
            stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=10,
            parallelization_factor=FACTOR,
            bisect_batch_on_error=True,
            retry_attempts=1,
            on_failure=sources.SqsDlq(failures),
        )
    )
    items = dynamodb.Table(
        stack,
        "Items",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        stream=dynamodb.StreamViewType.NEW_IMAGE,
        removal_policy=RemovalPolicy.DESTROY,
    )
    recorder("ItemConsumer").add_event_source(
        sources.DynamoEventSource(
            items, starting_position=lambda_.StartingPosition.TRIM_HORIZON, parallelization_factor=2
        )
    )


@pytest.fixture(scope="module")
def cloud(synth):
    cloud = LocalCloud(synth("ParallelStreams", build), start=FIXED_START)
    cloud.start()
    cloud.function("Parallel").duration = 1.0
    cloud.function("ItemConsumer").duration = 1.0
    yield cloud
    cloud.stop()


def keys(prefix: str, lanes: list[int], factor: int = FACTOR) -> list[str]:
    """One partition key per lane in ``lanes``: ``prefix-<n>`` for the first n that hashes there."""
    found = {}
    for n in itertools.count():
        lane = virtual_shard(f"{prefix}-{n}", factor)
        if lane in lanes and lane not in found:
            found[lane] = f"{prefix}-{n}"
        if len(found) == len(lanes):
            return [found[lane] for lane in lanes]
    raise AssertionError("unreachable")


def put(cloud: LocalCloud, key: str, record_id: str, **data) -> dict:
    return cloud.client("kinesis").put_record(
        StreamName=cloud.physical_id("Readings"),
        Data=json.dumps({"id": record_id, **data}).encode(),
        PartitionKey=key,
    )


def got(cloud: LocalCloud, function: str, prefix: str) -> list[str]:
    """The ids ``function`` was given whose partition key starts with ``prefix``, in order, repeats too."""
    name = cloud.function(function).name
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Log"))["Items"]
    records = [json.loads(i["record"]["S"]) for i in sorted(items, key=lambda i: i["pk"]["S"])]
    return [
        json.loads(base64.b64decode(r["kinesis"]["data"]))["id"]
        if "kinesis" in r
        else r["dynamodb"]["Keys"]["id"]["S"]
        for item, r in zip(sorted(items, key=lambda i: i["pk"]["S"]), records, strict=True)
        if item["pk"]["S"].startswith(f"{name}#")
        and (r["kinesis"]["partitionKey"] if "kinesis" in r else r["dynamodb"]["Keys"]["id"]["S"]).startswith(
            prefix
        )
    ]


def deliveries(cloud: LocalCloud, function: str, sequences: dict[str, str]) -> list:
    """The deliveries to ``function`` holding any of ``sequences`` (sequence number -> key)."""
    spans = cloud.trace.find("deliver", target=cloud.function(function).name)
    return [s for s in spans if set(s.data["sequence_numbers"]) & set(sequences)]


def failures(cloud: LocalCloud) -> list[dict]:
    answer = cloud.client("sqs").receive_message(
        QueueUrl=cloud.physical_id("Failures"), MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_keys_of_one_shard_go_in_concurrent_batches_each_key_in_order(cloud):
    four = keys("order", [0, 1, 2, 3])
    sent = {}
    for n in range(5):
        for key in four:
            sent[put(cloud, key, f"{key}/{n}")["SequenceNumber"]] = key
    cloud.drain()

    for key in four:
        assert [i for i in got(cloud, "Parallel", "order") if i.startswith(f"{key}/")] == [
            f"{key}/{n}" for n in range(5)
        ]
    spans = deliveries(cloud, "Parallel", sent)
    assert len(spans) == 4, "one batch per virtual shard"
    for span in spans:
        assert len({sent[s] for s in span.data["sequence_numbers"]}) == 1, "a batch holds one lane's keys"
    assert {span.at for span in spans} == {spans[0].at}, "all four at once, though one shard"


def test_keys_of_one_virtual_shard_share_its_batches_in_order(cloud):
    first, second = keys("share-a", [1]) + keys("share-b", [1])
    sent = {}
    for n in range(3):
        for key in (first, second):
            sent[put(cloud, key, f"{key}/{n}")["SequenceNumber"]] = key
    cloud.drain()
    [span] = deliveries(cloud, "Parallel", sent)
    assert span.data["sequence_numbers"] == sorted(sent, key=int), "the lane keeps the shard's order"


def test_a_failing_batch_holds_its_virtual_shard_only(cloud):
    bad, other = keys("hold", [2, 3])
    [neighbour] = keys("hold-n", [2])
    sent = {put(cloud, bad, "bad/0")["SequenceNumber"]: bad}
    poison = put(cloud, bad, "bad/1", poison=True)["SequenceNumber"]
    sent[poison] = bad
    sent[put(cloud, bad, "bad/2")["SequenceNumber"]] = bad
    cloud.advance(0)
    assert got(cloud, "Parallel", bad) == ["bad/0", "bad/1"], "the batch failed at its poison record"

    # While the failing lane retries, another lane of the same shard goes on; its own lane waits.
    sent[put(cloud, other, "other/0")["SequenceNumber"]] = other
    sent[put(cloud, neighbour, "neighbour/0")["SequenceNumber"]] = neighbour
    cloud.advance(0.5)
    assert got(cloud, "Parallel", other) == ["other/0"]
    assert got(cloud, "Parallel", neighbour) == [], "the failing batch's lane is held"

    cloud.drain()
    assert got(cloud, "Parallel", neighbour) == ["neighbour/0"], "then its lane goes on"
    bisects = [
        b.detail.split(": ")[1]
        for b in cloud.trace.find("bisect")
        if b.target == cloud.function("Parallel").name
    ]
    assert bisects == ["3 -> 2 + 1", "2 -> 1 + 1"]
    [failure] = failures(cloud)
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000", "the real shard, not a virtual one"
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison
    assert info["batchSize"] == 1
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_dynamodb_items_spread_over_virtual_shards_by_key(cloud):
    first, second = keys("item-a", [0], factor=2) + keys("item-b", [1], factor=2)
    client = cloud.client("dynamodb")
    for n in range(2):
        for key in (first, second):
            client.put_item(TableName=cloud.physical_id("Items"), Item={"id": {"S": key}, "n": {"N": str(n)}})
    cloud.drain()
    spans = cloud.trace.find("deliver", target=cloud.function("ItemConsumer").name)
    assert len(spans) == 2 and spans[0].at == spans[1].at, "the two items' changes in two concurrent batches"
    assert sorted(len(s.data["sequence_numbers"]) for s in spans) == [2, 2]


def test_a_stream_mapping_is_described_with_its_stream_settings_and_lambdas_defaults(cloud):
    mappings = {m.function.name: m for m in cloud.service("lambda").mappings.values()}
    lambda_ = cloud.client("lambda")
    parallel = lambda_.get_event_source_mapping(UUID=mappings[cloud.function("Parallel").name].uuid)
    assert {name: parallel[name] for name in STREAM_SETTINGS} == {
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "ParallelizationFactor": FACTOR,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 1,
        "MaximumRecordAgeInSeconds": -1,
        "TumblingWindowInSeconds": 0,
    }
    assert parallel["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        ":" + cloud.physical_id("Failures").rsplit("/", 1)[-1]
    )
    items = lambda_.get_event_source_mapping(UUID=mappings[cloud.function("ItemConsumer").name].uuid)
    assert (items["BatchSize"], items["ParallelizationFactor"], items["MaximumRetryAttempts"]) == (100, 2, -1)
    assert items["DestinationConfig"] == {"OnFailure": {}}


@pytest.mark.parametrize(
    ("factor", "bound"), [(0, "greater than or equal to 1"), (11, "less than or equal to 10")]
)
def test_a_factor_outside_1_to_10_is_refused(factor, bound):
    with pytest.raises(InvalidRequest, match=f"Value '{factor}' at 'parallelizationFactor'.*{bound}"):
        ParallelKinesisEventSource(None, "m", None, {"ParallelizationFactor": factor})  # type: ignore[arg-type]
