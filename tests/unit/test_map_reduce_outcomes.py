"""The map reduce handlers at their limits and in their metrics: an object of exactly the size limit is
read and one byte more refused, a batch without its bucket reads the configured one, a Map Run with
no failed child is COMPLETE, a failure's cause is cut at 500 characters, and the objects mapped,
reduced and failed are counted."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.unit.test_map_reduce import INPUT, OUTPUT, batch, child

pytestmark = pytest.mark.unit


@pytest.fixture
def buckets(aws):
    s3 = boto3.client("s3")
    for name in (INPUT, OUTPUT, "other-bucket"):
        s3.create_bucket(Bucket=name)
    return s3


def test_the_size_limit_is_inclusive_and_the_batch_is_counted(
    buckets, load_handler, lambda_context, emitted_metrics
):
    buckets.put_object(Bucket=INPUT, Key="a.txt", Body=b"one two")
    buckets.put_object(Bucket=INPUT, Key="b.txt", Body=b"two")
    mapper = load_handler("map_reduce", "mapper", INPUT_BUCKET_NAME=INPUT, MAX_OBJECT_BYTES="7")
    sizes = {"a.txt": 7, "b.txt": 3}
    assert mapper.handler(batch("a.txt", "b.txt", sizes=sizes), lambda_context) == {
        "files": 2,
        "words": 3,
        "counts": {"one": 1, "two": 2},
    }
    assert emitted_metrics() == {"ObjectsMapped": 2}
    with pytest.raises(mapper.UnreadableObject, match=r"^a\.txt: 8 bytes, over the 7 a mapper reads$"):
        mapper.handler(batch("a.txt", sizes={"a.txt": 8}), lambda_context)
    assert mapper.handler({"Items": [{"Key": "b.txt"}]}, lambda_context)["counts"] == {"two": 1}, (
        "no BatchInput and no Size: the configured bucket, and the object is read"
    )
    buckets.put_object(Bucket="other-bucket", Key="b.txt", Body=b"there")
    other = {"Items": [{"Key": "b.txt", "Size": 5}], "BatchInput": {"bucket": "other-bucket"}}
    assert mapper.handler(other, lambda_context)["counts"] == {"there": 1}, "the batch names its bucket"
    with pytest.raises(mapper.UnreadableObject, match="expected a Distributed Map batch"):
        mapper.handler({"Items": "a.txt"}, lambda_context)
    with pytest.raises(mapper.UnreadableObject, match="expected a Distributed Map batch"):
        mapper.handler([], lambda_context)


def test_the_default_limit_is_one_mebibyte_and_a_listing_without_a_size_is_read(
    buckets, load_handler, lambda_context, monkeypatch
):
    monkeypatch.delenv("MAX_OBJECT_BYTES", raising=False)
    buckets.put_object(Bucket=INPUT, Key="a.txt", Body=b"word")
    mapper = load_handler("map_reduce", "mapper", INPUT_BUCKET_NAME=INPUT)
    assert mapper.MAX_OBJECT_BYTES == 1024 * 1024
    assert mapper.handler(batch("a.txt", sizes={"a.txt": 1024 * 1024}), lambda_context)["words"] == 1
    with pytest.raises(mapper.UnreadableObject, match=r"^a\.txt: 1048577 bytes, over the 1048576 "):
        mapper.handler(batch("a.txt", sizes={"a.txt": 1024 * 1024 + 1}), lambda_context)
    buckets.put_object(Bucket=INPUT, Key="empty.txt", Body=b"")
    monkeypatch.setattr(mapper, "MAX_OBJECT_BYTES", 0)
    assert mapper.handler({"Items": [{"Key": "empty.txt"}]}, lambda_context)["files"] == 1, (
        "no Size in the listing counts as empty, not as over a limit of 0"
    )


def put_run(s3, *, succeeded: list, failed: list | None) -> dict:
    """A Map Run's result files and manifest; ``failed=None`` leaves the FAILED key out."""
    files: dict[str, list] = {"SUCCEEDED": []}
    for status, children in (("SUCCEEDED", succeeded), ("FAILED", failed)):
        if children is None:
            continue
        key = f"map-runs/run/{status}_0.json"
        s3.put_object(Bucket=OUTPUT, Key=key, Body=json.dumps(children))
        files[status] = [{"Key": key, "Size": 1}]
    manifest = {"DestinationBucket": OUTPUT, "MapRunArn": "arn", "ResultFiles": files}
    s3.put_object(Bucket=OUTPUT, Key="map-runs/run/manifest.json", Body=json.dumps(manifest))
    return {"map": {"ResultWriterDetails": {"Bucket": OUTPUT, "Key": "map-runs/run/manifest.json"}}}


def test_a_run_without_failures_is_complete_and_counted_under_the_default_prefix(
    buckets, load_handler, lambda_context, emitted_metrics, monkeypatch
):
    monkeypatch.delenv("RESULT_PREFIX", raising=False)
    reducer = load_handler("map_reduce", "reducer", OUTPUT_BUCKET_NAME=OUTPUT)
    succeeded = [
        child("SUCCEEDED", ["a", "b"], {"files": 2, "words": 3, "counts": {"b": 1, "a": 2}}),
        child("SUCCEEDED", ["c"], {"files": 1, "words": 1, "counts": {"a": 1}}),
    ]
    event = {**put_run(buckets, succeeded=succeeded, failed=None), "execution": "e2"}
    assert reducer.handler(event, lambda_context) == {
        "status": "COMPLETE",
        "result_key": "counts/e2.json",
        "files": 3,
        "failed_files": 0,
    }
    written = buckets.get_object(Bucket=OUTPUT, Key="counts/e2.json")
    assert written["ContentType"] == "application/json"
    assert json.loads(written["Body"].read()) == {
        "status": "COMPLETE",
        "files": 3,
        "words": 4,
        "counts": {"a": 3, "b": 1},
        "failed": [],
    }
    assert emitted_metrics() == {"FilesReduced": 3, "FilesFailed": 0}


def test_failed_children_are_counted_by_object_and_their_cause_is_cut_at_500_characters(
    buckets, load_handler, lambda_context, emitted_metrics
):
    reducer = load_handler("map_reduce", "reducer", OUTPUT_BUCKET_NAME=OUTPUT, RESULT_PREFIX="out/")
    long_failure = {**child("FAILED", ["x", "y", "z"]), "Cause": "c" * 501}
    no_cause = {k: v for k, v in child("FAILED", ["w"]).items() if k not in ("Cause", "Error")}
    event = {**put_run(buckets, succeeded=[], failed=[long_failure, no_cause]), "execution": "e3"}
    assert reducer.handler(event, lambda_context)["failed_files"] == 4
    written = json.loads(buckets.get_object(Bucket=OUTPUT, Key="out/e3.json")["Body"].read())
    assert written["status"] == "PARTIAL"
    assert written["failed"] == [
        {"keys": ["x", "y", "z"], "error": "UnreadableObject", "cause": "c" * 500},
        {"keys": ["w"], "error": None, "cause": ""},
    ]
    assert emitted_metrics() == {"FilesReduced": 0, "FilesFailed": 4}
