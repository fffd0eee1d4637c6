"""Kinesis and DynamoDB stream pollers driven directly, each batch answered by a script (see
tests/localcloud/pollers.py): the exact virtual times of retries and window closings, what is
checkpointed, given up and sent to the on-failure destination, as AWS documents it; and the ranges
Lambda holds the stream settings to.

One cloud for the module, from a CloudFormation template; each test reads a stream of its own.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from localcloud.errors import InvalidRequest
from localcloud.services.lambda_.event_sources.limits import setting_in_range
from localcloud.services.lambda_.event_sources.parallel import FACTOR_RANGE
from localcloud.services.lambda_.event_sources.streams import DynamoDBEventSource, KinesisEventSource
from localcloud.services.lambda_.event_sources.windows import (
    MAX_STATE_BYTES,
    over_limit,
    state_bytes,
    tumbling_window_seconds,
)
from localcloud.services.lambda_.invoker import Throttled
from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction
from tests.localcloud.pollers import Script, error, ok, pollers, template

pytestmark = pytest.mark.localcloud

STREAMS = (
    "Backoff",
    "Unknown",
    "Throttled",
    "Batching",
    "Early",
    "PartialBisect",
    "WindowReport",
    "Exhausted",
    "FinalDropped",
    "AgeBoundary",
    "AtTimestamp",
    "FinalGiveUp",
    "AllKept",
    "Refusing",
    "Aged",
    "Heavy",
    "Spread",
    "AgedHalf",
)
ITEMS = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
    },
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloud]:
    resources = {
        "Items": ITEMS,
        "Failures": {"Type": "AWS::SQS::Queue"},
        **{name: {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}} for name in STREAMS},
    }
    stack = template(resources)
    stack["Outputs"]["ItemsStreamArn"] = {"Value": {"Fn::GetAtt": ["Items", "StreamArn"]}}
    artifact = StackArtifact("StreamPollers", stack, tmp_path_factory.mktemp("stream-pollers"))
    with LocalCloud(artifact, start=FIXED_START) as started:
        yield started


@pytest.fixture
def poll(cloud: LocalCloud) -> Iterator[Callable[..., Any]]:
    yield from pollers(cloud)


def _sequence(record: dict[str, Any]) -> str:
    return (
        record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["dynamodb"]["SequenceNumber"]
    )


def sequences(script: Script) -> list[list[str]]:
    return [[_sequence(r) for r in event["Records"]] for _, event in script.calls]


def put(cloud: LocalCloud, stream: str, *values: Any) -> list[str]:
    """Put one JSON record per value on ``stream``; their sequence numbers."""
    kinesis = cloud.client("kinesis")
    name = cloud.physical_id(stream)
    return [
        kinesis.put_record(StreamName=name, Data=json.dumps(v).encode(), PartitionKey="k")["SequenceNumber"]
        for v in values
    ]


def failures(cloud: LocalCloud) -> list[dict[str, Any]]:
    answer = cloud.client("sqs").receive_message(
        QueueUrl=cloud.physical_id("Failures"), MaxNumberOfMessages=10
    )
    messages = answer.get("Messages", [])
    for m in messages:
        cloud.client("sqs").delete_message(
            QueueUrl=cloud.physical_id("Failures"), ReceiptHandle=m["ReceiptHandle"]
        )
    return [json.loads(m["Body"]) for m in messages]


def test_a_batch_over_lambdas_6_mb_is_cut_to_fit(cloud, poll):
    """Lambda sends a batch "up to the payload limit for synchronous invocation (6 MB)": eight
    records of 900,000 bytes (1.2 MB each in the event, as base64) go as batches of five and three,
    in order. (One a second: a shard takes 1 MB/s; the 60 s window gathers them.)"""
    script = Script(cloud, [lambda _: ok()])
    poll(
        KinesisEventSource,
        "HeavyArn",
        script,
        StartingPosition="TRIM_HORIZON",
        BatchSize=100,
        MaximumBatchingWindowInSeconds=60,
    )
    kinesis = cloud.client("kinesis")
    name = cloud.physical_id("Heavy")
    sent = []
    for n in range(8):
        sent.append(
            kinesis.put_record(StreamName=name, Data=bytes([n]) * 900_000, PartitionKey="k")["SequenceNumber"]
        )
        cloud.advance(1)
    cloud.drain()
    assert sequences(script) == [sent[:5], sent[5:]]
    for _, event in script.calls:
        assert len(json.dumps(event, separators=(",", ":")).encode()) <= 6 * 1024 * 1024


def test_the_back_off_doubles_from_1_s_to_at_most_60_s_until_the_records_are_too_old(cloud, poll):
    """AWS retries a failing batch with back-off until MaximumRecordAgeInSeconds; the gaps here double
    from 1 s and stop growing at 60 s, and the record goes to the destination once it is over 300 s old."""
    script = Script(cloud, [lambda _: error()])
    poller = poll(
        KinesisEventSource,
        "BackoffArn",
        script,
        MaximumRecordAgeInSeconds=300,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    start = cloud.clock.elapsed()
    [sequence] = put(cloud, "Backoff", {"n": 1})
    cloud.drain()
    assert script.times(start) == [0, 1, 3, 7, 15, 31, 63, 123, 183, 243]
    deliveries = [d.detail for d in cloud.trace.find("deliver", target=poller.function.name)]
    shard = "shardId-000000000000"
    assert deliveries == [f"{shard}: batch of 1"] + [
        f"{shard}: batch of 1, attempt {n}" for n in range(2, 11)
    ]
    [failure] = failures(cloud)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 10
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }, "the last invocation's function error"
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequence,
        sequence,
        1,
    )


def test_an_unknown_item_identifier_fails_the_whole_batch_which_is_retried_from_its_start(cloud, poll):
    """A batchItemFailures entry naming no record of the batch makes Lambda treat the whole batch as
    failed: nothing is checkpointed, and the same records come back after the back-off."""
    script = Script(cloud, [lambda _: ok({"batchItemFailures": [{"itemIdentifier": "999"}]}), lambda _: ok()])
    poller = poll(KinesisEventSource, "UnknownArn", script, FunctionResponseTypes=["ReportBatchItemFailures"])
    start = cloud.clock.elapsed()
    sent = put(cloud, "Unknown", {"n": 1}, {"n": 2})
    cloud.drain()
    assert sequences(script) == [sent, sent]
    assert script.times(start) == [0, 1]
    [first, second] = cloud.trace.find("deliver", target=poller.function.name)
    assert first.outcome == "invalid response: the batch failed" and second.outcome == "ok"


def test_a_batch_throttled_until_too_old_is_sent_with_no_invocation_behind_it(cloud, poll):
    """A batch that never reached the function has no response: the destination's record counts no
    invocation and carries no responseContext, and its condition is the record age."""

    def throttled(_: dict[str, Any]) -> InvocationResult:
        raise Throttled("Rate Exceeded")

    script = Script(cloud, [throttled])
    poller = poll(
        KinesisEventSource,
        "ThrottledArn",
        script,
        MaximumRecordAgeInSeconds=10,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    start = cloud.clock.elapsed()
    put(cloud, "Throttled", {"n": 1})
    cloud.drain()
    assert script.times(start) == [0, 1, 3, 7], "throttles use up no retries"
    outcomes = [d.outcome for d in cloud.trace.find("deliver", target=poller.function.name)]
    assert outcomes == ["throttled"] * 4
    [failure] = failures(cloud)
    assert set(failure) == {"requestContext", "version", "timestamp", "KinesisBatchInfo"}
    context = failure["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == ("RecordAgeExceeded", 0)
    assert uuid.UUID(context["requestId"])


def test_a_functions_stream_batch_reports_the_age_of_its_newest_record_as_iterator_age(cloud):
    """Lambda's IteratorAge for a stream mapping: when a batch is sent, how long its newest record
    has been in the stream, in milliseconds, under the function's name."""
    name = f"aged-{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:lambda:{cloud.region}:{cloud.account}:function:{name}"
    function = LambdaFunction(
        "Aged", name, arn, "index.handler", "python3.13", Path("."), [], {}, cloud.outputs["PollerArn"]
    )
    script = Script(cloud, [lambda _: ok()])
    props = {"EventSourceArn": cloud.outputs["AgedArn"]}
    poller = KinesisEventSource(cloud.kernel, f"mapping-{name}", function, props, deliver=script)
    put(cloud, "Aged", "older")
    cloud.advance(10)
    put(cloud, "Aged", "newer")
    cloud.advance(20)
    cloud.kernel.add_pollable(poller)
    try:
        cloud.drain()
    finally:
        cloud.kernel.remove_pollable(poller)
    assert [len(e["Records"]) for _, e in script.calls] == [2]
    (age,) = cloud.metrics("AWS/Lambda", "IteratorAge", {"FunctionName": name})
    assert (age.sum, age.unit) == (20_000, "Milliseconds")


