"""CloudWatch Logs and Kinesis Data Firehose offline: what functions print reaches their log groups,
subscription filters pass the matching lines on, and Firehose buffers records into S3 objects."""

from __future__ import annotations

import base64
import gzip
import json
import re

import pytest
from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as log_destinations
from aws_cdk import aws_s3 as s3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from localcloud import LocalCloud, LocalCloudError
from localcloud.lib.log_patterns import UnsupportedFilterPattern, compile_pattern
from localcloud.services.lambda_.function_logs import is_platform_line
from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud


# ---------------------------------------------------------------------------------------- logs


def build_logs(stack: Stack) -> None:
    table = pk_table(stack, "Seen")
    subscriber = python_function(
        stack, "Subscriber", "event_recorder", environment={"TABLE_NAME": table.table_name}
    )
    table.grant_write_data(subscriber)
    group = logs.LogGroup(stack, "ProducerLogs", removal_policy=RemovalPolicy.DESTROY)
    python_function(stack, "Producer", "log_producer", log_group=group, environment=service("producer"))
    python_function(stack, "Unconfigured", "log_producer", environment=service("unconfigured"))
    python_function(stack, "Preconfigured", "log_producer", environment=service("preconfigured"))
    python_function(stack, "Silent", "apigw_plain", memory_size=256)
    logs.SubscriptionFilter(
        stack,
        "Errors",
        log_group=group,
        destination=log_destinations.LambdaDestination(subscriber),
        filter_pattern=logs.FilterPattern.string_value("$.level", "=", "ERROR"),
    )


def service(name: str) -> dict[str, str]:
    return {"POWERTOOLS_SERVICE_NAME": f"log-test-{name}"}


@pytest.fixture
def logs_cloud(synth, run) -> LocalCloud:
    return run(synth("LogsSemantics", build_logs))


def log_messages(cloud: LocalCloud, group: str) -> list[str]:
    return [e["message"] for e in cloud.client("logs").filter_log_events(logGroupName=group)["events"]]


def handler_messages(cloud: LocalCloud, group: str) -> list[str]:
    """The group's lines without the platform's START, END and REPORT lines."""
    return [m for m in log_messages(cloud, group) if not is_platform_line(m)]


def lines(*pairs: tuple[str, str]) -> dict:
    return {"lines": [{"level": level, "message": message} for level, message in pairs]}


def test_what_a_function_prints_reaches_its_log_group(logs_cloud, capsys):
    logs_cloud.invoke("Producer", lines(("INFO", "hello")))
    messages = handler_messages(logs_cloud, logs_cloud.physical_id("ProducerLogs"))
    assert [json.loads(m)["message"] for m in messages[:1]] == ["hello"], "Powertools' JSON line"
    assert messages[1:] == ["plain line: 1 logged"], "and what print() wrote"
    assert "plain line: 1 logged" in capsys.readouterr().out, "still visible to the test's capture"


def test_a_function_without_a_log_group_logs_to_the_default_one(logs_cloud):
    name = logs_cloud.function("Unconfigured").name
    logs_cloud.invoke("Unconfigured", lines(("WARNING", "careful")))
    logs_cloud.invoke("Unconfigured", lines(("INFO", "again")))
    group = f"/aws/lambda/{name}"
    streams = logs_cloud.client("logs").describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1, "one stream per execution environment: the second invocation was warm"
    assert len(handler_messages(logs_cloud, group)) == 4
    assert len(log_messages(logs_cloud, group)) == 10, "each invocation's two between START, END and REPORT"


def test_a_function_that_prints_nothing_still_logs_the_platforms_start_end_and_report(logs_cloud):
    silent = logs_cloud.function("Silent")
    silent.duration = 0.3456
    began = []
    for event in ({"n": 1}, {"action": "fail", "message": "refused"}):
        began.append(int(logs_cloud.clock.now().timestamp() * 1000))
        logs_cloud.invoke("Silent", event)
        logs_cloud.advance(1)
    requests = [span.data["request_id"] for span in logs_cloud.trace.find("invoke", target=silent.name)]
    events = logs_cloud.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{silent.name}")["events"]
    report = "Duration: 345.60 ms\tBilled Duration: 346 ms\tMemory Size: 256 MB\t"
    expected = [
        line
        for at, request in zip(began, requests, strict=True)
        for line in (
            (at, f"START RequestId: {request} Version: $LATEST"),
            (at + 346, f"END RequestId: {request}"),
            (at + 346, f"REPORT RequestId: {request}\t{report}"),
        )
    ]
    assert [(e["timestamp"], e["message"]) for e in events] == expected, "a failed invocation's too"


