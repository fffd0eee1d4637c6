"""The fan-out / fan-in handlers against moto: the splitter's fan-out, the worker's settle-once and
finish-once, the recorder's failed chunks."""

from __future__ import annotations

import json
import sys

import boto3
import pytest
from botocore.stub import Stubber
from freezegun import freeze_time

from shared.dynamodb import Table
from shared.validation import InvalidInput

pytestmark = pytest.mark.unit

TABLE = "jobs"
LINES = ["a,1,100", "b,2,250", "c,3,10", "d,1,1", "e,5,20"]


@pytest.fixture
def jobs_table(aws):
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "job_id", "AttributeType": "S"},
            {"AttributeName": "part", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "job_id", "KeyType": "HASH"},
            {"AttributeName": "part", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def load(jobs_table, load_handler):
    return lambda module: load_handler(
        "fan_out_fan_in", module, JOBS_TABLE_NAME=TABLE, WORKER_FUNCTION_NAME="worker"
    )


@pytest.fixture
def splitter(load):
    module = load("splitter")
    with Stubber(module.lambda_client) as stubber:
        module.stubber = stubber
        yield module
    stubber.assert_no_pending_responses()


def expect_chunks(splitter, job_id: str, chunks: list[list[str]]) -> None:
    for number, lines in enumerate(chunks):
        payload = json.dumps({"job_id": job_id, "chunk": number, "lines": lines}, ensure_ascii=False).encode()
        splitter.stubber.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": "worker", "InvocationType": "Event", "Payload": payload},
        )


def job(job_id: str) -> dict:
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"job_id": {"S": job_id}, "part": {"S": "job"}}, ConsistentRead=True
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def start(splitter, lambda_context, job_id: str = "j-1", lines=LINES, size: int = 2) -> dict:
    chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
    expect_chunks(splitter, job_id, chunks)
    return splitter.handler({"job_id": job_id, "lines": lines, "chunk_size": size}, lambda_context)


# --------------------------------------------------------------------------------------------- splitter


def test_the_splitter_records_the_job_and_sends_each_chunk_as_an_event(splitter, lambda_context):
    assert start(splitter, lambda_context) == {"statusCode": 202, "job_id": "j-1", "chunks": 3}
    recorded = job("j-1")
    assert (recorded["status"], recorded["chunks"], recorded["settled"], recorded["failed"]) == (
        "RUNNING",
        "3",
        "0",
        "0",
    )


def test_the_default_chunk_is_100_lines(splitter, lambda_context):
    lines = [f"s,{i},1" for i in range(250)]
    expect_chunks(splitter, "j-big", [lines[:100], lines[100:200], lines[200:]])
    assert splitter.handler({"job_id": "j-big", "lines": lines}, lambda_context)["chunks"] == 3


def test_a_running_job_submitted_again_sends_its_chunks_again(splitter, lambda_context):
    start(splitter, lambda_context)
    assert start(splitter, lambda_context) == {"statusCode": 202, "job_id": "j-1", "chunks": 3}


def test_the_same_job_id_with_other_lines_is_a_conflict_and_sends_nothing(splitter, lambda_context):
    start(splitter, lambda_context)
    answer = splitter.handler({"job_id": "j-1", "lines": LINES[:1], "chunk_size": 2}, lambda_context)
    assert answer == {
        "statusCode": 409,
        "error": {"code": "JobConflict", "message": "job_id: 'j-1' was submitted with other lines"},
    }


def test_a_refused_invoke_answers_503_and_the_job_can_be_submitted_again(splitter, lambda_context):
    expect_chunks(splitter, "j-1", [LINES[:2]])
    splitter.stubber.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    answer = splitter.handler({"job_id": "j-1", "lines": LINES, "chunk_size": 2}, lambda_context)
    assert answer == {
        "statusCode": 503,
        "error": {"code": "FanOutFailed", "message": "chunk 1 not sent; submit the same job again"},
    }
    assert start(splitter, lambda_context)["statusCode"] == 202


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"lines": LINES}, "job_id: required"),
        ({"job_id": "j", "lines": []}, "lines: shorter than 1"),
        ({"job_id": "j", "lines": LINES, "chunk_size": 501}, "chunk_size: greater than 500"),
        ({"job_id": "j", "lines": ["x" * 201]}, "lines[0]: expected a string of at most 200 characters"),
        (
            {"job_id": "j", "lines": ["a,1,1"] * 1001, "chunk_size": 1},
            "chunk_size: 1 makes more than 1000 chunks",
        ),
        ({"job_id": "x" * 65, "lines": LINES}, "job_id: longer than 64"),
        ({"job_id": "j", "lines": LINES, "extra": 1}, "extra: unknown field"),
        ([], "body: expected a JSON object, got array"),
    ],
)
def test_a_bad_job_is_refused_naming_the_field(splitter, lambda_context, event, message):
    answer = splitter.handler(event, lambda_context)
    assert answer["statusCode"] == 400 and answer["error"]["code"] == "InvalidJob"
    assert answer["error"]["message"].startswith(message)
    assert boto3.client("dynamodb").scan(TableName=TABLE)["Items"] == []