def test_binary_values_and_lists_of_a_dynamodb_image_reach_the_function_base64_encoded(cloud, poll):
    """Lambda sends a stream record's images in DynamoDB JSON, binary values as base64 text, inside
    lists and maps too."""
    script = Script(cloud, [lambda _: ok()])
    poll(DynamoDBEventSource, "ItemsStreamArn", script)
    item = {
        "id": {"S": "binary"},
        "blob": {"B": b"\x00\xff"},
        "blobs": {"BS": [b"\x01"]},
        "list": {"L": [{"B": b"\x02"}, {"N": "1"}]},
        "map": {"M": {"inner": {"B": b"\x03"}}},
    }
    cloud.client("dynamodb").put_item(TableName=cloud.physical_id("Items"), Item=item)
    cloud.drain()
    [(_, event)] = script.calls
    [record] = event["Records"]
    assert record["dynamodb"]["NewImage"] == {
        "id": {"S": "binary"},
        "blob": {"B": base64.b64encode(b"\x00\xff").decode()},
        "blobs": {"BS": [base64.b64encode(b"\x01").decode()]},
        "list": {"L": [{"B": base64.b64encode(b"\x02").decode()}, {"N": "1"}]},
        "map": {"M": {"inner": {"B": base64.b64encode(b"\x03").decode()}}},
    }
    assert record["dynamodb"]["Keys"] == {"id": {"S": "binary"}}