def test_a_logger_configured_before_the_function_ran_is_captured_too(logs_cloud):
    Logger(service="log-test-preconfigured")  # as a unit test importing the handler first would
    logs_cloud.invoke("Preconfigured", lines(("INFO", "seen")))
    group = f"/aws/lambda/{logs_cloud.function('Preconfigured').name}"
    assert [json.loads(m)["message"] for m in handler_messages(logs_cloud, group)[:1]] == ["seen"]


def test_the_subscribed_function_gets_the_matching_lines_only(logs_cloud):
    logs_cloud.invoke("Producer", lines(("INFO", "fine"), ("ERROR", "boom"), ("ERROR", "bang")))
    logs_cloud.invoke("Producer", lines(("INFO", "quiet")))
    logs_cloud.drain()
    items = logs_cloud.client("dynamodb").scan(TableName=logs_cloud.physical_id("Seen"))["Items"]
    [event] = [json.loads(item["event"]["S"]) for item in items]
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert data["messageType"] == "DATA_MESSAGE"
    assert data["owner"] == logs_cloud.account
    assert data["logGroup"] == logs_cloud.physical_id("ProducerLogs")
    assert data["subscriptionFilters"] == [logs_cloud.physical_id("Errors")]
    assert [json.loads(e["message"])["message"] for e in data["logEvents"]] == ["boom", "bang"]
    assert all(len(e["id"]) == 56 and e["timestamp"] == 1767225600000 for e in data["logEvents"])


def test_a_subscription_the_function_does_not_allow_is_refused(synth):
    def build_unpermitted(stack: Stack) -> None:
        group = logs.LogGroup(stack, "Group")
        fn = python_function(stack, "Fn", "log_producer")
        logs.CfnSubscriptionFilter(
            stack,
            "Sub",
            log_group_name=group.log_group_name,
            destination_arn=fn.function_arn,
            filter_pattern="",
        )

    with pytest.raises(LocalCloudError, match=r"Sub: could not execute the Lambda function"):
        LocalCloud(synth("UnpermittedSubscription", build_unpermitted)).start()


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("", "anything", None),
        ("ERROR", "[ERROR] disk full", "[INFO] ok"),
        ('ERROR "disk full"', "ERROR: disk full", "ERROR: cpu hot"),
        ("ERROR -retrying", "ERROR giving up", "ERROR retrying"),
        ("?timeout ?refused", "connection refused", "connection reset"),
        ("%status=5\\d\\d%", "status=503", "status=200"),
        ('{ $.level = "ERROR" }', '{"level": "ERROR"}', '{"level": "INFO"}'),
        ('{ $.level = "ERR*" }', '{"level": "ERROR"}', '{"level": "WARN"}'),
        ('{ $.level != "INFO" }', '{"level": "ERROR"}', '{"level": "INFO"}'),
        ("{ $.latency > 500 }", '{"latency": 501}', '{"latency": 500}'),
        ('{ $.a = 1 && ($.b = "x" || $.c IS TRUE) }', '{"a": 1, "c": true}', '{"a": 1, "b": "y"}'),
        ("{ $.items[1].id = 7 }", '{"items": [{}, {"id": 7}]}', '{"items": [{"id": 7}]}'),
        ("{ $.error IS NULL }", '{"error": null}', '{"error": "x"}'),
        ("{ $.error NOT EXISTS }", '{"ok": 1}', '{"error": null}'),
        ('{ $.level = "ERROR" }', '{"level": "ERROR"}', "ERROR not json"),
    ],
)
def test_filter_patterns(pattern, matching, other):
    matcher = compile_pattern(pattern)
    assert matcher(matching)
    assert other is None or not matcher(other)


@pytest.mark.parametrize("pattern", ["ERROR ?WARN", "{ $.* = 1 }", "{ $.a ~ 1 }"])
def test_unsupported_filter_patterns_are_refused(pattern):
    with pytest.raises(UnsupportedFilterPattern, match=re.escape(pattern)):
        compile_pattern(pattern)


# ---------------------------------------------------------------------------------------- firehose