# --------------------------------------------------------------------------------------------- worker


@pytest.fixture
def started(splitter, lambda_context):
    start(splitter, lambda_context)
    return [LINES[0:2], LINES[2:4], LINES[4:]]


def test_each_chunk_settles_once_and_the_last_finishes_the_job(
    load, started, lambda_context, emitted_metrics
):
    worker = load("worker")
    emitted_metrics()
    answers = [
        worker.handler({"job_id": "j-1", "chunk": n, "lines": lines}, lambda_context)
        for n, lines in enumerate(started)
    ]
    again = worker.handler({"job_id": "j-1", "chunk": 1, "lines": started[1]}, lambda_context)
    assert [a["finished"] for a in answers] == [False, False, True]
    assert again["finished"] is False, "a duplicate after the end finishes nothing"
    done = job("j-1")
    assert (done["status"], done["settled"], done["orders"], done["units"]) == ("COMPLETE", "3", "5", "12")
    assert done["revenue_cents"] == str(100 + 500 + 30 + 1 + 100)
    assert emitted_metrics() == {"ChunksSettled": 3, "DuplicateChunks": 1, "JobsComplete": 1}


def test_a_duplicate_before_the_end_adds_nothing(load, started, lambda_context):
    worker = load("worker")
    for _ in range(3):
        worker.handler({"job_id": "j-1", "chunk": 0, "lines": started[0]}, lambda_context)
    assert (job("j-1")["settled"], job("j-1")["orders"]) == ("1", "2")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a,x,1", "chunk 0 line 2: quantity 'x' is not a whole number from 0 to 999999999"),
        ("a,1", "chunk 0 line 2: expected sku,quantity,unit_price_cents, got 'a,1'"),
        (",1,1", "chunk 0 line 2: expected sku,quantity,unit_price_cents"),
        ("a,1,-5", "chunk 0 line 2: unit_price_cents '-5' is not a whole number"),
        ("a,1,1000000000", "chunk 0 line 2: unit_price_cents '1000000000' is not a whole number"),
        (7, "chunk 0 line 2: expected a text line of at most 200 characters"),
    ],
)
def test_a_line_that_is_not_an_order_fails_the_chunk_naming_the_line(
    load, started, lambda_context, line, message
):
    worker = load("worker")
    with pytest.raises(worker.ChunkRejected, match="^" + message.replace("(", r"\(")):
        worker.handler({"job_id": "j-1", "chunk": 0, "lines": ["a,1,1", line]}, lambda_context)
    assert job("j-1")["settled"] == "0"


def test_a_chunk_of_an_unknown_job_raises_so_it_is_kept(load, jobs_table, lambda_context):
    worker = load("worker")
    with pytest.raises(worker.settle.__globals__["UnknownJob"]):
        worker.handler({"job_id": "nobody", "chunk": 0, "lines": ["a,1,1"]}, lambda_context)


# --------------------------------------------------------------------------------------------- recorder


def failure(job_id: str, chunk: int, lines: list[str], message_id: str = "m-1") -> dict:
    record = {
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {"job_id": job_id, "chunk": chunk, "lines": lines},
        "responsePayload": {"errorType": "ChunkRejected", "errorMessage": "chunk 2 line 1: bad"},
    }
    return {"messageId": message_id, "body": json.dumps(record)}


