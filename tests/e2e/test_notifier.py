"""The notifier offline: filter policies on attributes and on the body, a refused delivery kept in its
subscription's dead-letter queue, an invalid message refused at publish with its field named."""

from __future__ import annotations

import json

import pytest

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


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("notifier")


def publish(cloud, event: dict) -> dict:
    return cloud.invoke("Pattern/Publisher", event)["Payload"]


def inbox(cloud, subscriber: str) -> set[str]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs[f"{subscriber}InboxTableName"])["Items"]
    return {item["event_id"]["S"] for item in items}


def queue_messages(cloud, output: str) -> list[dict]:
    return (
        cloud.client("sqs")
        .receive_message(
            QueueUrl=cloud.outputs[output], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        .get("Messages", [])
    )


def test_each_subscriber_gets_exactly_what_its_filter_selects(cloud):
    events = [
        order_event("e1", "order_placed", "FR", 150_000),
        order_event("e2", "order_placed", "US", 2_000),
        order_event("e3", "order_shipped", "DE", 500_000),
        order_event("e4", "order_cancelled", "IT", 100_000),
        order_event("e5", "order_placed", "DE", 99_999),
    ]
    assert [publish(cloud, e)["statusCode"] for e in events] == [202] * 5
    cloud.drain()

    assert inbox(cloud, "Invoicing") == {"e1", "e2", "e4", "e5"}, "attribute policy on event_type"
    assert inbox(cloud, "FraudReview") == {"e1"}, "body policy: placed, 100000 cents or more"
    assert inbox(cloud, "EuShipping") == {"e1", "e5"}, "body policy: placed, nested country"
    filtered = cloud.trace.find("filter", outcome="filtered out")
    assert len(filtered) == 3 * 5 - 7
    for subscriber in SUBSCRIBERS:
        assert queue_messages(cloud, f"{subscriber}SubscriptionDlqUrl") == []


def test_an_invalid_message_is_refused_at_publish_naming_the_field(cloud):
    event = order_event("e6", "order_placed", "FR", 150_000)
    event["order"]["total_cents"] = "1500.00"
    event["order"]["country"] = "France"
    del event["event_id"]

    answer = publish(cloud, event)
    cloud.drain()

    assert answer["statusCode"] == 400
    assert answer["error"]["code"] == "InvalidMessage"
    message = answer["error"]["message"]
    assert "event_id: required" in message
    assert "order.total_cents: expected integer, got string" in message
    assert "order.country: does not match ^[A-Z]{2}$" in message
    assert cloud.trace.find("send") == [], "nothing was published"
    assert all(inbox(cloud, s) == set() for s in SUBSCRIBERS)


def test_a_queue_that_refuses_delivery_keeps_its_messages_in_the_subscription_dlq(cloud):
    """The fraud team's queue policy no longer lets SNS in: its messages wait in its subscription's
    DLQ, as published (raw), while the other subscribers get theirs."""
    queue_url = cloud.outputs["FraudReviewQueueUrl"]
    sqs = cloud.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    closed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(closed)})
    event = order_event("e7", "order_placed", "FR", 250_000)

    assert publish(cloud, event)["statusCode"] == 202
    cloud.drain()

    assert inbox(cloud, "FraudReview") == set()
    assert inbox(cloud, "Invoicing") == {"e7"} and inbox(cloud, "EuShipping") == {"e7"}
    (dead,) = queue_messages(cloud, "FraudReviewSubscriptionDlqUrl")
    assert json.loads(dead["Body"]) == event, "raw delivery: the message as published"
    assert dead["MessageAttributes"]["event_type"]["StringValue"] == "order_placed"
    (refused,) = cloud.trace.find("deliver", outcome="refused")
    assert "AccessDenied" in refused.data["reason"]
    assert cloud.trace.find("discard") == [], "nothing lost"
