"""Notifier: each subscriber gets what its filter selects; a refused delivery waits in its
subscription's DLQ; an invalid message is refused at publish, its field named."""

from __future__ import annotations

import json

from scenarios import Show


def order_event(event_id: str, event_type: str, country: str, total_cents: int) -> dict:
    order = {
        "order_id": f"o-{event_id}",
        "customer_id": "c-1",
        "total_cents": total_cents,
        "country": country,
    }
    return {"event_id": event_id, "event_type": event_type, "order": order}


def run(show: Show) -> None:
    cloud = show.cloud

    def publish(event: dict) -> dict:
        return cloud.invoke("Pattern/Publisher", event)["Payload"]

    def inbox(subscriber: str) -> list[str]:
        table = cloud.outputs[f"{subscriber}InboxTableName"]
        return sorted(i["event_id"]["S"] for i in cloud.client("dynamodb").scan(TableName=table)["Items"])

    events = [
        order_event("e1", "order_placed", "FR", 150_000),
        order_event("e2", "order_placed", "US", 2_000),
        order_event("e3", "order_shipped", "DE", 500_000),
        order_event("e4", "order_cancelled", "IT", 100_000),
    ]
    show.equal(
        "the publisher accepts four valid events", [publish(e)["statusCode"] for e in events], [202] * 4
    )
    cloud.drain()
    show.equal(
        "invoicing gets placed and cancelled orders (attribute policy)",
        inbox("Invoicing"),
        ["e1", "e2", "e4"],
    )
    show.equal(
        "fraud review gets placed orders of 1000.00 or more (body policy)", inbox("FraudReview"), ["e1"]
    )
    show.equal("EU shipping gets placed orders to the EU (nested body policy)", inbox("EuShipping"), ["e1"])

    bad = order_event("e5", "order_placed", "FR", 150_000)
    bad["order"]["total_cents"] = "1500.00"
    answer = publish(bad)
    show.equal("an invalid event is refused with 400", answer["statusCode"], 400)
    show.that(
        "naming the field at fault",
        "order.total_cents: expected integer" in answer.get("error", {}).get("message", ""),
        answer.get("error"),
    )

    sqs = cloud.client("sqs")
    queue_url = cloud.outputs["FraudReviewQueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    closed = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage"}
    policy = {"Version": "2012-10-17", "Statement": [{**closed, "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    publish(order_event("e6", "order_placed", "DE", 300_000))
    cloud.drain()
    dead = sqs.receive_message(
        QueueUrl=cloud.outputs["FraudReviewSubscriptionDlqUrl"], MaxNumberOfMessages=10
    )
    show.equal(
        "once fraud review's queue refuses SNS, its event waits in its subscription DLQ",
        [json.loads(m["Body"])["event_id"] for m in dead.get("Messages", [])],
        ["e6"],
    )
    show.equal(
        "while the other subscribers get theirs",
        [inbox("Invoicing")[-1], inbox("EuShipping")],
        ["e6", ["e1", "e6"]],
    )
