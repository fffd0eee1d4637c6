"""Fan-out / fan-in offline: 100 chunks through Event invokes, a duplicate delivery, a failed chunk."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    """One cloud for the module: each test runs jobs of its own, with new job ids."""
    with LocalCloud(load_stack(cloud_assembly.directory, "FanOutFanInStack"), start=FIXED_START) as started:
        yield started


def orders(count: int, *, bad: dict[int, str] | None = None) -> list[str]:
    """``count`` order lines, order ``i`` being ``i % 7 + 1`` units at ``100 + i`` cents; ``bad`` replaces lines."""
    lines = [f"sku-{i % 13},{i % 7 + 1},{100 + i}" for i in range(count)]
    for index, line in (bad or {}).items():
        lines[index] = line
    return lines


def expected(lines: list[str]) -> dict[str, int]:
    """The job's aggregate computed in one process, for comparison."""
    rows = [line.split(",") for line in lines]
    return {
        "orders": len(rows),
        "units": sum(int(q) for _, q, _ in rows),
        "revenue_cents": sum(int(q) * int(p) for _, q, p in rows),
    }


def submit(cloud, job_id: str, lines: list[str], chunk_size: int = 10) -> dict:
    return cloud.invoke("Pattern/Splitter", {"job_id": job_id, "lines": lines, "chunk_size": chunk_size})[
        "Payload"
    ]


def job(cloud, job_id: str) -> dict:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["JobsTableName"], Key={"job_id": {"S": job_id}, "part": {"S": "job"}}
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def chunk(cloud, job_id: str, number: int) -> dict:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["JobsTableName"],
        Key={"job_id": {"S": job_id}, "part": {"S": f"chunk#{number:05d}"}},
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def finished_count(cloud, status: str) -> int:
    """How many jobs the workers and the recorder finished with ``status``, by their EMF metric."""
    points = cloud.metrics("ServerlessPatterns", f"Jobs{status.capitalize()}", {"service": "fan_out_fan_in"})
    return int(sum(point.sum for point in points))


def test_a_job_of_100_chunks_gives_the_exact_aggregate_once_though_a_chunk_arrives_twice(cloud):
    lines = orders(1000)
    before = finished_count(cloud, "COMPLETE")
    assert submit(cloud, "j-100", lines) == {"statusCode": 202, "job_id": "j-100", "chunks": 100}
    assert job(cloud, "j-100")["status"] == "RUNNING", "handed off, not done"
    # At-least-once: Lambda may deliver an async event twice; here chunk 42 arrives again meanwhile.
    cloud.invoke("Pattern/Worker", {"job_id": "j-100", "chunk": 42, "lines": lines[420:430]}, "Event")
    cloud.drain()
    finished = job(cloud, "j-100")
    want = expected(lines)
    assert finished["status"] == "COMPLETE"
    assert {name: int(finished[name]) for name in want} == want
    assert (finished["chunks"], finished["settled"], finished["failed"]) == ("100", "100", "0")
    worker = cloud.function("Pattern/Worker").name
    runs = [s for s in cloud.trace.find("invoke", target=worker) if s.parent is not None]
    assert len(runs) == 101 and all(run.outcome == "ok" for run in runs), "100 chunks, one twice"
    assert finished_count(cloud, "COMPLETE") - before == 1, "exactly one worker finishes the job"
    assert chunk(cloud, "j-100", 42)["orders"] == "10"


