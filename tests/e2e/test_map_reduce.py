"""Map reduce offline: a Distributed Map over 200 objects counts what one process counts; a poisoned
batch is retried, then reported by key; too many failures fail the Map Run before the reducer; a
prefix outside the input is refused."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from scenarios.map_reduce import FILES, corpus, single_process_count

pytestmark = pytest.mark.e2e
TEXTS = corpus("input/corpus/")
POISONED = corpus("input/poisoned/", 100)
TOO_MANY = corpus("input/too-many/", 20)
BAD = b"\xff\xfe not text"


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    """One cloud for the module; each test counts a folder of its own under the input prefix."""
    with LocalCloud(load_stack(cloud_assembly.directory, "MapReduceStack"), start=FIXED_START) as started:
        s3, bucket = started.client("s3"), started.outputs["InputBucketName"]
        objects = {
            **TEXTS,
            **POISONED,
            "input/poisoned/doc-005.bin": BAD,
            **TOO_MANY,
            "input/too-many/doc-005.bin": BAD,
            "input/too-many/doc-015.bin": BAD,
        }
        for key, body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)
        yield started


def run(cloud, name: str, prefix: str):
    execution = cloud.start_execution("Pattern/Workflow", {"prefix": prefix}, name=name)
    cloud.drain()
    return execution


def result(cloud, name: str) -> dict:
    key = f"{cloud.outputs['CountsPrefix']}{name}.json"
    body = cloud.client("s3").get_object(Bucket=cloud.outputs["OutputBucketName"], Key=key)["Body"].read()
    return json.loads(body)


def mapper_calls(cloud) -> int:
    return len(cloud.trace.find("invoke", cloud.function("Pattern/Mapper").name))


def test_over_200_objects_the_result_equals_the_single_process_count(cloud):
    before = mapper_calls(cloud)
    execution = run(cloud, "clean", "input/corpus/")

    assert execution.status == "SUCCEEDED", execution.cause
    counted = result(cloud, "clean")
    expected = single_process_count(list(TEXTS.values()))
    assert (counted["status"], counted["files"], counted["failed"]) == ("COMPLETE", FILES, [])
    assert counted["counts"] == dict(sorted(expected.items()))
    assert counted["words"] == sum(expected.values())
    assert mapper_calls(cloud) - before == FILES // 10, "batches of 10, one call each"
    assert execution.output == {
        "status": "COMPLETE",
        "result_key": "counts/clean.json",
        "files": FILES,
        "failed_files": 0,
    }


def test_a_poisoned_batch_is_retried_then_reported_by_key_and_the_rest_still_counts(cloud):
    """One failed batch of 10 among 101 objects is within the tolerated 10%."""
    before = mapper_calls(cloud)
    execution = run(cloud, "poisoned", "input/poisoned/")

    assert execution.status == "SUCCEEDED", execution.cause
    counted = result(cloud, "poisoned")
    [failed] = counted["failed"]
    batch = [f"input/poisoned/doc-{n:03}.txt" for n in range(9)]
    assert failed["keys"] == [*batch[:5], "input/poisoned/doc-005.bin", *batch[5:]], "its whole batch"
    assert (
        failed["error"] == "UnreadableObject" and "input/poisoned/doc-005.bin: not UTF-8" in failed["cause"]
    )
    kept = [text for key, text in POISONED.items() if key not in failed["keys"]]
    assert (counted["status"], counted["files"]) == ("PARTIAL", len(kept))
    assert counted["counts"] == dict(sorted(single_process_count(kept).items()))
    assert mapper_calls(cloud) - before == 11 + 2, "eleven batches; the failed one tried three times"
    assert "map" not in execution.output, "the reducer answers; the Map Run's output went to S3"


def test_failures_beyond_the_tolerated_share_fail_the_run_before_the_reducer(cloud):
    """Two failed batches hold 20 of 22 objects: far over 10%."""
    execution = run(cloud, "too-many", "input/too-many/")

    assert (execution.status, execution.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert "Reduce" not in execution.states()
    listed = cloud.client("s3").list_objects_v2(
        Bucket=cloud.outputs["OutputBucketName"], Prefix=f"{cloud.outputs['CountsPrefix']}too-many"
    )
    assert listed["KeyCount"] == 0


@pytest.mark.parametrize("payload", [{"prefix": "private/"}, {"prefix": 7}, {"prefix": "inputs/"}])
def test_a_prefix_outside_the_input_prefix_is_refused_before_any_listing(cloud, payload):
    execution = cloud.start_execution("Pattern/Workflow", payload)
    cloud.drain()

    assert (execution.status, execution.error) == ("FAILED", "InvalidPrefix")
    assert "CountWords" not in execution.states()


def test_an_empty_folder_counts_nothing_and_says_so(cloud):
    execution = run(cloud, "empty", "input/nothing-here/")

    assert execution.status == "SUCCEEDED", execution.cause
    assert result(cloud, "empty") == {
        "status": "COMPLETE",
        "files": 0,
        "words": 0,
        "counts": {},
        "failed": [],
    }
