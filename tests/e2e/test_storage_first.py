"""Storage-first offline, through its front door: API Gateway validates each request and stores it in
SQS itself (its VTL template makes the SendMessage), the processor handles it once, and nothing is
lost while the processor fails."""

from __future__ import annotations

import json

import pytest

from patterns.storage_first import request_contract

pytestmark = pytest.mark.e2e

MAX_BODY_BYTES: int = request_contract()["max_body_bytes"]
STORE_FAILED = "The request could not be stored; it was not accepted. Retry later."


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("storage_first")


def post(cloud, body: str) -> str:
    """POST a request to the API as a client does; the request id API Gateway answers with."""
    response = cloud.api().post("/requests", body=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    request_id = response.json()["requestId"]
    assert request_id == response.header("x-amzn-RequestId")
    return request_id


def store(cloud, request_id: str, body: str) -> None:
    """What the API's SQS integration sends, sent by another producer (or redelivered by SQS)."""
    cloud.client("sqs").send_message(
        QueueUrl=cloud.outputs["QueueUrl"],
        MessageBody=body,
        MessageAttributes={"requestId": {"DataType": "String", "StringValue": request_id}},
    )


def order(n: int) -> str:
    return json.dumps({"type": "order.placed", "payload": {"order_id": f"o-{n}"}})


def processed(cloud) -> dict[str, dict]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["ProcessedTableName"])["Items"]
    return {item["request_id"]["S"]: item for item in items}


def dead_letters(cloud) -> list[dict]:
    """A look at the DLQ that leaves its messages visible (visibility timeout 0)."""
    sqs = cloud.client("sqs")
    return sqs.receive_message(
        QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])


def redrive(cloud) -> int:
    """Move every dead letter back to the source queue, as ``aws sqs start-message-move-task`` does."""
    sqs, moved = cloud.client("sqs"), 0
    while messages := sqs.receive_message(
        QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in messages:
            sqs.send_message(
                QueueUrl=cloud.outputs["QueueUrl"],
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes", {}),
            )
            sqs.delete_message(
                QueueUrl=cloud.outputs["DeadLetterQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
            )
            moved += 1
    return moved


def test_stored_requests_are_processed_once_each(cloud):
    ids = [post(cloud, order(n)) for n in range(5)]
    store(cloud, ids[0], order(0))  # SQS delivers at least once: the same request again
    cloud.drain()
    assert sorted(processed(cloud)) == sorted(ids)
    assert processed(cloud)[ids[3]]["payload"]["M"]["order_id"]["S"] == "o-3"
    assert dead_letters(cloud) == []


def test_the_api_stores_the_body_as_sent_with_its_request_id(cloud):
    body = json.dumps({"type": "feedback.submitted", "payload": {"text": 'it\'s "great" & fast / ü'}})
    request_id = post(cloud, body)
    [message] = cloud.client("sqs").receive_message(
        QueueUrl=cloud.outputs["QueueUrl"], MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    assert message["Body"] == body
    assert message["MessageAttributes"]["requestId"]["StringValue"] == request_id
    [request] = cloud.trace.find("request")
    [integrate] = cloud.trace.find("integrate")
    assert (integrate.parent, integrate.outcome) == (request.id, "200")
    assert cloud.trace.find("invoke") == [], "stored before any code runs"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "answer"),
    [
        (
            json.dumps({"type": "unknown.kind", "payload": {}}),
            "application/json",
            400,
            "Invalid request body: [type: 'unknown.kind' is not one of",
        ),
        ("{not json", "application/json", 400, "Invalid request body: [not JSON"),
        (order(1), "text/plain", 415, "Unsupported Media Type"),
    ],
)
def test_a_bad_request_is_refused_by_api_gateway_and_never_stored(cloud, body, content_type, status, answer):
    response = cloud.api().post("/requests", body=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.json()["message"].startswith(answer)
    assert dead_letters(cloud) == [] and cloud.trace.find("integrate") == []


def test_a_storage_failure_is_a_500_that_says_the_request_was_not_accepted(cloud):
    cloud.client("sqs").delete_queue(QueueUrl=cloud.outputs["QueueUrl"])
    response = cloud.api().post("/requests", json=json.loads(order(1)))
    assert response.status_code == 500
    assert response.json() == {"message": STORE_FAILED, "requestId": response.header("x-amzn-RequestId")}


def test_a_bad_request_reaches_the_dlq_without_holding_up_the_others(cloud):
    good = post(cloud, order(1))
    store(cloud, "bad", json.dumps({"type": "unknown.kind", "payload": {}}))  # from another producer
    cloud.drain()
    assert list(processed(cloud)) == [good]
    [dead] = dead_letters(cloud)
    assert dead["Body"] == json.dumps({"type": "unknown.kind", "payload": {}})


def test_a_failing_processor_loses_nothing_and_succeeds_on_redrive(cloud):
    dynamodb = cloud.client("dynamodb")
    table = cloud.outputs["ProcessedTableName"]
    schema = dynamodb.describe_table(TableName=table)["Table"]
    dynamodb.delete_table(TableName=table)  # the processor's store is down
    ids = [post(cloud, order(n)) for n in range(3)]
    cloud.drain()
    assert len(dead_letters(cloud)) == 3, "every request waits in the DLQ; none is dropped"

    dynamodb.create_table(
        TableName=table,
        KeySchema=schema["KeySchema"],
        AttributeDefinitions=schema["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    assert redrive(cloud) == 3
    cloud.drain()
    assert sorted(processed(cloud)) == sorted(ids)
    assert len(cloud.trace.find("redrive")) == 3, "the outage is visible in the trace"


def test_a_body_larger_than_the_queue_takes_is_a_413_naming_the_limit_and_nothing_is_stored(cloud):
    big = {"type": "order.placed", "payload": {"note": "x" * MAX_BODY_BYTES}}
    response = cloud.api().post("/requests", json=big)
    assert response.status_code == 413
    assert response.json()["message"].startswith(
        "body: the request is larger than the queue's 262,144-byte message"
    )
    fits = {"type": "order.placed", "payload": {"note": "x" * (MAX_BODY_BYTES - 100)}}
    assert cloud.api().post("/requests", json=fits).status_code == 202
    cloud.drain()
    assert len(processed(cloud)) == 1 and dead_letters(cloud) == []