def test_a_failed_chunk_is_recorded_and_the_job_ends_partial_naming_it(load, started, lambda_context):
    worker, recorder = load("worker"), load("recorder")
    for n in (0, 1):
        worker.handler({"job_id": "j-1", "chunk": n, "lines": started[n]}, lambda_context)
    assert recorder.handler({"Records": [failure("j-1", 2, started[2])]}, lambda_context) == {
        "batchItemFailures": []
    }
    done = job("j-1")
    assert (done["status"], done["failed"], done["failed_chunks"]) == ("PARTIAL", "1", ["2"])
    assert done["orders"] == "4", "the aggregate of the chunks that succeeded"
    chunk = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"job_id": {"S": "j-1"}, "part": {"S": "chunk#00002"}}
    )
    assert chunk["Item"]["error_message"] == {"S": "chunk 2 line 1: bad"}


def test_a_failure_recorded_twice_counts_once(load, started, lambda_context):
    recorder = load("recorder")
    recorder.handler(
        {"Records": [failure("j-1", 2, started[2]), failure("j-1", 2, started[2], "m-2")]}, lambda_context
    )
    assert (job("j-1")["failed"], job("j-1")["settled"]) == ("1", "1")


def test_a_record_that_cannot_be_settled_returns_to_the_queue_alone(load, started, lambda_context):
    recorder = load("recorder")
    answer = recorder.handler(
        {"Records": [failure("nobody", 0, ["a,1,1"], "m-bad"), failure("j-1", 0, started[0], "m-ok")]},
        lambda_context,
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    with pytest.raises(recorder.BatchProcessingError):
        recorder.handler({"Records": [{"messageId": "m-x", "body": "{}"}]}, lambda_context)


def conflicting(fan_in, conflicts: int):
    """Make the next ``conflicts`` transactions fail as DynamoDB cancels concurrent ones on one item."""
    real = fan_in.table.client.transact_write_items
    calls = []

    def transact(**request):
        calls.append(request)
        if len(calls) <= conflicts:
            raise fan_in.table.client.exceptions.TransactionCanceledException(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return real(**request)

    return transact, calls


def test_a_transaction_conflict_on_the_job_is_retried_with_backoff(
    load, started, lambda_context, monkeypatch
):
    worker = load("worker")
    fan_in = sys.modules["fan_in"]
    transact, calls = conflicting(fan_in, 7)
    waits, ranges = [], []
    monkeypatch.setattr(fan_in.table.client, "transact_write_items", transact)
    monkeypatch.setattr(fan_in, "sleep", waits.append)
    monkeypatch.setattr(fan_in.random, "uniform", lambda low, high: ranges.append((low, high)) or high)
    worker.handler({"job_id": "j-1", "chunk": 0, "lines": started[0]}, lambda_context)
    assert len(calls) == 8, "the eighth attempt is the last, and it went through"
    assert {low for low, _ in ranges} == {0}, "full jitter: any wait from 0"
    assert [high for _, high in ranges] == pytest.approx([0.04, 0.08, 0.16, 0.32, 0.64, 1, 1]), (
        "up to twice the last bound, from 20 ms doubled per attempt, capped at 1 s"
    )
    assert waits == [high for _, high in ranges]
    assert job("j-1")["settled"] == "1"


def test_conflicts_past_the_last_attempt_fail_the_invocation_for_lambda_to_retry(
    load, started, lambda_context, monkeypatch
):
    worker = load("worker")
    fan_in = sys.modules["fan_in"]
    transact, calls = conflicting(fan_in, 8)
    monkeypatch.setattr(fan_in.table.client, "transact_write_items", transact)
    monkeypatch.setattr(fan_in, "sleep", lambda seconds: None)
    with pytest.raises(fan_in.table.client.exceptions.TransactionCanceledException):
        worker.handler({"job_id": "j-1", "chunk": 0, "lines": started[0]}, lambda_context)
    assert len(calls) == 8 and job("j-1")["settled"] == "0"


# --------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"job_id": "", "lines": LINES}, "job_id: shorter than 1"),
        ({"job_id": "j", "lines": LINES, "chunk_size": 0}, "chunk_size: less than 1"),
        ({"job_id": "j", "lines": ["a,1,1"] * 10_001, "chunk_size": 500}, "lines: longer than 10000"),
        ({"job_id": "j", "lines": ["x" * 200, "x" * 201]}, "lines[1]: expected a string of at most 200"),
    ],
)
def test_the_splitter_refuses_one_past_each_limit_naming_the_field(splitter, lambda_context, event, message):
    answer = splitter.handler(event, lambda_context)
    assert answer["statusCode"] == 400 and answer["error"]["message"].startswith(message), answer