def build_firehose(stack: Stack) -> None:
    bucket = s3.Bucket(stack, "Lake", removal_policy=RemovalPolicy.DESTROY)
    no_logs = firehose.DisableLogging()
    firehose.DeliveryStream(
        stack,
        "Clicks",
        destination=firehose.S3Bucket(
            bucket,
            data_output_prefix="clicks/",
            buffering_interval=Duration.seconds(60),
            buffering_size=Size.mebibytes(1),
            logging_config=no_logs,
        ),
    )
    firehose.DeliveryStream(
        stack,
        "Compressed",
        destination=firehose.S3Bucket(
            bucket,
            data_output_prefix="daily/!{timestamp:yyyy-MM-dd}/",
            error_output_prefix="errors/!{firehose:error-output-type}/",
            compression=firehose.Compression.GZIP,
            buffering_interval=Duration.seconds(120),
            logging_config=no_logs,
        ),
    )
    archive = firehose.DeliveryStream(
        stack,
        "LogArchive",
        destination=firehose.S3Bucket(bucket, data_output_prefix="logs/", logging_config=no_logs),
    )
    logs.SubscriptionFilter(
        stack,
        "ToArchive",
        log_group=logs.LogGroup(stack, "AppLogs", removal_policy=RemovalPolicy.DESTROY),
        destination=log_destinations.FirehoseDestination(archive),
        filter_pattern=logs.FilterPattern.all_events(),
    )
    firehose.DeliveryStream(
        stack,
        "FromStream",
        source=firehose.KinesisStreamSource(kinesis.Stream(stack, "Positions", shard_count=1)),
        destination=firehose.S3Bucket(
            bucket,
            data_output_prefix="positions/",
            buffering_interval=Duration.seconds(60),
            logging_config=no_logs,
        ),
    )


@pytest.fixture
def firehose_cloud(synth, run) -> LocalCloud:
    return run(synth("FirehoseSemantics", build_firehose))


def objects(cloud: LocalCloud, prefix: str) -> dict[str, bytes]:
    s3_client = cloud.client("s3")
    bucket = cloud.physical_id("Lake")
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3_client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def put(cloud: LocalCloud, stream: str, *records: bytes) -> None:
    cloud.client("firehose").put_record_batch(
        DeliveryStreamName=cloud.physical_id(stream), Records=[{"Data": r} for r in records]
    )


def test_firehose_buffers_until_the_interval_and_writes_one_object(firehose_cloud):
    put(firehose_cloud, "Clicks", b'{"n": 1}\n', b'{"n": 2}\n')
    firehose_cloud.advance(59)
    assert objects(firehose_cloud, "clicks/") == {}, "nothing written before the buffer interval"
    firehose_cloud.advance(1)
    [(key, body)] = objects(firehose_cloud, "clicks/").items()
    name = firehose_cloud.physical_id("Clicks")
    assert re.fullmatch(rf"clicks/2026/01/01/00/{name}-1-2026-01-01-00-00-00-[0-9a-f-]{{36}}", key), key
    assert body == b'{"n": 1}\n{"n": 2}\n', "records concatenated as they came, once"


def test_firehose_writes_as_soon_as_the_buffer_is_full(firehose_cloud):
    chunk = b"x" * (400 * 1024)
    put(firehose_cloud, "Clicks", chunk, chunk)
    firehose_cloud.advance(0)
    assert objects(firehose_cloud, "clicks/") == {}, "800 KiB is under the 1 MiB buffer"
    put(firehose_cloud, "Clicks", chunk, b"late")
    firehose_cloud.advance(0)
    [body] = objects(firehose_cloud, "clicks/").values()
    assert len(body) == 3 * len(chunk) + 4
    assert firehose_cloud.clock.elapsed() == 0


def test_drain_flushes_what_is_buffered_with_a_timestamp_prefix_and_gzip(firehose_cloud):
    put(firehose_cloud, "Compressed", b"a", b"b")
    firehose_cloud.drain()
    assert firehose_cloud.clock.elapsed() == 120, "drain waited for the buffer interval"
    [(key, body)] = objects(firehose_cloud, "daily/").items()
    assert key.startswith("daily/2026-01-01/") and key.endswith(".gz")
    assert gzip.decompress(body) == b"ab"


def test_a_kinesis_sourced_stream_reads_its_stream_and_refuses_direct_puts(firehose_cloud):
    firehose_cloud.client("kinesis").put_record(
        StreamName=firehose_cloud.physical_id("Positions"), Data=b"p1;", PartitionKey="k"
    )
    firehose_cloud.drain()
    assert list(objects(firehose_cloud, "positions/").values()) == [b"p1;"]
    with pytest.raises(ClientError, match="InvalidArgumentException"):
        put(firehose_cloud, "FromStream", b"direct")


def test_a_log_subscription_feeds_a_delivery_stream(firehose_cloud):
    logs_client, group = firehose_cloud.client("logs"), firehose_cloud.physical_id("AppLogs")
    logs_client.create_log_stream(logGroupName=group, logStreamName="app")
    logs_client.put_log_events(
        logGroupName=group,
        logStreamName="app",
        logEvents=[{"timestamp": 1767225600000, "message": "started"}],
    )
    firehose_cloud.drain()
    [body] = objects(firehose_cloud, "logs/").values()
    data = json.loads(gzip.decompress(body))
    assert (data["logGroup"], data["logStream"]) == (group, "app")
    assert [e["message"] for e in data["logEvents"]] == ["started"]
