"""Receiver and worker of the scalable webhook, against moto."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.events import api_event, sqs_event

pytestmark = pytest.mark.unit

WEBHOOK = {"id": "evt_1", "type": "payment.succeeded", "data": {"amount": 1200}}


@pytest.fixture
def queue_url(aws):
    return boto3.client("sqs").create_queue(QueueName="inbox")["QueueUrl"]


@pytest.fixture
def receiver(queue_url, load_handler):
    return load_handler("scalable_webhook", "receiver", QUEUE_URL=queue_url)


@pytest.fixture
def worker(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="webhooks",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("scalable_webhook", "worker", TABLE_NAME="webhooks")


def queued(queue_url):
    messages = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return messages.get("Messages", [])


def stored():
    return boto3.resource("dynamodb").Table("webhooks").scan()["Items"]


def test_receiver_enqueues_and_answers_202(receiver, queue_url, lambda_context):
    response = receiver.handler(api_event("POST", "/webhooks", body=WEBHOOK), lambda_context)
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"accepted": "evt_1"}
    [message] = queued(queue_url)
    assert json.loads(message["Body"]) == WEBHOOK
    assert message["MessageAttributes"]["type"]["StringValue"] == "payment.succeeded"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "t", "data": {}}, "id: required"),
        ({"id": "e", "type": "t", "data": []}, "data: expected object, got array"),
        ("not json", "body: not valid JSON"),
    ],
)
def test_receiver_rejects_bad_webhooks_with_400_and_enqueues_nothing(
    receiver, queue_url, lambda_context, body, message
):
    response = receiver.handler(api_event("POST", "/webhooks", body=body), lambda_context)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["message"]
    assert queued(queue_url) == []


def test_worker_stores_each_webhook(worker, lambda_context):
    second = {**WEBHOOK, "id": "evt_2"}
    result = worker.handler(sqs_event(WEBHOOK, second), lambda_context)
    assert result == {"batchItemFailures": []}
    assert sorted(item["id"] for item in stored()) == ["evt_1", "evt_2"]
    assert all(json.loads(item["data"]) == {"amount": 1200} for item in stored())


def test_worker_writes_a_duplicate_once(worker, lambda_context):
    assert worker.handler(sqs_event(WEBHOOK), lambda_context) == {"batchItemFailures": []}
    first = stored()
    assert worker.handler(sqs_event({**WEBHOOK, "data": {"amount": 1}}), lambda_context) == {
        "batchItemFailures": []
    }
    assert stored() == first, "the second delivery must not overwrite the first"


def test_worker_reports_only_the_poison_record(worker, lambda_context):
    event = sqs_event(WEBHOOK, "{broken", {"id": "evt_3", "type": "t"}, {**WEBHOOK, "id": "evt_4"})
    poison = [event["Records"][1]["messageId"], event["Records"][2]["messageId"]]
    result = worker.handler(event, lambda_context)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(poison)
    assert sorted(item["id"] for item in stored()) == ["evt_1", "evt_4"]
