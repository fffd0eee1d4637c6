"""The handoff's requester and its idempotent worker, against moto."""

from __future__ import annotations

import json
import sys

import boto3
import pytest
from botocore.stub import Stubber

from patterns.internal_handoff import IDEMPOTENCY_TTL_ATTRIBUTE
from tests.unit.limits import case_id, length_limits, number_limits

pytestmark = pytest.mark.unit

AWARD = {"order_id": "o-1", "customer_id": "c-1", "points": 50}


@pytest.fixture(autouse=True)
def fresh_award(monkeypatch):
    """``award`` is a top-level module of this pattern's folder: load ours, not another's."""
    monkeypatch.delitem(sys.modules, "award", raising=False)


# --------------------------------------------------------------------------------------------- requester


@pytest.fixture
def requester(load_handler):
    module = load_handler("internal_handoff", "requester", WORKER_FUNCTION_NAME="worker")
    with Stubber(module.lambda_client) as stubber:
        module.stubber = stubber
        yield module
    stubber.assert_no_pending_responses()


def test_requester_hands_the_award_off_as_an_event_and_answers_202(requester, lambda_context):
    requester.stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": "worker", "InvocationType": "Event", "Payload": json.dumps(AWARD).encode()},
    )
    assert requester.handler(AWARD, lambda_context) == {"statusCode": 202, "accepted": "o-1"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**AWARD, "points": 0}, "points: less than 1"),
        ({"order_id": "o-1"}, "customer_id: required; points: required"),
        ({**AWARD, "points": "50"}, "points: expected integer, got string"),
        ("o-1", "body: expected a JSON object, got string"),
    ],
)
def test_requester_refuses_a_bad_award_without_handing_it_off(requester, lambda_context, event, message):
    assert requester.handler(event, lambda_context) == {
        "statusCode": 400,
        "error": {"code": "InvalidAward", "message": message},
    }


def test_a_handoff_lambda_refused_is_a_503_to_retry(requester, lambda_context):
    requester.stubber.add_client_error(
        "invoke", service_error_code="TooManyRequestsException", http_status_code=429
    )
    result = requester.handler(AWARD, lambda_context)
    assert result == {
        "statusCode": 503,
        "error": {"code": "HandoffFailed", "message": "not accepted; retry later"},
    }


# --------------------------------------------------------------------------------------------- worker


@pytest.fixture
def load_worker(aws, load_handler):
    client = boto3.client("dynamodb")
    for name, key in (("balances", "customer_id"), ("idempotency", "id")):
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    enrol("c-1", 10)
    return lambda **environment: load_handler(
        "internal_handoff",
        "worker",
        **{
            "BALANCES_TABLE_NAME": "balances",
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "IDEMPOTENCY_TTL_SECONDS": "3600",
            "IDEMPOTENCY_TTL_ATTRIBUTE": IDEMPOTENCY_TTL_ATTRIBUTE,
            "AWS_LAMBDA_FUNCTION_NAME": "worker",
            **environment,
        },
    )


@pytest.fixture
def worker(load_worker):
    return load_worker()


def enrol(customer_id: str, points: int = 0) -> None:
    boto3.client("dynamodb").put_item(
        TableName="balances", Item={"customer_id": {"S": customer_id}, "points": {"N": str(points)}}
    )


def balance(customer_id: str) -> int:
    item = boto3.client("dynamodb").get_item(TableName="balances", Key={"customer_id": {"S": customer_id}})
    return int(item["Item"]["points"]["N"])


def idempotency_records() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName="idempotency")["Items"]


def test_worker_awards_the_points(worker, lambda_context):
    assert worker.handler(AWARD, lambda_context) == {"order_id": "o-1", "customer_id": "c-1", "balance": 60}
    assert balance("c-1") == 60


def test_a_duplicate_award_is_applied_once_and_answers_the_first_result(worker, lambda_context):
    first = worker.handler(AWARD, lambda_context)
    again = worker.handler(dict(AWARD), lambda_context)
    assert again == first
    assert balance("c-1") == 60
    [record] = idempotency_records()
    assert record["status"]["S"] == "COMPLETED"
    assert int(record["expiration"]["N"]) > 0, "the table's TTL removes it"