def test_the_splitter_takes_a_job_at_each_limit(splitter):
    """1 to 10,000 lines of at most 200 characters, in at most 1,000 chunks of 1 to 500 lines."""
    assert splitter.validate({"job_id": "j", "lines": ["x" * 200], "chunk_size": 1})["chunk_size"] == 1
    assert (
        len(splitter.validate({"job_id": "j", "lines": ["a,1,1"] * 10_000, "chunk_size": 500})["lines"])
        == 10_000
    )
    assert splitter.validate({"job_id": "j", "lines": ["a,1,1"] * 1000, "chunk_size": 1})["chunk_size"] == 1


def test_a_chunk_event_is_taken_at_each_limit_and_refused_one_past(load):
    fan_in = load("fan_in")
    event = {"job_id": "j", "chunk": 0, "lines": ["a,1,1"]}
    cases = [
        ("job_id", "j" * 64, "j" * 65, "longer than 64"),
        ("job_id", "j", "", "shorter than 1"),
        ("chunk", 0, -1, "less than 0"),
        ("chunk", 999, 1000, "greater than 999"),
        ("lines", ["a,1,1"], [], "shorter than 1"),
    ]
    for field, limit, past, problem in cases:
        assert fan_in.CHUNK.validate({**event, field: limit})[field] == limit
        with pytest.raises(InvalidInput, match=f"^{field}: {problem}"):
            fan_in.CHUNK.validate({**event, field: past})


def test_the_worker_reads_lines_and_numbers_at_their_limits_and_quotes_a_bad_one_shortened(load):
    worker = load("worker")
    assert worker.totals(0, ["s" * 196 + ",1,1"]) == {"orders": 1, "units": 1, "revenue_cents": 1}
    with pytest.raises(worker.ChunkRejected, match="line 1: expected a text line of at most 200"):
        worker.totals(0, ["s" * 197 + ",1,1"])
    assert worker.totals(0, ["a,999999999,1"])["units"] == 999_999_999
    bad = "x" * 100
    with pytest.raises(worker.ChunkRejected) as refused:
        worker.totals(0, [bad])
    assert str(refused.value).endswith(f"got {'x' * 60!r}")
    with pytest.raises(worker.ChunkRejected) as refused:
        worker.totals(0, ["a," + "q" * 30 + ",1"])
    assert (
        str(refused.value)
        == f"chunk 0 line 1: quantity {'q' * 20!r} is not a whole number from 0 to 999999999"
    )


# --------------------------------------------------------------------------------------------- records and counts


def test_a_finished_job_submitted_again_answers_its_record_naming_the_failed_chunks(
    splitter, load, lambda_context, emitted_metrics
):
    worker, recorder = load("worker"), load("recorder")
    lines = [f"s{n},1,10" for n in range(4)]
    emitted_metrics()
    with freeze_time("2026-01-01 00:00:00.125"):
        assert start(splitter, lambda_context, "j-2", lines, 1)["chunks"] == 4
        assert emitted_metrics() == {"ChunksSent": 4}
        worker.handler({"job_id": "j-2", "chunk": 1, "lines": lines[1:2]}, lambda_context)
        for chunk in (3, 0):
            recorder.handler({"Records": [failure("j-2", chunk, lines[chunk : chunk + 1])]}, lambda_context)
        assert emitted_metrics() == {"ChunksSettled": 1, "ChunksFailed": 2}, "the job is not finished yet"
        recorder.handler(
            {"Records": [failure("j-2", 2, lines[2:3]), failure("j-2", 2, lines[2:3])]}, lambda_context
        )
        assert emitted_metrics() == {"ChunksFailed": 1, "DuplicateChunks": 1, "JobsPartial": 1}
        again = splitter.handler({"job_id": "j-2", "lines": lines, "chunk_size": 1}, lambda_context)
    at = "2026-01-01T00:00:00.125+00:00"
    assert again["job"].pop("created_at").endswith("+00:00")
    assert again == {
        "statusCode": 200,
        "job": {
            "job_id": "j-2",
            "status": "PARTIAL",
            "chunks": 4,
            "settled": 4,
            "failed": 3,
            "failed_chunks": [0, 2, 3],
            "orders": 1,
            "units": 1,
            "revenue_cents": 10,
            "finished_at": at,
        },
    }, "sent no chunk, and shows neither the key's sort part nor the lines' digest"
    settled = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"job_id": {"S": "j-2"}, "part": {"S": "chunk#00003"}}
    )["Item"]
    assert settled["settled_at"] == {"S": at}, "the time it was settled, in milliseconds"


