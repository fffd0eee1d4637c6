"""The storage-first + circuit breaker handlers' outcomes as an operator sees them: the metric each
one emits, the request id's length limit at its edge, each way the fulfilment service's answer can
break its contract, and the recovery check's switching counted and left alone between states."""

from __future__ import annotations

import io
import json
import sys

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.events import sqs_event
from tests.unit.test_storage_first_circuit_breaker import (
    CIRCUIT,
    UUID,
    answers,
    create_table,
    failed,
    open_circuit,
    order,
)

pytestmark = pytest.mark.unit

ACCEPTED = {"accepted": True, "deliveries": 1}


@pytest.fixture
def processor(aws, load_handler):
    create_table("circuits", "circuit")
    create_table("processed", "request_id")
    module = load_handler(
        "storage_first_circuit_breaker", "processor", PROCESSED_TABLE_NAME="processed", **CIRCUIT
    )
    module.breaker_client = sys.modules["fulfilment_client"]
    with Stubber(module.breaker_client.lambda_client) as stubber:
        module.stubber = stubber
        yield module
        stubber.assert_no_pending_responses()


def with_request_ids(event: dict, *ids: str) -> dict:
    for record, request_id in zip(event["Records"], ids, strict=True):
        record["messageAttributes"] = {"requestId": {"stringValue": request_id, "dataType": "String"}}
    return event


def processed_ids() -> list[str]:
    items = boto3.client("dynamodb").scan(TableName="processed")["Items"]
    return sorted(i["request_id"]["S"] for i in items)


def test_processed_and_redelivered_requests_are_counted(processor, lambda_context, emitted_metrics):
    event = with_request_ids(sqs_event(order(1), order(2)), "r-1", "r-2")
    for request_id in ("r-1", "r-2"):
        answers(
            processor.stubber,
            {"request_id": request_id, **ACCEPTED},
            expected={
                "FunctionName": "fulfilment",
                "Payload": json.dumps({"request_id": request_id, **order(int(request_id[-1]))}),
            },
        )
    reads = []
    original = processor.processed.get_item
    processor.processed.get_item = lambda key, **kwargs: reads.append(kwargs) or original(key, **kwargs)
    assert processor.sqs_handler(event, lambda_context) == {"batchItemFailures": []}
    assert emitted_metrics() == {"RequestsProcessed": 2}
    item = boto3.client("dynamodb").get_item(TableName="processed", Key={"request_id": {"S": "r-1"}})["Item"]
    assert (item["type"], item["payload"]) == ({"S": "order.placed"}, {"M": {"order_id": {"S": "o-1"}}})
    assert processor.sqs_handler(event, lambda_context) == {"batchItemFailures": []}
    assert emitted_metrics() == {"DuplicateRequests": 2}, "a redelivery is acknowledged, not sent"
    assert reads == [{"ConsistentRead": True}] * 4, (
        "a redelivery right after the write must see it: an eventually consistent read may not"
    )


def test_the_service_is_called_once_per_try_waiting_past_its_own_timeout(load_handler, aws):
    """The breaker, not the SDK, decides whether to call again: one attempt, and a read timeout 2 s
    past the service's, so a slow answer is not cut off and counted as a failure it was not."""
    load_handler(
        "storage_first_circuit_breaker",
        "fulfilment_client",
        FULFILMENT_TIMEOUT_SECONDS="5",
        CIRCUIT_TABLE_NAME="circuits",
        **{k: v for k, v in CIRCUIT.items() if k != "CIRCUIT_TABLE_NAME"},
    )
    config = sys.modules["fulfilment_client"].lambda_client.meta.config
    assert (config.read_timeout, config.connect_timeout) == (7, 2)
    assert config.retries["total_max_attempts"] == 1


def test_a_request_id_of_1_to_128_characters_is_taken_and_129_or_none_refused(
    processor, lambda_context, emitted_metrics
):
    edge, over = "r" * 128, "r" * 129
    event = with_request_ids(sqs_event(order(1), order(2), order(3), order(4)), "r", edge, over, "")
    answers(processor.stubber, {"request_id": "r", **ACCEPTED})
    answers(processor.stubber, {"request_id": edge, **ACCEPTED})
    assert failed(processor.sqs_handler(event, lambda_context)) == [
        r["messageId"] for r in event["Records"][2:]
    ]
    assert processed_ids() == sorted(["r", edge])
    assert emitted_metrics() == {"RequestsProcessed": 2, "RequestsRejected": 2}


def test_the_circuit_opening_and_the_held_batch_are_counted(processor, lambda_context, emitted_metrics):
    event = sqs_event(*(order(n) for n in range(4)))
    for _ in range(2):
        answers(processor.stubber, {"errorType": "FulfilmentDown"}, function_error="Unhandled")
    assert failed(processor.sqs_handler(event, lambda_context)) == [r["messageId"] for r in event["Records"]]
    assert emitted_metrics() == {"CircuitOpen": 1, "RequestsHeld": 1}, (
        "one transition, one record found the circuit open; the rest are held without a read"
    )


