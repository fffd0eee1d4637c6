"""Tumbling windows of stream mappings, as AWS documents them: windows aligned on the epoch, an empty
final invocation retried until it succeeds, the state carried across a bisected batch, and the 1 MB
state limit ending a window early. One cloud for the module; each test has a stream of its own."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from localcloud.services.lambda_.event_sources.streams import KinesisEventSource
from localcloud.services.lambda_.event_sources.windows import MAX_STATE_BYTES, state_bytes
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

WINDOW = 120


def build(stack: Stack) -> None:
    log = pk_table(stack, "Log")
    failures = sqs.Queue(stack, "Failures")
    probe = python_function(stack, "Probe", "window_probe", environment={"TABLE_NAME": log.table_name})
    log.grant_read_write_data(probe)
    for name, options in {
        "Aligned": {"batch_size": 10},
        "Split": {"batch_size": 4, "bisect_batch_on_error": True, "retry_attempts": 1},
        "Large": {"batch_size": 1},
    }.items():
        stream = kinesis.Stream(stack, name, shard_count=1, removal_policy=RemovalPolicy.DESTROY)
        probe.add_event_source(
            sources.KinesisEventSource(
                stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                tumbling_window=Duration.seconds(WINDOW),
                on_failure=sources.SqsDlq(failures),
                **options,
            )
        )


@pytest.fixture(scope="module")
def cloud(synth):
    cloud = LocalCloud(synth("StreamWindows", build), start=FIXED_START)
    cloud.start()
    yield cloud
    cloud.stop()


def put(cloud: LocalCloud, stream: str, **data) -> str:
    answer = cloud.client("kinesis").put_record(
        StreamName=cloud.physical_id(stream), Data=json.dumps(data).encode(), PartitionKey="k"
    )
    return answer["SequenceNumber"]


def seen(cloud: LocalCloud, stream: str) -> list[dict]:
    """What each invocation of ``stream``'s probe was given, in order."""
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Log"))["Items"]
    invocations = [json.loads(i["seen"]["S"]) for i in items if "seen" in i]
    name = cloud.physical_id(stream)
    return sorted((i for i in invocations if i["stream"] == name), key=lambda i: i["n"])


def test_windows_align_on_the_epoch_and_close_with_an_empty_final_invocation_retried_until_it_succeeds(cloud):
    cloud.advance(90)
    first = put(cloud, "Aligned", value=1, fail_final=True)
    cloud.advance(10)
    second = put(cloud, "Aligned", value=2)
    cloud.advance(30)
    third = put(cloud, "Aligned", value=4)
    cloud.drain()

    calls = [
        (c["window"]["start"][11:], c["final"], c["records"], c["state"].get("sum"))
        for c in seen(cloud, "Aligned")
    ]
    assert calls == [
        ("00:00:00Z", False, [first], None),
        ("00:00:00Z", False, [second], 1),
        ("00:00:00Z", True, [], 3),
        ("00:00:00Z", True, [], 3),
        ("00:02:00Z", False, [third], None),
        ("00:02:00Z", True, [], 4),
    ], "a 120 s window from 00:00 (the epoch's), not from the first record's 00:01:30"
    finals = [
        d.at
        for d in cloud.trace.find("deliver", target=cloud.function("Probe").name)
        if "final" in d.detail and d.source == f"kinesis:{cloud.physical_id('Aligned')}"
    ]
    assert finals == [120, 121, 240], (
        "the failed final invocation is retried after its back-off, the next window waits"
    )
    assert {
        c["window"]["end"][11:] for c in seen(cloud, "Aligned") if c["window"]["start"].endswith("00:00:00Z")
    } == {"00:02:00Z"}


def test_a_bisected_batch_passes_on_the_state_from_before_it(cloud):
    one, two = put(cloud, "Split", value=1), put(cloud, "Split", value=2)
    poison = put(cloud, "Split", poison=True)
    four = put(cloud, "Split", value=4)
    cloud.drain()

    calls = [(c["records"], c["state"].get("sum"), c["final"]) for c in seen(cloud, "Split")]
    assert calls == [
        ([one, two, poison, four], None, False),
        ([one, two], None, False),
        ([poison, four], 3, False),
        ([poison], 3, False),
        ([poison], 3, False),
        ([four], 3, False),
        ([], 7, True),
    ], "each retry and half starts from the state the last success left"
    messages = cloud.client("sqs").receive_message(
        QueueUrl=cloud.physical_id("Failures"), MaxNumberOfMessages=10
    )
    [info] = [json.loads(m["Body"])["KinesisBatchInfo"] for m in messages["Messages"]]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison


def test_a_state_over_1_mb_ends_the_window_early_and_the_window_goes_on_with_a_fresh_state(cloud):
    half = MAX_STATE_BYTES // 2 + 1
    first, second = put(cloud, "Large", value=1, pad=half), put(cloud, "Large", value=2, pad=half)
    third = put(cloud, "Large", value=4)
    cloud.drain()

    calls = [(c["records"], c["state"].get("sum"), c["final"], c["early"]) for c in seen(cloud, "Large")]
    assert calls == [
        ([first], None, False, False),
        ([second], 1, False, False),
        ([], 3, True, True),
        ([third], None, False, False),
        ([], 4, True, False),
    ]
    assert len({c["window"]["start"] for c in seen(cloud, "Large")}) == 1, "the same window, twice closed"
    assert state_bytes({"pad": "x" * half}) <= MAX_STATE_BYTES < state_bytes({"pad": "x" * 2 * half})


@pytest.mark.parametrize(
    ("seconds", "bound"), [(901, "less than or equal to 900"), (-1, "greater than or equal to 0")]
)
def test_a_tumbling_window_outside_0_to_900_seconds_is_refused(seconds, bound):
    props = {
        "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        "TumblingWindowInSeconds": seconds,
    }
    with pytest.raises(InvalidRequest, match=f"Value '{seconds}' at 'tumblingWindowInSeconds'.*{bound}"):
        KinesisEventSource(None, "m", None, props, session="s")  # type: ignore[arg-type]
