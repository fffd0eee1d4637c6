"""The event-driven pattern offline, as deployed: an upload under ``incoming/`` is converted once into
the output bucket, a re-upload writes nothing new, a bad or hostile object reaches the failure queue
with its bucket, key and reason after Lambda's retries on the virtual clock, and nothing the
function writes invokes it again. One cloud for the module: each test uses keys of its own."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get

pytestmark = pytest.mark.e2e

HEADER = b"sku,name,quantity,price_cents\n"
GOOD = HEADER + b'A-1,"Lamp, brass",3,1299\nB-22,Chair,0,4500\n'
GOOD_LINES = [
    {"sku": "A-1", "name": "Lamp, brass", "quantity": 3, "price_cents": 1299},
    {"sku": "B-22", "name": "Chair", "quantity": 0, "price_cents": 4500},
]


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    cloud = LocalCloud(
        load_stack(cloud_assembly.directory, get("event_driven").stack_name), start=FIXED_START
    )
    cloud.start()
    yield cloud
    cloud.stop()


def upload(cloud, key: str, body: bytes) -> None:
    cloud.client("s3").put_object(Bucket=cloud.outputs["UploadBucketName"], Key=key, Body=body)


def output_versions(cloud, key: str) -> list[dict]:
    listed = cloud.client("s3").list_object_versions(Bucket=cloud.outputs["OutputBucketName"], Prefix=key)
    return [v for v in listed.get("Versions", []) if v["Key"] == key]


def output_lines(cloud, key: str) -> list[dict]:
    body = cloud.client("s3").get_object(Bucket=cloud.outputs["OutputBucketName"], Key=key)["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def runs(cloud, key: str) -> list:
    """The transformer's invocations caused by the upload events of ``key``."""
    events = {s.id for s in cloud.trace.find("event") if s.detail.endswith(f" {key}")}
    spans = {s.id: s for s in cloud.trace.spans}

    def caused_by_an_event(span) -> bool:
        while span.parent is not None:
            if span.parent in events:
                return True
            span = spans[span.parent]
        return False

    name = cloud.function("Pattern/Transformer").name
    return [s for s in cloud.trace.find("invoke", target=name) if caused_by_an_event(s)]


def failures(cloud) -> list[dict]:
    received = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["FailureQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [json.loads(m["Body"]) for m in received.get("Messages", [])]


def failure_for(cloud, key: str) -> dict:
    [record] = [r for r in failures(cloud) if r["requestPayload"]["Records"][0]["s3"]["object"]["key"] == key]
    return record


def test_a_good_upload_is_converted_once_into_exactly_the_expected_lines(cloud):
    upload(cloud, "incoming/stock.csv", GOOD)
    cloud.drain()
    assert [run.outcome for run in runs(cloud, "incoming/stock.csv")] == ["ok"]
    assert output_lines(cloud, "validated/stock.jsonl") == GOOD_LINES
    assert len(output_versions(cloud, "validated/stock.jsonl")) == 1
    output_bucket = cloud.outputs["OutputBucketName"]
    assert not [
        s for s in cloud.trace.find("event") if output_bucket in s.target or "OutputBucket" in s.target
    ], "the output bucket notifies nothing: the function never triggers itself"


def test_a_re_upload_of_the_same_object_is_idempotent(cloud):
    upload(cloud, "incoming/again.csv", GOOD)
    cloud.drain()
    upload(cloud, "incoming/again.csv", GOOD)
    cloud.drain()
    assert [run.outcome for run in runs(cloud, "incoming/again.csv")] == ["ok", "ok"]
    assert len(output_versions(cloud, "validated/again.jsonl")) == 1
    assert output_lines(cloud, "validated/again.jsonl") == GOOD_LINES, "same output, no duplicate version"
    upload(cloud, "incoming/again.csv", HEADER + b"A-1,Lamp,9,1299\n")
    cloud.drain()
    assert len(output_versions(cloud, "validated/again.jsonl")) == 2, "changed content replaces the output"
    assert output_lines(cloud, "validated/again.jsonl") == [
        {"sku": "A-1", "name": "Lamp", "quantity": 9, "price_cents": 1299}
    ]


def test_a_bad_object_reaches_the_failure_queue_with_bucket_key_and_reason_after_the_retries(cloud):
    start = cloud.clock.elapsed()
    upload(cloud, "incoming/bad rows.csv", HEADER + b"A-1,Lamp,three,1299\n")
    cloud.drain()
    attempts = runs(cloud, "incoming/bad rows.csv")
    assert [run.at - start for run in attempts] == [0, 60, 180], "tried, then retried after 1 and 2 minutes"
    assert {run.outcome for run in attempts} == {"error: ObjectRejected"}
    record = failure_for(cloud, "incoming/bad+rows.csv")  # S3 events carry keys URL-encoded
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    s3_part = record["requestPayload"]["Records"][0]["s3"]
    assert s3_part["bucket"]["name"] == cloud.outputs["UploadBucketName"]
    assert record["responsePayload"]["errorType"] == "ObjectRejected"
    assert record["responsePayload"]["errorMessage"] == (
        f"s3://{cloud.outputs['UploadBucketName']}/incoming/bad rows.csv: "
        "line 2: quantity: expected a whole number, got 'three'"
    )
    assert output_versions(cloud, "validated/bad rows.jsonl") == [], "no partial output"


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        (
            "incoming/huge-field.csv",
            HEADER + b'A-1,"' + b"x" * 70_000 + b'",1,1\n',
            "field larger than field limit",
        ),
        ("incoming/latin1.csv", HEADER + b"A-1,L\xe9mp,1,1\n", "not UTF-8: invalid byte 0xe9"),
    ],
)
def test_a_hostile_object_is_a_reported_failure_not_a_crash_loop(cloud, key, body, reason):
    upload(cloud, key, body)
    cloud.drain()
    assert len(runs(cloud, key)) == 3, "three attempts, then it stops"
    assert reason in failure_for(cloud, key)["responsePayload"]["errorMessage"]


def test_uploads_outside_the_filter_invoke_nothing(cloud):
    upload(cloud, "incoming/readme.txt", b"not a csv")
    upload(cloud, "archive/stock.csv", GOOD)
    cloud.drain()
    assert runs(cloud, "incoming/readme.txt") == [] and runs(cloud, "archive/stock.csv") == []
    assert [
        s for s in cloud.trace.find("event") if s.detail.endswith(("readme.txt", "archive/stock.csv"))
    ] == []
