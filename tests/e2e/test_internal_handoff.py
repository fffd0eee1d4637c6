"""The internal handoff offline: an Event invoke, Lambda's retries on virtual time, the failure queue."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

AWARD = {"order_id": "o-1", "customer_id": "c-1", "points": 50}


@pytest.fixture
def cloud(local_cloud):
    cloud = local_cloud("internal_handoff")
    enrol(cloud, "c-1")
    return cloud


def enrol(cloud, customer_id: str) -> None:
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["BalancesTableName"],
        Item={"customer_id": {"S": customer_id}, "points": {"N": "0"}},
    )


def balance(cloud, customer_id: str) -> int | None:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["BalancesTableName"], Key={"customer_id": {"S": customer_id}}
    )
    return int(item["Item"]["points"]["N"]) if "Item" in item else None


def failures(cloud) -> list[dict]:
    messages = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["FailureQueueUrl"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def worker_runs(cloud):
    return cloud.trace.find("invoke", target=cloud.function("Pattern/Worker").name)


def hand_off(cloud, award: dict) -> dict:
    return cloud.invoke("Pattern/Requester", award)["Payload"]


def test_the_requester_is_answered_before_the_work_is_done(cloud):
    assert hand_off(cloud, AWARD) == {"statusCode": 202, "accepted": "o-1"}
    assert worker_runs(cloud) == [] and balance(cloud, "c-1") == 0, "handed off, not done"
    cloud.drain()
    assert balance(cloud, "c-1") == 50
    [queued] = cloud.trace.find("enqueue", target=cloud.function("Pattern/Worker").name)
    assert queued.source == cloud.function("Pattern/Requester").name
    [run] = worker_runs(cloud)
    assert run.parent == queued.id and run.outcome == "ok"


def test_a_duplicate_event_is_processed_once(cloud):
    hand_off(cloud, AWARD)
    hand_off(cloud, AWARD)
    cloud.invoke("Pattern/Worker", AWARD, "Event")  # Lambda itself may deliver an event twice
    cloud.drain()
    assert [run.outcome for run in worker_runs(cloud)] == ["ok", "ok", "ok"]
    assert balance(cloud, "c-1") == 50, "three deliveries, one award"
    [record] = cloud.client("dynamodb").scan(TableName=cloud.outputs["IdempotencyTableName"])["Items"]
    assert record["status"]["S"] == "COMPLETED"
    assert failures(cloud) == []


def test_a_failing_event_reaches_the_failure_queue_with_its_payload_after_exactly_the_retries(cloud):
    stranger = {"order_id": "o-2", "customer_id": "c-404", "points": 5}
    assert hand_off(cloud, stranger)["statusCode"] == 202
    cloud.drain()
    runs = worker_runs(cloud)
    assert [run.at for run in runs] == [0, 60, 180], "the first attempt, then retries after 1 and 2 minutes"
    assert all(run.outcome == "error: CustomerNotEnrolled" for run in runs)
    [record] = failures(cloud)
    assert record["requestPayload"] == stranger, "the original event, as handed off"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "CustomerNotEnrolled"
    assert balance(cloud, "c-404") is None
    [sent] = cloud.trace.find("destination")
    assert sent.source == cloud.function("Pattern/Worker").name and sent.at == 180


def test_a_retry_succeeds_once_the_missing_customer_is_enrolled(cloud):
    hand_off(cloud, {"order_id": "o-3", "customer_id": "c-new", "points": 7})
    cloud.advance(30)
    enrol(cloud, "c-new")
    cloud.drain()
    assert [run.outcome for run in worker_runs(cloud)] == ["error: CustomerNotEnrolled", "ok"]
    assert balance(cloud, "c-new") == 7
    assert failures(cloud) == []


def test_a_conflicting_repeat_of_an_order_is_not_applied_and_is_kept_for_inspection(cloud):
    hand_off(cloud, AWARD)
    cloud.drain()
    hand_off(cloud, {**AWARD, "points": 5000})
    cloud.drain()
    assert balance(cloud, "c-1") == 50
    [record] = failures(cloud)
    assert record["responsePayload"]["errorType"] == "IdempotencyValidationError"
    assert record["requestPayload"]["points"] == 5000


def test_a_bad_award_is_refused_and_never_handed_off(cloud):
    answer = hand_off(cloud, {"order_id": "o-4", "customer_id": "c-1", "points": -1})
    assert answer == {"statusCode": 400, "error": {"code": "InvalidAward", "message": "points: less than 1"}}
    cloud.drain()
    assert cloud.trace.find("enqueue") == [] and worker_runs(cloud) == []


def test_the_configured_retry_attempts_are_the_retries(pattern_variant, run):
    cloud = run(pattern_variant("internal_handoff", "InternalHandoffOneRetry", retry_attempts=1))
    hand_off(cloud, {"order_id": "o-5", "customer_id": "c-404", "points": 1})
    cloud.drain()
    assert [run.at for run in worker_runs(cloud)] == [0, 60]
    [record] = failures(cloud)
    assert record["requestContext"]["approximateInvokeCount"] == 2
