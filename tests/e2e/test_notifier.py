"""The notifier offline: filter policies on attributes and on the body, a refused delivery kept in its
subscription's dead-letter queue, an invalid message refused at publish with its field named.

One cloud for the module: each test publishes events of its own ids and reads only those."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

SUBSCRIBERS = ("Invoicing", "FraudReview", "EuShipping")


def order_event(event_id: str, event_type: str, country: str, total_cents: int) -> dict:
    order = {
        "order_id": f"o-{event_id}",
        "customer_id": "c-1",
        "total_cents": total_cents,
        "country": country,
    }
    return {"event_id": event_id, "event_type": event_type, "order": order}


@pytest.fixture(scope="module")
def shared_cloud(cloud_assembly):
    cloud = LocalCloud(load_stack(cloud_assembly.directory, "NotifierStack"), start=FIXED_START)
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture
def cloud(shared_cloud, request):
    request.node.local_clouds = [shared_cloud]  # its trace in the report of a failing test
    return shared_cloud


def publish(cloud, event: dict) -> dict:
    return cloud.invoke("Pattern/Publisher", event)["Payload"]


def inbox(cloud, subscriber: str, prefix: str) -> set[str]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs[f"{subscriber}InboxTableName"])["Items"]
    return {item["event_id"]["S"] for item in items if item["event_id"]["S"].startswith(prefix)}


def queue_messages(cloud, output: str) -> list[dict]:
    return (
        cloud.client("sqs")
        .receive_message(
            QueueUrl=cloud.outputs[output], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        .get("Messages", [])
    )


def spans_of(cloud, kind: str, message_ids: list[str], **match) -> list:
    return [s for s in cloud.trace.find(kind, **match) if any(m in s.detail for m in message_ids)]


def test_each_subscriber_gets_exactly_what_its_filter_selects(cloud):
    events = [
        order_event("f1", "order_placed", "FR", 150_000),
        order_event("f2", "order_placed", "US", 2_000),
        order_event("f3", "order_shipped", "DE", 500_000),
        order_event("f4", "order_cancelled", "IT", 100_000),
        order_event("f5", "order_placed", "DE", 99_999),
    ]
    answers = [publish(cloud, e) for e in events]
    assert [a["statusCode"] for a in answers] == [202] * 5
    cloud.drain()

    assert inbox(cloud, "Invoicing", "f") == {"f1", "f2", "f4", "f5"}, "attribute policy on event_type"
    assert inbox(cloud, "FraudReview", "f") == {"f1"}, "body policy: placed, 100000 cents or more"
    assert inbox(cloud, "EuShipping", "f") == {"f1", "f5"}, "body policy: placed, nested country"
    message_ids = [a["message_id"] for a in answers]
    assert len(spans_of(cloud, "filter", message_ids, outcome="filtered out")) == 3 * 5 - 7
    for subscriber in SUBSCRIBERS:
        assert queue_messages(cloud, f"{subscriber}SubscriptionDlqUrl") == []


def test_an_invalid_message_is_refused_at_publish_naming_the_field(cloud):
    event = order_event("i1", "order_placed", "FR", 150_000)
    event["order"]["total_cents"] = "1500.00"
    event["order"]["country"] = "France"
    event["event_id"] = ""
    sent = len(cloud.trace.find("send"))

    answer = publish(cloud, event)
    cloud.drain()

    assert answer["statusCode"] == 400
    assert answer["error"]["code"] == "InvalidMessage"
    message = answer["error"]["message"]
    assert "event_id: shorter than 1 characters" in message
    assert "order.total_cents: expected integer, got string" in message
    assert "order.country: does not match ^[A-Z]{2}$" in message
    assert len(cloud.trace.find("send")) == sent, "nothing was published"


def test_a_queue_that_refuses_delivery_keeps_its_messages_in_the_subscription_dlq(cloud):
    """The fraud team's queue policy no longer lets SNS in: its messages wait in its subscription's
    DLQ, as published (raw), while the other subscribers get theirs."""
    sqs = cloud.client("sqs")
    queue_url = cloud.outputs["FraudReviewQueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])[
        "Attributes"
    ]
    closed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": attributes["QueueArn"],
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(closed)})
    event = order_event("r1", "order_placed", "FR", 250_000)
    lost = len(cloud.trace.find("discard"))
    try:
        message_id = publish(cloud, event)["message_id"]
        cloud.drain()
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": attributes["Policy"]})

    assert inbox(cloud, "FraudReview", "r") == set()
    assert inbox(cloud, "Invoicing", "r") == {"r1"} and inbox(cloud, "EuShipping", "r") == {"r1"}
    (dead,) = queue_messages(cloud, "FraudReviewSubscriptionDlqUrl")
    assert json.loads(dead["Body"]) == event, "raw delivery: the message as published"
    assert dead["MessageAttributes"]["event_type"]["StringValue"] == "order_placed"
    (refused,) = spans_of(cloud, "deliver", [message_id], outcome="refused")
    assert "AccessDenied" in refused.data["reason"]
    assert len(cloud.trace.find("discard")) == lost, "nothing lost"
