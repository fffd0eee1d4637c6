"""Kinesis and DynamoDB stream event sources, one semantic at a time, on one purpose-built stack.

Each scenario has a stream of its own, so a test sees only its own deliveries; every failure goes
to the one on-failure queue. Retries wait out their back-off in virtual time.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.errors import InvalidRequest
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

START = "2026-01-01T00:00:00"


def build(stack: Stack) -> None:
    log = pk_table(stack, "Log")
    failures = sqs.Queue(stack, "Failures")

    def recorder(
        construct_id: str, *, report: bool = False, folder: str = "stream_recorder"
    ) -> lambda_.Function:
        fn = python_function(
            stack,
            construct_id,
            folder,
            environment={"TABLE_NAME": log.table_name, "REPORT_FAILURES": "true" if report else "false"},
        )
        log.grant_read_write_data(fn)
        return fn

    def stream(construct_id: str, shards: int = 1) -> kinesis.Stream:
        return kinesis.Stream(stack, construct_id, shard_count=shards, removal_policy=RemovalPolicy.DESTROY)

    def from_start(stream: kinesis.Stream, **options) -> sources.KinesisEventSource:
        return sources.KinesisEventSource(
            stream, starting_position=lambda_.StartingPosition.TRIM_HORIZON, **options
        )

    recorder("OrderedConsumer").add_event_source(from_start(stream("Ordered", shards=2), batch_size=3))
    recorder("Bisector").add_event_source(
        from_start(
            stream("Bisected"),
            batch_size=10,
            bisect_batch_on_error=True,
            retry_attempts=1,
            on_failure=sources.SqsDlq(failures),
        )
    )
    recorder("Retrier").add_event_source(
        from_start(stream("Retried"), batch_size=10, retry_attempts=2, on_failure=sources.SqsDlq(failures))
    )
    recorder("Reporter", report=True).add_event_source(
        from_start(
            stream("Reported"),
            batch_size=10,
            retry_attempts=2,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(failures),
        )
    )
    recorder("Skipper").add_event_source(from_start(stream("Skipped"), batch_size=10, retry_attempts=1))
    recorder("Picky").add_event_source(
        from_start(
            stream("Filtered"),
            filters=[lambda_.FilterCriteria.filter({"data": {"kind": lambda_.FilterRule.is_equal("keep")}})],
        )
    )
    recorder("Patient").add_event_source(
        from_start(stream("Batched"), batch_size=5, max_batching_window=Duration.seconds(20))
    )
    recorder("Ager").add_event_source(
        from_start(stream("Aging"), max_record_age=Duration.seconds(60), on_failure=sources.SqsDlq(failures))
    )
    recorder("Aggregator", folder="stream_window").add_event_source(
        from_start(stream("Windows"), batch_size=2, tumbling_window=Duration.seconds(60))
    )
    recorder("ShortAggregator", folder="stream_window").add_event_source(
        from_start(
            stream("ShortWindows"),
            batch_size=2,
            tumbling_window=Duration.seconds(60),
            max_record_age=Duration.seconds(60),
        )
    )

    fanned_out = stream("FannedOut")
    recorder("FanOutConsumer").add_event_source(
        sources.KinesisConsumerEventSource(
            kinesis.StreamConsumer(stack, "FanOut", stream=fanned_out, stream_consumer_name="fan-out"),
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        )
    )

    positions = stream("Positions")
    CfnOutput(stack, "PositionsArn", value=positions.stream_arn)
    for construct_id in ("FromStart", "FromNow"):
        positions.grant_read(recorder(construct_id))
    recorder("Ungranted")

    items = dynamodb.Table(
        stack,
        "Items",
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        removal_policy=RemovalPolicy.DESTROY,
    )
    recorder("ItemConsumer").add_event_source(
        sources.DynamoEventSource(
            items,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            filters=[
                lambda_.FilterCriteria.filter(
                    {
                        "eventName": lambda_.FilterRule.is_equal("INSERT"),
                        "dynamodb": {"NewImage": {"status": {"S": lambda_.FilterRule.is_equal("new")}}},
                    }
                )
            ],
        )
    )

    on_demand = kinesis.Stream(
        stack,
        "OnDemand",
        stream_mode=kinesis.StreamMode.ON_DEMAND,
        retention_period=Duration.hours(48),
        removal_policy=RemovalPolicy.DESTROY,
    )
    recorder("Keeper").add_event_source(from_start(on_demand))


@pytest.fixture
def cloud(synth, run) -> LocalCloud:
    return run(synth("StreamSemantics", build))


def put(cloud: LocalCloud, stream: str, record_id: str, key: str | None = None, **data) -> dict:
    """Put a JSON record, partitioned by ``key`` (the record id by default)."""
    return cloud.client("kinesis").put_record(
        StreamName=cloud.physical_id(stream),
        Data=json.dumps({"id": record_id, **data}).encode(),
        PartitionKey=key or record_id,
    )


def log(cloud: LocalCloud, function: str) -> list[dict]:
    """The records ``function`` was given, in the order it got them (repeats included)."""
    name = cloud.function(function).name
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Log"))["Items"]
    return [
        json.loads(item["record"]["S"])
        for item in sorted(items, key=lambda item: item["pk"]["S"])
        if item["pk"]["S"].startswith(f"{name}#")
    ]


def ids(records: list[dict]) -> list[str]:
    """The ids of Kinesis records (in their JSON data) or DynamoDB records (the item's key)."""
    return [
        json.loads(base64.b64decode(r["kinesis"]["data"]))["id"]
        if "kinesis" in r
        else r["dynamodb"]["Keys"]["id"]["S"]
        for r in records
    ]


def failures(cloud: LocalCloud) -> list[dict]:
    messages = cloud.client("sqs").receive_message(
        QueueUrl=cloud.physical_id("Failures"), MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def deliveries(cloud: LocalCloud, function: str) -> list:
    return cloud.trace.find("deliver", target=cloud.function(function).name)


def test_each_shard_keeps_its_order_across_partition_keys(cloud):
    consumer = cloud.function("OrderedConsumer")
    consumer.duration = 1.0
    sent = {f"{key}-{n}": put(cloud, "Ordered", f"{key}-{n}", key=key) for n in range(4) for key in "abcdef"}
    shards = {r["ShardId"] for r in sent.values()}
    assert len(shards) == 2, "the keys spread over both shards"
    cloud.drain()

    got = log(cloud, "OrderedConsumer")
    assert sorted(ids(got)) == sorted(sent), "every record once"
    for shard in shards:
        sequence = [int(r["kinesis"]["sequenceNumber"]) for r in got if r["eventID"].startswith(f"{shard}:")]
        assert sequence == sorted(sequence)
        times = [d.at for d in deliveries(cloud, "OrderedConsumer") if d.detail.startswith(shard)]
        assert times == [float(n) for n in range(len(times))], "one batch in flight per shard"
    for key in "abcdef":
        assert [i for i in ids(got) if i.startswith(key)] == [f"{key}-{n}" for n in range(4)]
    assert max(len(d.data["sequence_numbers"]) for d in deliveries(cloud, "OrderedConsumer")) == 3


def test_kinesis_event_has_lambdas_shape(cloud):
    sent = put(cloud, "Ordered", "r-1", key="k")
    cloud.drain()
    [record] = log(cloud, "OrderedConsumer")
    stream_arn = f"arn:aws:kinesis:us-east-1:{cloud.account}:stream/{cloud.physical_id('Ordered')}"
    assert record == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "k",
            "sequenceNumber": sent["SequenceNumber"],
            "data": record["kinesis"]["data"],
            "approximateArrivalTimestamp": 1767225600.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{sent['ShardId']}:{sent['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": cloud.function("OrderedConsumer").role_arn,
        "awsRegion": "us-east-1",
        "eventSourceARN": stream_arn,
    }
    assert ids([record]) == ["r-1"]
    [delivery] = deliveries(cloud, "OrderedConsumer")
    [cause] = [span for span in cloud.trace.spans if span.id == delivery.parent]
    assert cause.kind == "send" and cause.source == "test", "the delivery hangs under the put"


def test_bisect_isolates_a_bad_record(cloud):
    sent = [put(cloud, "Bisected", f"r{n}", poison=n == 3) for n in range(6)]
    cloud.drain()

    got = ids(log(cloud, "Bisector"))
    assert set(got) == {f"r{n}" for n in range(6)}, "the good records around the bad one are processed"
    assert got.count("r3") == 5, "in the batch, its half, its quarter, alone, and alone once more"
    assert [b.detail.split(": ")[1] for b in cloud.trace.find("bisect")] == [
        "6 -> 3 + 3",
        "3 -> 2 + 1",
        "2 -> 1 + 1",
    ]
    [failure] = failures(cloud)
    assert set(failure) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2, "bisecting used up no retries"
    info = failure["KinesisBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sent[3]["SequenceNumber"]
    assert info["shardId"] == sent[3]["ShardId"]
    assert info["streamArn"].endswith(f":stream/{cloud.physical_id('Bisected')}")


def test_retry_attempts_then_the_on_failure_destination(cloud):
    bad, good = put(cloud, "Retried", "bad", poison=True), put(cloud, "Retried", "good")
    cloud.drain()

    invokes = cloud.trace.find("invoke", target=cloud.function("Retrier").name)
    assert [span.at for span in invokes] == [0, 1, 3], "two retries, backing off in virtual time"
    [failure] = failures(cloud)
    assert failure["requestContext"] == {
        "requestId": invokes[-1].data["request_id"],
        "functionArn": cloud.function("Retrier").arn,
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 3,
    }
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["version"] == "1.0" and failure["timestamp"] == "2026-01-01T00:00:03.000Z"
    assert failure["KinesisBatchInfo"] == {
        "shardId": bad["ShardId"],
        "startSequenceNumber": bad["SequenceNumber"],
        "endSequenceNumber": good["SequenceNumber"],
        "approximateArrivalOfFirstRecord": f"{START}.000Z",
        "approximateArrivalOfLastRecord": f"{START}.000Z",
        "batchSize": 2,
        "streamArn": f"arn:aws:kinesis:us-east-1:{cloud.account}:stream/{cloud.physical_id('Retried')}",
    }

    put(cloud, "Retried", "after")
    cloud.drain()
    assert ids(log(cloud, "Retrier"))[-1] == "after", "the shard goes on past what it gave up"


def test_reported_failure_resumes_from_the_failed_record(cloud):
    sent = [
        put(cloud, "Reported", record_id, fail_once=record_id == "f3")
        for record_id in ("g1", "g2", "f3", "g4")
    ]
    cloud.drain()

    batches = [d.data["sequence_numbers"] for d in deliveries(cloud, "Reporter")]
    sequence = [r["SequenceNumber"] for r in sent]
    assert batches == [sequence, sequence[2:]], "checkpointed before f3, retried from it"
    assert ids(log(cloud, "Reporter")) == ["g1", "g2", "f3", "g4", "f3", "g4"]
    assert failures(cloud) == []


def test_several_reported_failures_resume_from_the_lowest(cloud):
    sent = [
        put(cloud, "Reported", record_id, fail_once=record_id.startswith("f"))
        for record_id in ("g1", "f2", "g3", "f4", "g5")
    ]
    cloud.drain()

    batches = [d.data["sequence_numbers"] for d in deliveries(cloud, "Reporter")]
    sequence = [r["SequenceNumber"] for r in sent]
    assert batches == [sequence, sequence[1:]], "checkpointed before f2, the first failure, not f4"
    assert ids(log(cloud, "Reporter")) == ["g1", "f2", "g3", "f4", "g5", "f2", "g3", "f4", "g5"]


def test_retries_exhausted_without_a_destination_skip_the_batch_and_go_on(cloud):
    put(cloud, "Skipped", "bad", poison=True)
    put(cloud, "Skipped", "good")
    cloud.drain()
    invokes = cloud.trace.find("invoke", target=cloud.function("Skipper").name)
    assert [span.at for span in invokes] == [0, 1], "one retry, then given up"
    [discard] = cloud.trace.find("discard")
    assert (discard.target, discard.outcome) == ("-", "dropped")
    assert discard.detail.endswith("2 record(s) 1..2 (RetryAttemptsExhausted)")
    assert failures(cloud) == []

    put(cloud, "Skipped", "after")
    cloud.drain()
    assert ids(log(cloud, "Skipper")) == ["bad", "bad", "after"], "the function raised at bad, twice"


def test_a_throttled_batch_is_retried_with_back_off_using_no_retries(cloud):
    """Retrier gives up after two retries of function errors; the throttles before them count for none."""
    retrier = cloud.function("Retrier")
    retrier.reserved_concurrency = 0
    put(cloud, "Retried", "bad", poison=True)
    cloud.advance(7)
    throttled = [(d.at, d.outcome) for d in deliveries(cloud, "Retrier")]
    assert throttled == [(0, "throttled"), (1, "throttled"), (3, "throttled"), (7, "throttled")]
    retrier.reserved_concurrency = None
    cloud.drain()
    invokes = cloud.trace.find("invoke", target=retrier.name)
    assert [span.at for span in invokes] == [15, 31, 63], "the back-off keeps growing from the throttles"
    [failure] = failures(cloud)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3


def _mapping(cloud: LocalCloud, function: str):
    [mapping] = [
        p for p in cloud.kernel.pollables if getattr(p, "function", None) is cloud.function(function)
    ]
    return mapping


def _put_then_read_after(cloud: LocalCloud, function: str, seconds: int, write) -> None:
    """Write a record while the mapping is off, let ``seconds`` pass, then let the mapping read."""
    mapping = _mapping(cloud, function)
    mapping.enabled = False
    write()
    cloud.advance(seconds)
    mapping.enabled = True
    cloud.drain()


def test_a_kinesis_record_is_kept_for_the_streams_retention_hours(cloud):
    """The OnDemand stream keeps records 48 h: still read at 48 h, lost a second later."""
    _put_then_read_after(cloud, "Keeper", 48 * 3600, lambda: put(cloud, "OnDemand", "kept"))
    _put_then_read_after(cloud, "Keeper", 48 * 3600 + 1, lambda: put(cloud, "OnDemand", "lost"))
    assert ids(log(cloud, "Keeper")) == ["kept"]
    [expired] = cloud.trace.find("expire")
    assert expired.detail.endswith("1 record(s) past the stream's retention") and failures(cloud) == []


def test_a_dynamodb_stream_record_is_kept_for_24_hours(cloud):
    def write(item_id: str):
        return lambda: cloud.client("dynamodb").put_item(
            TableName=cloud.physical_id("Items"), Item={"id": {"S": item_id}, "status": {"S": "new"}}
        )

    _put_then_read_after(cloud, "ItemConsumer", 24 * 3600, write("kept"))
    _put_then_read_after(cloud, "ItemConsumer", 24 * 3600 + 1, write("lost"))
    assert ids(log(cloud, "ItemConsumer")) == ["kept"]
    assert len(cloud.trace.find("expire")) == 1


def test_filter_criteria_see_kinesis_data_decoded(cloud):
    put(cloud, "Filtered", "k1", kind="keep")
    put(cloud, "Filtered", "d1", kind="drop")
    cloud.client("kinesis").put_record(
        StreamName=cloud.physical_id("Filtered"), Data=b"not json", PartitionKey="p"
    )
    put(cloud, "Filtered", "k2", kind="keep")
    cloud.drain()
    assert ids(log(cloud, "Picky")) == ["k1", "k2"]
    assert [d.data["sequence_numbers"] for d in deliveries(cloud, "Picky")] == [["1", "4"]]
    [skipped] = cloud.trace.find("filter")
    assert skipped.detail.endswith("2 record(s) filtered out")


def test_batching_window_waits_for_a_fuller_batch(cloud):
    for n in range(3):
        put(cloud, "Batched", f"r{n}")
    cloud.advance(19)
    assert log(cloud, "Patient") == [], "a part batch waits for the 20 s window"
    put(cloud, "Batched", "r3")
    cloud.advance(1)
    assert ids(log(cloud, "Patient")) == ["r0", "r1", "r2", "r3"]
    for n in range(4, 9):
        put(cloud, "Batched", f"r{n}")
    cloud.advance(0)
    assert len(log(cloud, "Patient")) == 9, "a full batch goes at once"


def test_dynamodb_filter_on_event_name_and_new_image(cloud):
    dynamodb = cloud.client("dynamodb")
    table = cloud.physical_id("Items")
    dynamodb.put_item(TableName=table, Item={"id": {"S": "i1"}, "status": {"S": "new"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "i2"}, "status": {"S": "old"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "i1"}, "status": {"S": "new"}, "n": {"N": "2"}})
    cloud.drain()

    [record] = log(cloud, "ItemConsumer")
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    change = record.pop("dynamodb")
    assert record == {
        "eventID": record["eventID"],
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": stream_arn,
    }
    assert change == {
        "ApproximateCreationDateTime": 1767225600,
        "Keys": {"id": {"S": "i1"}},
        "NewImage": {"id": {"S": "i1"}, "status": {"S": "new"}, "n": {"N": "1"}},
        "SequenceNumber": change["SequenceNumber"],
        "SizeBytes": change["SizeBytes"],
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    [skipped] = cloud.trace.find("filter")
    assert skipped.detail.endswith("2 record(s) filtered out"), "an INSERT of another status, and a MODIFY"


def test_latest_starts_after_the_mapping_trim_horizon_at_the_oldest_record(cloud):
    put(cloud, "Positions", "old-1")
    put(cloud, "Positions", "old-2")
    for function, position in (("FromStart", "TRIM_HORIZON"), ("FromNow", "LATEST")):
        props = {"EventSourceArn": cloud.outputs["PositionsArn"], "StartingPosition": position}
        cloud.service("lambda").add_event_source(
            f"{function}Mapping", f"{function}-mapping", cloud.function(function), props
        )
    put(cloud, "Positions", "new-1")
    cloud.drain()
    assert ids(log(cloud, "FromStart")) == ["old-1", "old-2", "new-1"]
    assert ids(log(cloud, "FromNow")) == ["new-1"]


def test_an_enhanced_fan_out_consumer_delivers_its_streams_records(cloud):
    put(cloud, "FannedOut", "r-1")
    cloud.drain()
    [record] = log(cloud, "FanOutConsumer")
    assert ids([record]) == ["r-1"]
    assert record["eventSourceARN"].endswith(f"/{cloud.physical_id('FannedOut')}/consumer/fan-out")


def test_the_mapping_needs_a_role_that_may_read_the_stream(cloud):
    props = {"EventSourceArn": cloud.outputs["PositionsArn"], "StartingPosition": "LATEST"}
    with pytest.raises(
        InvalidRequest,
        match=r"InvalidParameterValueException: Cannot access stream .* may not kinesis:DescribeStream",
    ):
        cloud.service("lambda").add_event_source(
            "UngrantedMapping", "ungranted", cloud.function("Ungranted"), props
        )


def test_the_mapping_reads_with_the_functions_role(cloud):
    consumer = cloud.function("Bisector")
    deny = {"Statement": [{"Effect": "Deny", "Action": "kinesis:GetRecords", "Resource": "*"}]}
    cloud.iam.add_identity_policy(consumer.role_arn, deny, "test")
    put(cloud, "Bisected", "r1")
    with pytest.raises(ClientError, match="not authorized to perform: kinesis:GetRecords"):
        cloud.drain()
    [denied] = cloud.trace.find("denied")
    assert denied.source == f"esm:{consumer.name}"


@pytest.mark.parametrize(
    ("function", "action"), [("Bisector", "kinesis:GetRecords"), ("ItemConsumer", "dynamodb:GetRecords")]
)
def test_an_empty_shard_is_still_read_with_the_functions_role(cloud, function, action):
    """Polls skip GetRecords on a shard with nothing new, but never one the role may not make."""
    consumer = cloud.function(function)
    deny = {"Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}
    cloud.iam.add_identity_policy(consumer.role_arn, deny, "test")
    with pytest.raises(ClientError, match=f"not authorized to perform: {action}"):
        cloud.drain()
    [denied] = cloud.trace.find("denied")
    assert denied.source == f"esm:{consumer.name}"


def test_tumbling_window_passes_state_and_closes_with_a_final_invoke(cloud):
    for value in (1, 2, 3):
        put(cloud, "Windows", f"v{value}", value=value)
    cloud.advance(30)
    put(cloud, "Windows", "v4", value=4)
    cloud.advance(40)
    put(cloud, "Windows", "v10", value=10)
    cloud.drain()

    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Log"))["Items"]
    windows = {i["pk"]["S"]: (i["end"]["S"], json.loads(i["summary"]["S"])) for i in items if "summary" in i}
    assert windows == {
        "2026-01-01T00:00:00Z": ("2026-01-01T00:01:00Z", {"total": 10, "records": 4, "invocations": 3}),
        "2026-01-01T00:01:00Z": ("2026-01-01T00:02:00Z", {"total": 10, "records": 1, "invocations": 1}),
    }
    finals = [d.at for d in deliveries(cloud, "Aggregator") if "final" in d.detail]
    assert finals == [60, 120], "each window closes at its end, in virtual time"


def test_a_final_window_invoke_that_never_gets_through_is_given_up_with_the_window(cloud):
    """Held back past the maximum record age after the window's end, the final state is dropped and
    the next record opens a fresh window."""
    aggregator = cloud.function("ShortAggregator")
    put(cloud, "ShortWindows", "v1", value=1)
    cloud.advance(1)
    aggregator.reserved_concurrency = 0
    cloud.drain()
    [discard] = cloud.trace.find("discard")
    assert discard.detail.endswith("final state of window 2026-01-01T00:00:00Z (RecordAgeExceeded)")
    assert discard.outcome == "dropped" and 120 < discard.at <= 180
    aggregator.reserved_concurrency = None
    put(cloud, "ShortWindows", "v2", value=2)
    cloud.drain()
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id("Log"))["Items"]
    summaries = [json.loads(i["summary"]["S"]) for i in items if "summary" in i]
    assert summaries == [{"total": 2, "records": 1, "invocations": 1}], "v1's window never closed"


def test_records_older_than_the_maximum_age_go_to_the_destination(cloud):
    put(cloud, "Aging", "bad", poison=True)
    put(cloud, "Aging", "good")
    cloud.drain()

    invokes = cloud.trace.find("invoke", target=cloud.function("Ager").name)
    assert [span.at for span in invokes] == [0, 1, 3, 7, 15, 31], "retried without limit until too old"
    assert cloud.clock.elapsed() == 63
    [failure] = failures(cloud)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 6
    assert failure["KinesisBatchInfo"]["batchSize"] == 2


def test_stream_properties_are_provisioned(cloud):
    summary = cloud.client("kinesis").describe_stream_summary(StreamName=cloud.physical_id("OnDemand"))
    description = summary["StreamDescriptionSummary"]
    assert description["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert description["RetentionPeriodHours"] == 48
    assert description["EncryptionType"] == "KMS"


def test_a_dynamodb_stream_works_without_the_callers_botocore_settings(synth, run, monkeypatch):
    """botocore's account-based DynamoDB endpoints are not moto's: the cloud turns them off itself,
    so ``python -m scenarios`` or a user's own script reads streams without a setting of theirs."""
    monkeypatch.delenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", raising=False)
    cloud = run(synth("StreamSemantics", build))
    dynamodb = cloud.client("dynamodb")
    dynamodb.put_item(TableName=cloud.physical_id("Items"), Item={"id": {"S": "i1"}, "status": {"S": "new"}})
    stream_arn = dynamodb.describe_table(TableName=cloud.physical_id("Items"))["Table"]["LatestStreamArn"]
    [shard] = cloud.client("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"][
        "Shards"
    ]
    cloud.drain()
    assert shard["ShardId"] and [r["eventName"] for r in log(cloud, "ItemConsumer")] == ["INSERT"]
    cloud.stop()
    assert "AWS_ACCOUNT_ID_ENDPOINT_MODE" not in os.environ, "the caller's environment is as it was"


def test_idle_minutes_are_sampled_without_stopping_the_clock_at_each(cloud, monkeypatch):
    """SQS's minute samples of empty queues are taken when the clock moves on, not at a stop per
    minute (each stop polls every shard of the stack); a queue with a message stops it each minute."""
    moves = []
    clock_move = cloud.kernel.clock.move_to
    monkeypatch.setattr(
        cloud.kernel.clock, "move_to", lambda moment: moves.append(moment) or clock_move(moment)
    )
    name = cloud.physical_id("Failures").rsplit("/", 1)[-1]
    start = cloud.kernel.clock.now()

    def samples() -> list[tuple[float, float]]:
        points = cloud.metrics("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": name})
        return [((p.timestamp - start).total_seconds(), p.sum) for p in points]

    def send() -> None:
        cloud.kernel.admin_client("sqs").send_message(
            QueueUrl=cloud.physical_id("Failures"), MessageBody="{}"
        )

    # A message that arrives half an hour in, at a stop of its own: the minutes before it are empty.
    cloud.kernel.clock.call_later(1800, send)
    cloud.advance(1800)
    assert samples() == [(60.0 * m, 0) for m in range(1, 30)] + [(1800.0, 1)]
    assert len(moves) <= 2
    moves.clear()
    cloud.advance(180)
    assert samples()[30:] == [(60.0 * m, 1) for m in range(31, 34)]
    assert len(moves) >= 3