def failure_dead_letters(cloud) -> list[dict]:
    messages = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["FailureDeadLetterQueueUrl"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_chunk_that_fails_every_retry_marks_the_job_partial_and_names_the_chunk(cloud):
    lines = orders(50, bad={23: "sku-x,two,100"})
    before = finished_count(cloud, "PARTIAL")
    assert submit(cloud, "j-bad", lines)["chunks"] == 5
    cloud.drain()
    worker = cloud.function("Pattern/Worker").name
    failing = [s for s in cloud.trace.find("invoke", target=worker) if s.outcome != "ok"]
    assert [run.at - failing[0].at for run in failing] == [0, 60, 180], "the first try and Lambda's 2 retries"
    finished = job(cloud, "j-bad")
    assert finished["status"] == "PARTIAL"
    assert finished["failed_chunks"] == ["2"] and finished["failed"] == "1"
    good = expected(lines[:20] + lines[30:])
    assert {name: int(finished[name]) for name in good} == good, "the aggregate of the chunks that succeeded"
    failed = chunk(cloud, "j-bad", 2)
    assert failed["status"] == "FAILED" and failed["error_type"] == "ChunkRejected"
    assert (
        failed["error_message"] == "chunk 2 line 4: quantity 'two' is not a whole number from 0 to 999999999"
    )
    assert finished_count(cloud, "PARTIAL") - before == 1
    [recorded] = cloud.trace.find("invoke", target=cloud.function("Pattern/Recorder").name)
    assert recorded.outcome == "ok"


def test_a_failure_recorded_twice_or_after_its_duplicate_succeeded_changes_nothing(cloud):
    lines = orders(20)
    submit(cloud, "j-twice", lines)
    cloud.drain()
    record = {"requestPayload": {"job_id": "j-twice", "chunk": 1, "lines": lines[10:]}, "responsePayload": {}}
    cloud.client("sqs").send_message(
        QueueUrl=cloud.outputs["FailureQueueUrl"], MessageBody=json.dumps(record)
    )
    cloud.drain()
    finished = job(cloud, "j-twice")
    assert (finished["status"], finished["failed"], finished["settled"]) == ("COMPLETE", "0", "2")
    assert chunk(cloud, "j-twice", 1)["status"] == "OK"


def test_a_failure_the_recorder_cannot_settle_is_kept_in_the_dead_letter_queue(cloud):
    record = {"requestPayload": {"job_id": "j-never-submitted", "chunk": 0, "lines": ["a,1,1"]}}
    cloud.client("sqs").send_message(
        QueueUrl=cloud.outputs["FailureQueueUrl"], MessageBody=json.dumps(record)
    )
    cloud.drain()
    [kept] = failure_dead_letters(cloud)
    assert kept == record


def test_a_running_job_submitted_again_is_resent_and_still_finishes_once(cloud):
    lines = orders(30)
    before = finished_count(cloud, "COMPLETE")
    first, again = submit(cloud, "j-again", lines), submit(cloud, "j-again", lines)
    assert first == again == {"statusCode": 202, "job_id": "j-again", "chunks": 3}
    cloud.drain()
    finished = job(cloud, "j-again")
    assert finished["status"] == "COMPLETE" and finished["settled"] == "3"
    assert int(finished["units"]) == expected(lines)["units"]
    assert finished_count(cloud, "COMPLETE") - before == 1
    assert submit(cloud, "j-again", lines)["job"]["status"] == "COMPLETE", "a finished job answers its record"
    conflict = submit(cloud, "j-again", lines[:10])
    assert conflict == {
        "statusCode": 409,
        "error": {"code": "JobConflict", "message": "job_id: 'j-again' was submitted with other lines"},
    }


def test_a_bad_job_is_refused_naming_the_field_and_nothing_is_sent(cloud):
    sent = len(cloud.trace.find("enqueue"))
    refused = submit(cloud, "j-refused", ["a,1,1"] * 20, chunk_size=0)
    assert refused == {
        "statusCode": 400,
        "error": {"code": "InvalidJob", "message": "chunk_size: less than 1"},
    }
    refused = cloud.invoke("Pattern/Splitter", {"job_id": "j-refused", "lines": ["a,1,1", 7]})["Payload"]
    assert refused["error"]["message"] == "lines[1]: expected a string of at most 200 characters"
    assert len(cloud.trace.find("enqueue")) == sent