def _to_window_start(cloud: LocalCloud, seconds: int) -> float:
    """Move the clock to the next start of a ``seconds`` window (windows align on the epoch)."""
    cloud.advance(-cloud.clock.elapsed() % seconds)
    return cloud.clock.elapsed()


def test_a_part_batch_is_invoked_when_its_batching_window_ends(cloud, poll):
    """With MaximumBatchingWindowInSeconds, Lambda waits up to the window for a full batch: a lone
    record goes when the window ends, draining the cloud stops the clock there."""
    script = Script(cloud, [lambda _: ok()])
    poll(KinesisEventSource, "BatchingArn", script, BatchSize=5, MaximumBatchingWindowInSeconds=20)
    start = cloud.clock.elapsed()
    sent = put(cloud, "Batching", {"n": 1})
    cloud.drain()
    assert sequences(script) == [sent]
    assert script.times(start) == [20]


def test_a_window_ended_early_by_its_state_closes_as_soon_as_the_function_is_free(cloud, poll):
    """A state over 1 MB ends the window at once: the final invocation follows the batch as soon as the
    shard is free again (after the function's duration), not at the window's end."""
    big = {"pad": "x" * (1024 * 1024)}
    script = Script(cloud, [lambda event: ok({"state": {} if event["isFinalInvokeForWindow"] else big})])
    poller = poll(KinesisEventSource, "EarlyArn", script, TumblingWindowInSeconds=600)
    poller.function.duration = 2.0
    start = _to_window_start(cloud, 600)
    put(cloud, "Early", {"n": 1})
    cloud.drain()
    calls = [
        (round(at - start, 3), e["isFinalInvokeForWindow"], e["isWindowTerminatedEarly"])
        for at, e in script.calls
    ]
    assert calls == [(0, False, False), (2, True, True)]


