"""The storage-first + circuit breaker row's handlers against moto: the fulfilment service, the
processor's answer to each outcome of its call through the breaker (a held batch sends and reads
nothing more), and the recovery check's switching of the event source mapping."""

from __future__ import annotations

import io
import json
import time

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from freezegun import freeze_time

from tests.events import sqs_event

pytestmark = pytest.mark.unit

CIRCUIT = {
    "FULFILMENT_FUNCTION_NAME": "fulfilment",
    "CIRCUIT_TABLE_NAME": "circuits",
    "CIRCUIT_NAME": "fulfilment-service",
    "CIRCUIT_FAILURE_THRESHOLD": "2",
    "CIRCUIT_OPEN_SECONDS": "30",
}
UUID = "14e0db71-5d35-4c37-9d8f-0c0a7d1e6f2a"


def create_table(name: str, key: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def order(n: int) -> dict:
    return {"type": "order.placed", "payload": {"order_id": f"o-{n}"}}


def answers(stubber: Stubber, payload, *, function_error: str | None = None, expected=None) -> None:
    body = json.dumps(payload).encode()
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error:
        response["FunctionError"] = function_error
    stubber.add_response("invoke", response, expected)


def circuit_item() -> dict | None:
    item = boto3.client("dynamodb").get_item(
        TableName="circuits", Key={"circuit": {"S": "fulfilment-service"}}, ConsistentRead=True
    )
    return item.get("Item")


# ---------------------------------------------------------------------------------------- fulfilment


def test_the_service_accepts_counts_deliveries_refuses_and_fails_during_an_outage(
    aws, load_handler, lambda_context
):
    create_table("fulfilment", "request_id")
    service = load_handler("storage_first_circuit_breaker", "fulfilment", FULFILMENT_TABLE_NAME="fulfilment")
    request = {"request_id": "r-1", **order(1)}
    assert service.handler(request, lambda_context) == {
        "request_id": "r-1",
        "accepted": True,
        "deliveries": 1,
    }
    assert service.handler(request, lambda_context)["deliveries"] == 2, "a second delivery shows"
    assert service.handler({"health": True}, lambda_context) == {"healthy": True}
    assert service.handler({"request_id": "r-2", "type": "x"}, lambda_context)["statusCode"] == 400
    assert service.handler({"request_id": "OUTAGE", **order(2)}, lambda_context)["statusCode"] == 400
    boto3.client("dynamodb").put_item(TableName="fulfilment", Item={"request_id": {"S": "OUTAGE"}})
    with pytest.raises(service.FulfilmentDown):
        service.handler({"health": True}, lambda_context)


# ------------------------------------------------------------------------------------------ processor


@pytest.fixture
def processor(aws, load_handler):
    create_table("circuits", "circuit")
    create_table("processed", "request_id")
    module = load_handler(
        "storage_first_circuit_breaker", "processor", PROCESSED_TABLE_NAME="processed", **CIRCUIT
    )
    import fulfilment_client

    with Stubber(fulfilment_client.lambda_client) as stubber:
        module.stubber = stubber
        yield module
    stubber.assert_no_pending_responses()


def failed(answer: dict) -> list[str]:
    return [f["itemIdentifier"] for f in answer["batchItemFailures"]]


def test_accepted_requests_are_written_once_and_a_redelivery_is_not_sent_again(processor, lambda_context):
    event = sqs_event(order(1), order(2))
    for record in event["Records"]:
        answers(processor.stubber, {"request_id": record["messageId"], "accepted": True, "deliveries": 1})
    assert processor.sqs_handler(event, lambda_context) == {"batchItemFailures": []}
    assert processor.sqs_handler(event, lambda_context) == {"batchItemFailures": []}, "no call: none pending"
    items = boto3.client("dynamodb").scan(TableName="processed")["Items"]
    assert sorted(i["request_id"]["S"] for i in items) == sorted(r["messageId"] for r in event["Records"])
    assert circuit_item() is None, "successes cost no circuit write"


def test_failures_open_the_circuit_and_the_rest_of_the_batch_is_held_unsent_and_unread(
    processor, lambda_context, monkeypatch
):
    event = sqs_event(*(order(n) for n in range(5)))
    ids = [r["messageId"] for r in event["Records"]]
    for _ in range(2):
        answers(processor.stubber, {"errorType": "FulfilmentDown"}, function_error="Unhandled")
    reads = []
    original = processor.processed.get_item
    monkeypatch.setattr(processor.processed, "get_item", lambda *a, **k: reads.append(a) or original(*a, **k))
    assert failed(processor.sqs_handler(event, lambda_context)) == ids
    assert circuit_item()["state"] == {"S": "OPEN"}
    assert len(reads) == 3, "two sent, the third found the circuit open; the last two not even read"
    assert boto3.client("dynamodb").scan(TableName="processed")["Count"] == 0


def test_a_malformed_or_refused_request_fails_alone_and_is_not_counted_against_the_circuit(
    processor, lambda_context
):
    event = sqs_event('{"type": "order.placed"}', order(1), order(2))
    answers(processor.stubber, {"statusCode": 400, "message": "no such warehouse"})
    answers(processor.stubber, {"request_id": "x", "accepted": True, "deliveries": 1})
    answer = processor.sqs_handler(event, lambda_context)
    assert failed(answer) == [r["messageId"] for r in event["Records"][:2]]
    assert circuit_item() is None


# ------------------------------------------------------------------------------------------- recovery


@pytest.fixture
def recovery(aws, load_handler):
    create_table("circuits", "circuit")
    module = load_handler("storage_first_circuit_breaker", "recovery", MAPPING_UUID=UUID, **CIRCUIT)
    # One Lambda client for the mapping and the probe: the stubber answers their calls in order.
    with Stubber(module.lambda_client) as stubber:
        module.mappings = module.calls = stubber
        yield module
    stubber.assert_no_pending_responses()


def mapping_is(recovery, state: str) -> None:
    recovery.mappings.add_response("get_event_source_mapping", {"UUID": UUID, "State": state}, {"UUID": UUID})


def switched_to(recovery, enabled: bool) -> None:
    state = "Enabling" if enabled else "Disabling"
    recovery.mappings.add_response(
        "update_event_source_mapping", {"UUID": UUID, "State": state}, {"UUID": UUID, "Enabled": enabled}
    )


def open_circuit(opened_seconds_ago: float) -> None:
    now_ms = int(time.time() * 1000)
    boto3.client("dynamodb").put_item(
        TableName="circuits",
        Item={
            "circuit": {"S": "fulfilment-service"},
            "state": {"S": "OPEN"},
            "version": {"N": "1"},
            "failures": {"N": "2"},
            "opened_at_ms": {"N": str(now_ms - int(opened_seconds_ago * 1000))},
            "open_ms": {"N": "30000"},
        },
    )


def test_a_closed_circuit_enables_a_disabled_mapping_and_leaves_an_enabled_one(recovery, lambda_context):
    mapping_is(recovery, "Disabled")
    switched_to(recovery, True)
    assert recovery.handler({}, lambda_context) == {"circuit": "CLOSED", "mapping": "Enabling"}
    mapping_is(recovery, "Enabled")
    assert recovery.handler({}, lambda_context) == {"circuit": "CLOSED", "mapping": "Enabled"}


@freeze_time("2026-01-01 12:00:00")
def test_an_open_circuit_disables_the_mapping_and_waits_for_its_timeout(recovery, lambda_context):
    """The clock is held: the 20 s left of a 30 s opening must not depend on how loaded the machine is."""
    open_circuit(opened_seconds_ago=10)
    mapping_is(recovery, "Enabled")
    switched_to(recovery, False)
    assert recovery.handler({}, lambda_context) == {
        "circuit": "OPEN",
        "mapping": "Disabling",
        "retry_after": 20,
    }


def test_a_healthy_probe_closes_the_circuit_and_enables_the_mapping(recovery, lambda_context):
    open_circuit(opened_seconds_ago=31)
    mapping_is(recovery, "Disabled")
    answers(
        recovery.calls,
        {"healthy": True},
        expected={"FunctionName": "fulfilment", "Payload": '{"health": true}'},
    )
    switched_to(recovery, True)
    assert recovery.handler({}, lambda_context) == {
        "circuit": "CLOSED",
        "mapping": "Enabling",
        "probe": "healthy",
    }
    assert circuit_item()["state"] == {"S": "CLOSED"}


def test_a_failed_probe_keeps_the_mapping_disabled_and_a_busy_mapping_is_left_to_settle(
    recovery, lambda_context
):
    open_circuit(opened_seconds_ago=31)
    mapping_is(recovery, "Disabled")
    answers(recovery.calls, {"errorType": "FulfilmentDown"}, function_error="Unhandled")
    assert recovery.handler({}, lambda_context) == {
        "circuit": "OPEN",
        "mapping": "Disabled",
        "probe": "failed",
    }
    boto3.client("dynamodb").delete_item(TableName="circuits", Key={"circuit": {"S": "fulfilment-service"}})
    mapping_is(recovery, "Disabling")
    recovery.mappings.add_client_error(
        "update_event_source_mapping", "ResourceInUseException", http_status_code=400
    )
    assert recovery.handler({}, lambda_context) == {"circuit": "CLOSED", "mapping": "Disabling"}