def test_a_chunk_that_does_not_finish_the_job_tries_once_and_the_last_one_of_a_partial_job_twice(
    load, started, lambda_context, monkeypatch
):
    """Finishing costs everyone else one failed conditional write; the last settle of a job with a
    failed chunk tries COMPLETE, then PARTIAL."""
    worker, recorder = load("worker"), load("recorder")
    real, calls = Table.update_item, []
    monkeypatch.setattr(Table, "update_item", lambda table, *a, **k: calls.append(k) or real(table, *a, **k))
    worker.handler({"job_id": "j-1", "chunk": 0, "lines": started[0]}, lambda_context)
    assert len(calls) == 1
    recorder.handler({"Records": [failure("j-1", 1, started[1])]}, lambda_context)
    assert len(calls) == 2
    worker.handler({"job_id": "j-1", "chunk": 2, "lines": started[2]}, lambda_context)
    assert [c["values"][":finished"] for c in calls[2:]] == ["COMPLETE", "PARTIAL"]
    worker.handler({"job_id": "j-1", "chunk": 2, "lines": started[2]}, lambda_context)
    assert len(calls) == 5, "a duplicate after the end tries once and finds it finished"
    assert job("j-1")["status"] == "PARTIAL"


def test_the_recorder_keeps_the_first_500_characters_of_the_error(load, started, lambda_context):
    recorder = load("recorder")
    record = json.loads(failure("j-1", 2, started[2])["body"])
    record["responsePayload"]["errorMessage"] = "e" * 600
    recorder.handler({"Records": [{"messageId": "m-1", "body": json.dumps(record)}]}, lambda_context)
    chunk = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"job_id": {"S": "j-1"}, "part": {"S": "chunk#00002"}}
    )["Item"]
    assert chunk["error_message"] == {"S": "e" * 500}


def test_a_fan_out_that_cannot_reach_lambda_answers_503(splitter, lambda_context, monkeypatch):
    """A read timeout is a BotoCoreError, not a ClientError: the caller is told to submit again."""
    from botocore.exceptions import ReadTimeoutError

    def timed_out(**_):
        raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    monkeypatch.setattr(splitter.lambda_client, "invoke", timed_out)
    answer = splitter.handler({"job_id": "j-1", "lines": LINES, "chunk_size": 2}, lambda_context)
    assert answer == {
        "statusCode": 503,
        "error": {"code": "FanOutFailed", "message": "chunk 0 not sent; submit the same job again"},
    }


#: Lambda's largest asynchronous invocation payload (the Invoke API reference: 1 MB).
ASYNC_PAYLOAD_BYTES = 1024 * 1024


def test_a_chunk_of_the_longest_lines_fits_lambdas_async_payload(splitter, lambda_context, monkeypatch):
    """500 lines of 200 emoji each: as JSON escapes (12 bytes a character) the chunk's event was
    1.2 MB, which Lambda refuses for an Event invoke; the splitter then answered 503 to every
    resubmission and the job stayed RUNNING. As UTF-8 the same chunk is 0.4 MB."""
    sent = []

    def invoke(**call):
        sent.append(call["Payload"])
        return {"StatusCode": 202}

    monkeypatch.setattr(splitter.lambda_client, "invoke", invoke)
    lines = ["\N{GRINNING FACE}" * splitter.MAX_LINE_LENGTH] * splitter.MAX_CHUNK_SIZE
    answer = splitter.handler(
        {"job_id": "wide", "lines": lines, "chunk_size": splitter.MAX_CHUNK_SIZE}, lambda_context
    )
    assert answer == {"statusCode": 202, "job_id": "wide", "chunks": 1}
    assert len(sent[0]) <= ASYNC_PAYLOAD_BYTES
    assert json.loads(sent[0])["lines"] == lines


def test_a_line_utf8_cannot_carry_is_a_400_and_nothing_is_recorded(splitter, lambda_context):
    answer = splitter.handler({"job_id": "j-x", "lines": ["a,1,1", "b\ud800,1,1"]}, lambda_context)
    assert answer["statusCode"] == 400 and answer["error"]["message"].startswith("lines: not valid Unicode")