def test_a_partial_report_retries_from_the_failed_record_even_with_bisection_on(cloud, poll):
    """Bisecting splits batches that failed whole; a batch whose report names the records that failed
    is checkpointed before the lowest and retried from it, not split."""
    script = Script(
        cloud,
        [
            lambda e: ok({"batchItemFailures": [{"itemIdentifier": _sequence(e["Records"][2])}]}),
            lambda _: ok(),
        ],
    )
    poller = poll(
        KinesisEventSource,
        "PartialBisectArn",
        script,
        BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    start = cloud.clock.elapsed()
    sent = put(cloud, "PartialBisect", *range(4))
    cloud.drain()
    assert sequences(script) == [sent, sent[2:]]
    assert script.times(start) == [0, 1]
    assert cloud.trace.find("bisect", target=poller.function.name) == []


def test_a_partial_report_in_a_window_keeps_the_state_of_what_succeeded(cloud, poll):
    """The records before the lowest reported failure are checkpointed, so the state the function
    answered with them is the one the retry gets, and the final invocation after it."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        state = dict(event["state"])
        if event["isFinalInvokeForWindow"]:
            return ok({"state": state})
        records = event["Records"]
        if len(records) == 3:  # the first attempt: the second record fails
            return ok(
                {"state": {"seen": 1}, "batchItemFailures": [{"itemIdentifier": _sequence(records[1])}]}
            )
        return ok({"state": {"seen": state.get("seen", 0) + len(records)}})

    script = Script(cloud, [answer])
    poll(
        KinesisEventSource,
        "WindowReportArn",
        script,
        TumblingWindowInSeconds=60,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    start = _to_window_start(cloud, 60)
    sent = put(cloud, "WindowReport", 1, 2, 3)
    cloud.drain()
    calls = [
        (round(at - start), [_sequence(r) for r in e["Records"]], e["state"], e["isFinalInvokeForWindow"])
        for at, e in script.calls
    ]
    assert calls == [
        (0, sent, {}, False),
        (1, sent[1:], {"seen": 1}, False),
        (60, [], {"seen": 3}, True),
    ]


def test_an_answer_without_state_fails_a_window_batch_but_not_its_final_invocation(cloud, poll):
    """In a tumbling window the function must answer a state; the final invocation's answer is not
    read (its batchItemFailures neither), so nothing is retried after it."""
    answers = [
        lambda _: ok({}),
        lambda _: ok({"state": {"ok": True}}),
        lambda _: ok({"batchItemFailures": [{"itemIdentifier": "1"}]}),
    ]
    script = Script(cloud, answers)
    poller = poll(
        KinesisEventSource,
        "FinalDroppedArn",
        script,
        TumblingWindowInSeconds=60,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    start = _to_window_start(cloud, 60)
    put(cloud, "FinalDropped", 1)
    cloud.drain()
    calls = [(round(at - start), e["isFinalInvokeForWindow"]) for at, e in script.calls]
    assert calls == [(0, False), (1, False), (60, True)]
    outcomes = [d.outcome for d in cloud.trace.find("deliver", target=poller.function.name)]
    assert outcomes == ["invalid response: the batch failed", "ok", "ok"]


def test_retries_exhausted_after_a_report_send_only_the_records_from_the_lowest_failure(cloud, poll):
    """What succeeded before the lowest reported failure stays checkpointed: the destination's batch
    info starts at that record, and the shard goes on with the next records."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        failed = [r for r in event["Records"] if json.loads(base64.b64decode(r["kinesis"]["data"])) >= 2]
        return ok({"batchItemFailures": [{"itemIdentifier": _sequence(r)} for r in reversed(failed)]})

    script = Script(cloud, [answer])
    poll(
        KinesisEventSource,
        "ExhaustedArn",
        script,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    start = cloud.clock.elapsed()
    sent = put(cloud, "Exhausted", 1, 2, 3)
    cloud.drain()
    assert sequences(script) == [sent, sent[1:]]
    assert script.times(start) == [0, 1]
    [failure] = failures(cloud)
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sent[1],
        sent[2],
        2,
    )
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}, (
        "no function error"
    )
    later = put(cloud, "Exhausted", 0)
    cloud.drain()
    assert sequences(script)[-1] == later


