"""The map reduce handlers against moto: the tokenisation rule, a mapper's batch count and its refusal
of an object that is not text, and the reducer's sum over a Map Run's result files."""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.unit

INPUT, OUTPUT = "input-bucket", "output-bucket"


@pytest.fixture
def buckets(aws):
    s3 = boto3.client("s3")
    for name in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=name)
    return s3


@pytest.fixture
def words(load_handler):
    return load_handler("map_reduce", "words")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The the THE", {"the": 3}),
        ("Straße STRASSE", {"strasse": 2}),
        ("don't Don\u2019t", {"don't": 2}),
        ("snake_case word—word", {"snake": 1, "case": 1, "word": 2}),
        ("¿Qué? qué! 42", {"qué": 2, "42": 1}),
        ("地図 データ ΕΛΛΗΝΙΚΆ ελληνικά", {"地図": 1, "データ": 1, "ελληνικά": 2}),
        ("'quoted' it's-", {"quoted": 1, "it's": 1}),
        ("", {}),
    ],
)
def test_words_are_unicode_runs_case_folded_with_inner_apostrophes(words, text, expected):
    assert dict(words.count_words(text)) == expected


def batch(*keys: str, sizes: dict[str, int] | None = None) -> dict:
    return {
        "Items": [{"Key": key, "Size": (sizes or {}).get(key, 10), "Etag": '"e"'} for key in keys],
        "BatchInput": {"bucket": INPUT},
    }


def test_the_mapper_counts_its_batch(buckets, load_handler, lambda_context):
    buckets.put_object(Bucket=INPUT, Key="input/a.txt", Body=b"Map map REDUCE")
    buckets.put_object(Bucket=INPUT, Key="input/b.txt", Body="reduce, café".encode())
    mapper = load_handler("map_reduce", "mapper", INPUT_BUCKET_NAME=INPUT)
    assert mapper.handler(batch("input/a.txt", "input/b.txt"), lambda_context) == {
        "files": 2,
        "words": 5,
        "counts": {"map": 2, "reduce": 2, "café": 1},
    }


def test_the_mapper_fails_its_batch_on_an_object_that_is_not_text_or_too_large(
    buckets, load_handler, lambda_context
):
    buckets.put_object(Bucket=INPUT, Key="input/a.txt", Body=b"fine")
    buckets.put_object(Bucket=INPUT, Key="input/bad.bin", Body=b"\xff\xfe")
    mapper = load_handler("map_reduce", "mapper", INPUT_BUCKET_NAME=INPUT, MAX_OBJECT_BYTES="100")
    with pytest.raises(mapper.UnreadableObject, match=r"input/bad\.bin: not UTF-8"):
        mapper.handler(batch("input/a.txt", "input/bad.bin"), lambda_context)
    with pytest.raises(mapper.UnreadableObject, match=r"input/a\.txt: 101 bytes, over the 100"):
        mapper.handler(batch("input/a.txt", sizes={"input/a.txt": 101}), lambda_context)
    with pytest.raises(mapper.UnreadableObject, match="expected a Distributed Map batch"):
        mapper.handler({"Key": "input/a.txt"}, lambda_context)


def child(status: str, keys: list[str], output: dict | None = None) -> dict:
    record = {"Status": status, "Input": json.dumps({"Items": [{"Key": k} for k in keys]})}
    if output is not None:
        record["Output"] = json.dumps(output)
    else:
        record.update(Error="UnreadableObject", Cause="input/bad.bin: not UTF-8 text")
    return record


def test_the_reducer_sums_succeeded_children_names_failed_ones_and_writes_one_result(
    buckets, load_handler, lambda_context
):
    put = buckets.put_object
    put(
        Bucket=OUTPUT,
        Key="map-runs/run/SUCCEEDED_0.json",
        Body=json.dumps(
            [
                child("SUCCEEDED", ["a"], {"files": 1, "words": 3, "counts": {"map": 2, "reduce": 1}}),
                child("SUCCEEDED", ["b", "c"], {"files": 2, "words": 2, "counts": {"reduce": 2}}),
            ]
        ),
    )
    put(Bucket=OUTPUT, Key="map-runs/run/FAILED_0.json", Body=json.dumps([child("FAILED", ["d", "bad"])]))
    manifest = {
        "DestinationBucket": OUTPUT,
        "MapRunArn": "arn",
        "ResultFiles": {
            "FAILED": [{"Key": "map-runs/run/FAILED_0.json", "Size": 1}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": "map-runs/run/SUCCEEDED_0.json", "Size": 1}],
        },
    }
    put(Bucket=OUTPUT, Key="map-runs/run/manifest.json", Body=json.dumps(manifest))
    reducer = load_handler("map_reduce", "reducer", OUTPUT_BUCKET_NAME=OUTPUT, RESULT_PREFIX="counts/")
    event = {
        "map": {"ResultWriterDetails": {"Bucket": OUTPUT, "Key": "map-runs/run/manifest.json"}},
        "execution": "e1",
    }

    answer = reducer.handler(event, lambda_context)

    assert answer == {"status": "PARTIAL", "result_key": "counts/e1.json", "files": 3, "failed_files": 2}
    written = json.loads(buckets.get_object(Bucket=OUTPUT, Key="counts/e1.json")["Body"].read())
    assert written == {
        "status": "PARTIAL",
        "files": 3,
        "words": 5,
        "counts": {"map": 2, "reduce": 3},
        "failed": [
            {"keys": ["d", "bad"], "error": "UnreadableObject", "cause": "input/bad.bin: not UTF-8 text"}
        ],
    }
