"""The streamer through its front door: records posted to the API reach S3 through Kinesis and Firehose,
as GZIP JSON lines under the timestamp prefix, after the buffer interval (not before) or as soon as
the buffer is full; a bad body or key is a 400 and reaches neither the stream nor the bucket."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

INTERVAL = 60


@pytest.fixture(scope="module")
def shared_cloud(cloud_assembly):
    """One cloud for the file: each test flushes what it buffered and looks only at the objects it caused."""
    with LocalCloud(load_stack(cloud_assembly.directory, "StreamerStack"), start=FIXED_START) as started:
        yield started


@pytest.fixture
def cloud(shared_cloud):
    shared_cloud.drain()
    shared_cloud.advance(1)  # a second of its own for the stage's throttle
    return shared_cloud


def objects(cloud: LocalCloud) -> dict[str, bytes]:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["BucketName"]
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def stream_count(cloud: LocalCloud) -> int:
    kinesis = cloud.client("kinesis")
    name = cloud.outputs["StreamName"]
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return len(kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_records_arrive_after_the_interval_under_the_prefix_in_order_per_key(cloud):
    api, before = cloud.api(), objects(cloud)
    start = cloud.clock.now()
    posted = [("a", {"n": 1}), ("b", {"n": 1}), ("a", {"n": 2, "text": 'é"}'}), ("b", {"n": 2})]
    for key, body in posted[:2]:
        assert api.post(f"/records/{key}", json=body).status == 200
    batch = api.post("/records", json={"records": [{"partitionKey": k, "data": d} for k, d in posted[2:]]})
    assert batch.status == 200
    assert batch.json()["failedRecordCount"] == 0
    assert [sorted(r) for r in batch.json()["records"]] == [["sequenceNumber", "shardId"]] * 2

    cloud.advance(INTERVAL - 1)
    assert objects(cloud) == before, "nothing is written before the buffer interval"
    cloud.advance(1)
    [(key, body)] = [(k, v) for k, v in objects(cloud).items() if k not in before]
    name = cloud.outputs["DeliveryStreamName"]
    assert re.fullmatch(
        rf"records/{start:%Y/%m/%d/%H}/{name}-1-{start:%Y-%m-%d-%H-%M-%S}-[0-9a-f-]{{36}}\.gz", key
    )
    lines = gzip.decompress(body).decode().splitlines()
    assert [json.loads(line) for line in lines] == [d for _, d in posted]
    for partition in ("a", "b"):
        mine = [json.loads(line)["n"] for line, (k, _) in zip(lines, posted, strict=True) if k == partition]
        assert mine == [1, 2], f"records of {partition} keep their order"


def test_a_full_buffer_is_written_before_the_interval(cloud):
    api, before, at = cloud.api(), objects(cloud), cloud.clock.elapsed()
    chunk = "x" * (520 * 1024)
    assert api.post("/records/big", json={"chunk": chunk}).status == 200
    cloud.advance(1)  # a shard takes 1 MiB a second
    assert objects(cloud) == before, "half a buffer waits"
    assert api.post("/records/big", json={"chunk": chunk, "n": 2}).status == 200
    cloud.advance(0)
    [body] = [v for k, v in objects(cloud).items() if k not in before]
    assert cloud.clock.elapsed() == at + 1
    assert [json.loads(line).get("n") for line in gzip.decompress(body).splitlines()] == [None, 2]


def test_put_records_past_the_shards_throughput_shows_the_failed_record_to_the_caller(cloud):
    api, before = cloud.api(), objects(cloud)
    chunk = "y" * (400 * 1024)
    answer = api.post(
        "/records", json={"records": [{"partitionKey": "p", "data": {"n": n, "c": chunk}} for n in range(3)]}
    )
    assert answer.status == 200
    body = answer.json()
    assert body["failedRecordCount"] == 1
    assert [r.get("errorCode") for r in body["records"]] == [
        None,
        None,
        "ProvisionedThroughputExceededException",
    ]
    assert "account" not in answer.text, "Kinesis's message, which names the account, is not passed on"
    too_much = api.post("/records/p", json={"n": 2, "c": chunk})
    assert too_much.status == 429, "a shard at its limit is a throttle to retry, not a fault"
    assert too_much.json()["error"] == "Throttled"
    assert too_much.header("Retry-After") == "1"
    assert "account" not in too_much.text
    cloud.advance(1)
    assert api.post("/records/p", json={"n": 2, "c": chunk}).status == 200
    cloud.advance(0)
    [stored] = [v for k, v in objects(cloud).items() if k not in before]
    assert [json.loads(line)["n"] for line in gzip.decompress(stored).splitlines()] == [0, 1, 2]


BAD = [
    ("/records", {"records": [{"partitionKey": "", "data": {}}]}, "partitionKey"),
    ("/records", {"records": [{"partitionKey": "k", "data": 3}]}, "data"),
    ("/records", {"records": []}, "records"),
    ("/records", {"records": [{"partitionKey": "k", "data": {}}] * 501}, "records"),
    ("/records/k", [1], "object"),
    (f"/records/{'k' * 257}", {"n": 1}, "partitionKey"),
    ("/records/k", {"blob": "x" * (1024 * 1024)}, "data"),
    ("/records", {"records": [{"partitionKey": "k", "data": {"blob": "x" * (1024 * 1024)}}]}, "data"),
]


def test_a_bad_body_or_key_is_a_400_naming_it_and_reaches_nothing(cloud):
    before, in_stream = keys(cloud), stream_count(cloud)
    api = cloud.api()
    answers = [(api.post(path, json=body), named) for path, body, named in BAD]
    assert [a.status for a, _ in answers] == [400] * len(BAD)
    assert all(named in a.json()["message"] for a, named in answers), [a.json() for a, _ in answers]
    cloud.drain()
    assert (keys(cloud), stream_count(cloud)) == (before, in_stream)


def keys(cloud: LocalCloud) -> list[str]:
    listed = cloud.client("s3").list_objects_v2(Bucket=cloud.outputs["BucketName"]).get("Contents", [])
    return [o["Key"] for o in listed]


HOSTILE_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ['"', "\\", "$input.body", "#set($x = 1)", '\', "PartitionKey": "x', "\u2028", "%s"]
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)


# The one cloud for every example; each example stays within its second's throughput.
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key=HOSTILE_TEXT, body=JSON_VALUE)
def test_hostile_keys_and_bodies_are_stored_or_a_400_never_a_500(cloud, key, body):
    cloud.advance(1)
    answer = cloud.api().post("/records", json={"records": [{"partitionKey": key, "data": body}]})
    if isinstance(body, dict) and 1 <= len(key) <= 256:
        assert answer.status == 200 and answer.json()["failedRecordCount"] == 0, (key, body, answer.text)
    else:
        assert answer.status == 400 and answer.json()["message"], (key, body, answer.text)