def service_answer(stubber: Stubber, body: bytes, **extra) -> None:
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body)), **extra}
    stubber.add_response("invoke", response)


OUTSIDE_THE_CONTRACT = [
    (b"not json", {}, "answered with something that is not JSON"),
    (b"", {}, "answered outside its contract"),
    (b'"done"', {"FunctionError": "Unhandled"}, "failed (Unknown)"),
    (b'{"errorType": "Timeout"}', {"FunctionError": "Unhandled"}, "failed (Timeout)"),
    (b'{"accepted": false}', {}, "answered outside its contract"),
    (b'{"healthy": "yes"}', {}, "answered outside its contract"),
    (b"[1]", {}, "answered outside its contract"),
]


def test_an_answer_outside_the_contract_is_a_failure_naming_what_was_wrong(processor):
    client = processor.breaker_client
    for body, extra, message in OUTSIDE_THE_CONTRACT:
        service_answer(processor.stubber, body, **extra)
        with pytest.raises(client.ServiceFailed) as failure:
            client.call_fulfilment({"health": True})
        assert str(failure.value) == f"the fulfilment service {message}", body


def test_a_refusal_names_the_services_message_and_a_call_that_fails_names_the_error(processor):
    client = processor.breaker_client
    service_answer(processor.stubber, b'{"statusCode": 400, "message": "no such warehouse"}')
    with pytest.raises(client.Refused, match=r"^fulfilment refused the request: no such warehouse$"):
        client.call_fulfilment({"request_id": "r"})
    processor.stubber.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    with pytest.raises(client.ServiceFailed, match=r"could not be called \(TooManyRequestsException\)"):
        client.call_fulfilment({"request_id": "r"})
    service_answer(processor.stubber, b'{"healthy": true}')
    assert client.call_fulfilment({"health": True}) == {"healthy": True}


# ------------------------------------------------------------------------------------------ recovery


@pytest.fixture
def recovery(aws, load_handler):
    create_table("circuits", "circuit")
    module = load_handler("storage_first_circuit_breaker", "recovery", MAPPING_UUID=UUID, **CIRCUIT)
    with Stubber(module.lambda_client) as stubber:
        module.stubber = stubber
        yield module
        stubber.assert_no_pending_responses()


def test_each_switch_of_the_mapping_is_counted_and_one_between_states_is_left_alone(
    recovery, lambda_context, emitted_metrics
):
    stub = recovery.stubber
    stub.add_response("get_event_source_mapping", {"UUID": UUID, "State": "Disabled"}, {"UUID": UUID})
    stub.add_response("update_event_source_mapping", {"UUID": UUID, "State": "Enabling"})
    assert recovery.handler({}, lambda_context) == {"circuit": "CLOSED", "mapping": "Enabling"}
    assert emitted_metrics() == {"MappingEnabled": 1}
    for between in ("Creating", "Updating", "Deleting"):
        stub.add_response("get_event_source_mapping", {"UUID": UUID, "State": between}, {"UUID": UUID})
        assert recovery.handler({}, lambda_context) == {"circuit": "CLOSED", "mapping": between}
    assert emitted_metrics() == {}, "no switch tried between states"
    open_circuit(opened_seconds_ago=10)
    stub.add_response("get_event_source_mapping", {"UUID": UUID, "State": "Enabled"}, {"UUID": UUID})
    stub.add_response("update_event_source_mapping", {"UUID": UUID, "State": "Disabling"})
    assert recovery.handler({}, lambda_context)["mapping"] == "Disabling"
    assert emitted_metrics() == {"MappingDisabled": 1}
    stub.add_response("get_event_source_mapping", {"UUID": UUID, "State": "Disabling"}, {"UUID": UUID})
    assert recovery.handler({}, lambda_context)["mapping"] == "Disabling", "already becoming disabled"
    assert emitted_metrics() == {}


# ---------------------------------------------------------------------------------------- fulfilment


REFUSED = [
    ([1], "event: expected a JSON object"),
    ({"request_id": "", "type": "t", "payload": {}}, "request_id: required"),
    ({"request_id": 7, "type": "t", "payload": {}}, "request_id: required"),
    ({"request_id": "OUTAGE", "type": "t", "payload": {}}, "request_id: required"),
    ({"request_id": "r", "type": 7, "payload": {}}, "type and payload: required"),
    ({"request_id": "r", "type": "t", "payload": []}, "type and payload: required"),
    ({"health": "true"}, "request_id: required"),
]


def test_the_service_refuses_a_request_outside_its_contract_with_a_400(aws, load_handler, lambda_context):
    create_table("fulfilment", "request_id")
    service = load_handler("storage_first_circuit_breaker", "fulfilment", FULFILMENT_TABLE_NAME="fulfilment")
    for event, message in REFUSED:
        answer = service.handler(event, lambda_context)
        assert (answer["statusCode"], answer["message"].split(",")[0]) == (400, message), event
    assert boto3.client("dynamodb").scan(TableName="fulfilment")["Items"] == []
