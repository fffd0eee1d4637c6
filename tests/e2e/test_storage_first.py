"""Storage-first's asynchronous half offline: what API Gateway stored in SQS is processed once, and
nothing is lost while the processor fails."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("storage_first")


def store(cloud, request_id: str, body: str) -> None:
    """What the API's SQS integration sends: the body, and the request id as a message attribute."""
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
    for n in range(5):
        store(cloud, f"req-{n}", order(n))
    store(cloud, "req-0", order(0))
    cloud.drain()
    assert sorted(processed(cloud)) == [f"req-{n}" for n in range(5)]
    assert dead_letters(cloud) == []


def test_a_bad_request_reaches_the_dlq_without_holding_up_the_others(cloud):
    store(cloud, "good", order(1))
    store(cloud, "bad", json.dumps({"type": "unknown.kind", "payload": {}}))
    cloud.drain()
    assert list(processed(cloud)) == ["good"]
    [dead] = dead_letters(cloud)
    assert dead["Body"] == json.dumps({"type": "unknown.kind", "payload": {}})


def test_a_failing_processor_loses_nothing_and_succeeds_on_redrive(cloud):
    dynamodb = cloud.client("dynamodb")
    table = cloud.outputs["ProcessedTableName"]
    schema = dynamodb.describe_table(TableName=table)["Table"]
    dynamodb.delete_table(TableName=table)  # the processor's store is down
    for n in range(3):
        store(cloud, f"req-{n}", order(n))
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
    assert sorted(processed(cloud)) == ["req-0", "req-1", "req-2"]
    assert len(cloud.trace.find("redrive")) == 3, "the outage is visible in the trace"