def test_a_record_exactly_as_old_as_the_maximum_age_is_still_invoked(cloud, poll):
    """MaximumRecordAgeInSeconds discards records older than it: at 60 s a record is invoked, at 61 s
    it goes to the destination without an invocation."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(
        KinesisEventSource,
        "AgeBoundaryArn",
        script,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    sent = []
    for age in (60, 61):
        poller.enabled = False
        sent += put(cloud, "AgeBoundary", age)
        cloud.advance(age)
        poller.enabled = True
        cloud.drain()
    assert sequences(script) == [sent[:1]]
    [failure] = failures(cloud)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 0 and "responseContext" not in failure
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == sent[1]


def test_at_timestamp_starts_from_the_first_record_that_arrived_at_or_after_it(cloud, poll):
    start = cloud.clock.now()
    put(cloud, "AtTimestamp", "before")
    cloud.advance(10)
    after = put(cloud, "AtTimestamp", "at", "after")
    script = Script(cloud, [lambda _: ok()])
    poll(
        KinesisEventSource,
        "AtTimestampArn",
        script,
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=start.timestamp() + 10,
    )
    cloud.drain()
    assert sequences(script) == [after]


def test_a_final_window_state_given_up_is_never_sent_to_the_destination(cloud, poll):
    """The on-failure destination learns of records; a window's final invocation has none, so giving
    it up (here: throttled past the maximum record age after the window's end) sends nothing."""

    def answer(event: dict[str, Any]) -> InvocationResult:
        if event["isFinalInvokeForWindow"]:
            raise Throttled("Rate Exceeded")
        return ok({"state": {"n": 1}})

    script = Script(cloud, [answer])
    poller = poll(
        KinesisEventSource,
        "FinalGiveUpArn",
        script,
        TumblingWindowInSeconds=60,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    start = _to_window_start(cloud, 60)
    window = cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    put(cloud, "FinalGiveUp", 1)
    cloud.drain()
    finals = [round(at - start) for at, e in script.calls if e["isFinalInvokeForWindow"]]
    assert finals == [60, 61, 63, 67, 75, 91], "retried until 60 s after the window's end"
    [discard] = [d for d in cloud.trace.find("discard") if d.source == poller.label]
    assert (discard.target, discard.outcome) == ("-", "dropped")
    assert discard.detail == f"shardId-000000000000: final state of window {window} (RecordAgeExceeded)"
    assert failures(cloud) == []


def _milliseconds(moment: datetime) -> str:
    """A time as Lambda's on-failure record for Kinesis writes it: ISO 8601, UTC, to the millisecond."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_a_kinesis_failure_record_gives_its_first_and_last_arrival_and_its_time_to_the_millisecond(
    cloud, poll
):
    """Lambda's on-failure record for a Kinesis batch, as AWS documents it: when Lambda gave up and
    when the batch's first and last records arrived, each to the millisecond; the event gives each
    record's arrival as epoch seconds to the millisecond. The discard span names the records and the
    destination queue."""
    script = Script(cloud, [lambda _: error()])
    poller = poll(
        KinesisEventSource,
        "SpreadArn",
        script,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    poller.enabled = False
    _to_window_start(cloud, 1)
    arrivals, sent = [], []
    for n, step in enumerate((0.1234567, 0.25, 0.5)):
        cloud.advance(step)
        arrivals.append(cloud.clock.now())
        sent += put(cloud, "Spread", n)
    cloud.advance(0.375)
    given_up = cloud.clock.now()
    poller.enabled = True
    cloud.drain()
    [(_, event)] = script.calls
    assert [r["kinesis"]["approximateArrivalTimestamp"] for r in event["Records"]] == [
        int(moment.timestamp() * 1000) / 1000 for moment in arrivals
    ]
    [failure] = failures(cloud)
    assert failure["timestamp"] == _milliseconds(given_up)
    assert failure["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000000",
        "startSequenceNumber": sent[0],
        "endSequenceNumber": sent[-1],
        "approximateArrivalOfFirstRecord": _milliseconds(arrivals[0]),
        "approximateArrivalOfLastRecord": _milliseconds(arrivals[-1]),
        "batchSize": 3,
        "streamArn": cloud.outputs["SpreadArn"],
    }
    [discard] = [d for d in cloud.trace.find("discard") if d.source == poller.label]
    queue_name = cloud.physical_id("Failures").rsplit("/", 1)[1]
    assert (discard.target, discard.outcome) == (queue_name, "sent to the on-failure destination")
    assert (
        discard.detail == f"shardId-000000000000: 3 record(s) {sent[0]}..{sent[-1]} (RetryAttemptsExhausted)"
    )


def test_a_bisected_first_half_too_old_for_its_retry_is_given_up_and_the_second_half_goes_on(cloud, poll):
    """A batch that fails whole is bisected and its first half retried after 1 s; when by then that
    half's records are past MaximumRecordAgeInSeconds, they go to the destination and the second half
    is invoked in its turn."""
    script = Script(cloud, [lambda event: error() if len(event["Records"]) == 4 else ok()])
    poller = poll(
        KinesisEventSource,
        "AgedHalfArn",
        script,
        BisectBatchOnFunctionError=True,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    poller.enabled = False
    start = cloud.clock.elapsed()
    old = put(cloud, "AgedHalf", 1, 2)
    cloud.advance(59.5)
    young = put(cloud, "AgedHalf", 3, 4)
    poller.enabled = True
    cloud.drain()
    assert list(zip(script.times(start), sequences(script), strict=True)) == [
        (59.5, old + young),
        (60.5, young),
    ]
    [failure] = failures(cloud)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (*old, 2)


def test_a_filter_that_keeps_every_record_skips_none(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    poller = poll(
        KinesisEventSource,
        "AllKeptArn",
        script,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"n": [{"numeric": [">", 0]}]}})}]},
    )
    sent = put(cloud, "AllKept", {"n": 1}, {"n": 2})
    cloud.drain()
    assert sequences(script) == [sent]
    assert [f for f in cloud.trace.find("filter") if f.source == poller.label] == []


def test_a_dynamodb_failure_record_names_the_stream_and_arrivals_in_whole_seconds(cloud, poll):
    """The on-failure record of a DynamoDB stream mapping carries DDBStreamBatchInfo, its arrival
    times without milliseconds."""
    script = Script(cloud, [lambda _: error()])
    poller = poll(
        DynamoDBEventSource,
        "ItemsStreamArn",
        script,
        StartingPosition="LATEST",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": cloud.outputs["FailuresArn"]}},
    )
    cloud.advance(0.5)
    arrived = cloud.clock.now().replace(microsecond=0)
    cloud.client("dynamodb").put_item(TableName=cloud.physical_id("Items"), Item={"id": {"S": "failing"}})
    cloud.drain()
    [(_, event)] = script.calls
    [delivery] = cloud.trace.find("deliver", target=poller.function.name)
    assert delivery.source == "dynamodb:" + cloud.physical_id("Items"), "traced under the table's name"
    [failure] = failures(cloud)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["DDBStreamBatchInfo"] == {
        "shardId": failure["DDBStreamBatchInfo"]["shardId"],
        "startSequenceNumber": event["Records"][0]["dynamodb"]["SequenceNumber"],
        "endSequenceNumber": event["Records"][0]["dynamodb"]["SequenceNumber"],
        "approximateArrivalOfFirstRecord": arrived.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "approximateArrivalOfLastRecord": arrived.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "batchSize": 1,
        "streamArn": cloud.outputs["ItemsStreamArn"],
    }


def test_a_dynamodb_stream_change_is_read_for_24_hours_and_lost_after(cloud, poll):
    """DynamoDB Streams keeps each change for 24 hours: a change 1 s short of that is still invoked,
    one 1 s past it is lost to the mapping, traced as past the stream's retention."""
    script = Script(cloud, [lambda _: ok()])
    poller = poll(DynamoDBEventSource, "ItemsStreamArn", script, StartingPosition="LATEST")
    poller.enabled = False
    table = cloud.physical_id("Items")
    cloud.client("dynamodb").put_item(TableName=table, Item={"id": {"S": "day-old"}})
    cloud.advance(2)
    cloud.client("dynamodb").put_item(TableName=table, Item={"id": {"S": "day-young"}})
    cloud.advance(24 * 3600 - 1)
    poller.enabled = True
    cloud.drain()
    keys = [[r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]] for _, event in script.calls]
    assert keys == [["day-young"]]
    [expired] = [s for s in cloud.trace.find("expire") if s.source == poller.label]
    assert expired.detail.endswith(": 1 record(s) past the stream's retention")


def test_a_role_that_may_not_read_the_stream_is_refused_only_where_iam_is_enforced(cloud, poll):
    script = Script(cloud, [lambda _: ok()])
    refusal = (
        "may not kinesis:DescribeStream, kinesis:GetRecords, kinesis:GetShardIterator, kinesis:ListStreams"
    )
    with pytest.raises(
        InvalidRequest, match=f"InvalidParameterValueException: Cannot access stream .*{refusal}"
    ):
        poll(KinesisEventSource, "RefusingArn", script, role="BareArn")
    cloud.kernel.enforce_iam = False
    try:
        accepted = poll(KinesisEventSource, "RefusingArn", script, role="BareArn")
    finally:
        cloud.kernel.enforce_iam = True
    accepted.enabled = False  # its role may not read now that IAM applies again
    assert accepted.function.role_arn == cloud.outputs["BareArn"]


# ------------------------------------------------------------------------------------------- limits


def test_the_top_of_lambdas_ranges_is_accepted():
    """TumblingWindowInSeconds up to 900 and ParallelizationFactor up to 10 are Lambda's own limits."""
    assert tumbling_window_seconds({"TumblingWindowInSeconds": 900}) == 900
    assert tumbling_window_seconds({}) == 0, "no window unless asked"
    assert setting_in_range({"ParallelizationFactor": 10}, "ParallelizationFactor", 1, *FACTOR_RANGE) == 10
    assert setting_in_range({}, "ParallelizationFactor", 1, *FACTOR_RANGE) == 1


def test_a_window_state_of_exactly_1_mb_is_kept_and_one_byte_more_ends_the_window():
    """The 1 MB counts the state's compact JSON in UTF-8: a non-ASCII character is its UTF-8 bytes."""
    envelope = state_bytes({"pad": ""})
    assert not over_limit({"pad": "x" * (MAX_STATE_BYTES - envelope)})
    assert over_limit({"pad": "x" * (MAX_STATE_BYTES - envelope + 1)})
    assert state_bytes({"k": "é", "n": [1, 2]}) == len('{"k":"é","n":[1,2]}'.encode())