def test_the_record_expires_in_the_attribute_the_construct_names(load_worker, lambda_context):
    """The worker has no TTL attribute of its own: it writes the one the table's TTL is on."""
    load_worker(IDEMPOTENCY_TTL_ATTRIBUTE="expires_at").handler(AWARD, lambda_context)
    [record] = idempotency_records()
    assert int(record["expires_at"]["N"]) > 0 and "expiration" not in record


def test_another_order_for_the_same_customer_is_a_new_award(worker, lambda_context):
    worker.handler(AWARD, lambda_context)
    assert worker.handler({**AWARD, "order_id": "o-2"}, lambda_context)["balance"] == 110


def test_a_repeat_with_other_points_is_a_conflict_not_an_award(worker, lambda_context):
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError

    worker.handler(AWARD, lambda_context)
    with pytest.raises(IdempotencyValidationError):
        worker.handler({**AWARD, "points": 5000}, lambda_context)
    assert balance("c-1") == 60


def test_an_unknown_customer_fails_and_leaves_nothing_behind(worker, lambda_context):
    with pytest.raises(worker.CustomerNotEnrolled, match="customer 'c-9' is not enrolled"):
        worker.handler({**AWARD, "customer_id": "c-9"}, lambda_context)
    assert idempotency_records() == [], "the in-progress record is removed, so a retry runs again"
    enrol("c-9")
    assert worker.handler({**AWARD, "customer_id": "c-9"}, lambda_context)["balance"] == 50


def test_a_malformed_award_fails_before_any_record_is_written(worker, lambda_context):
    from shared.validation import InvalidInput

    with pytest.raises(InvalidInput, match="order_id: required"):
        worker.handler({"customer_id": "c-1", "points": 5}, lambda_context)
    assert idempotency_records() == []
    assert balance("c-1") == 10


# --------------------------------------------------------------------------------------------- limits and metrics


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        *length_limits("order_id", 1, 128),
        *length_limits("customer_id", 1, 128),
        *number_limits("points", minimum=1, maximum=100_000),
    ],
    ids=case_id,
)
def test_an_award_has_ids_of_1_to_128_characters_and_1_to_100000_points(
    requester, lambda_context, emitted_metrics, field, value, problem
):
    award = {**AWARD, field: value}
    if problem:
        answer = requester.handler(award, lambda_context)
        assert answer == {"statusCode": 400, "error": {"code": "InvalidAward", "message": problem}}
        assert emitted_metrics() == {}
    else:
        requester.stubber.add_response("invoke", {"StatusCode": 202})
        assert requester.handler(award, lambda_context) == {"statusCode": 202, "accepted": award["order_id"]}
        assert emitted_metrics() == {"AwardsHandedOff": 1}


def test_the_worker_counts_the_points_it_awards_once(worker, lambda_context, emitted_metrics):
    worker.handler(AWARD, lambda_context)
    assert emitted_metrics() == {"PointsAwarded": 50}
    worker.handler(AWARD, lambda_context)
    assert emitted_metrics() == {}, "a redelivered award is answered from the record, not awarded"


def test_an_award_in_progress_expires_with_the_invocation(worker, lambda_context):
    """Powertools bounds an in-progress record by the invocation's remaining time (10 s here), so a
    crashed attempt does not block the retry for the record's whole TTL."""
    worker.handler(AWARD, lambda_context)
    [record] = idempotency_records()
    assert "in_progress_expiration" in record


def test_a_handoff_that_cannot_reach_lambda_is_a_503_to_retry(requester, lambda_context, monkeypatch):
    """A connection or read timeout is a BotoCoreError, not a ClientError: nothing was queued either."""
    from botocore.exceptions import EndpointConnectionError

    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    monkeypatch.setattr(requester.lambda_client, "invoke", unreachable)
    assert requester.handler(AWARD, lambda_context) == {
        "statusCode": 503,
        "error": {"code": "HandoffFailed", "message": "not accepted; retry later"},
    }
