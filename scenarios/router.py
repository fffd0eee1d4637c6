"""Router: each message type reaches its own task and table; an unknown type reaches the router's
failure queue, and a routed message its task refuses reaches that task's own failure queue."""

from __future__ import annotations

import json

from scenarios import Show

MESSAGES = {
    "order.placed": ("Orders", {"customer_id": "c-1", "total_cents": 1299}),
    "payment.refunded": ("Refunds", {"order_id": "o-1", "amount_cents": 500}),
    "ticket.opened": ("Tickets", {"customer_id": "c-1", "subject": "Where is my order?"}),
}
#: A body each task refuses, though the router routes it: its envelope is valid.
REFUSED = {
    "order.placed": {"customer_id": "c-1", "total_cents": -1},
    "payment.refunded": {"order_id": "o-1", "amount_cents": 0},
    "ticket.opened": {"customer_id": "c-1", "subject": ""},
}


def run(show: Show) -> None:
    cloud = show.cloud
    for message_type, (task, body) in MESSAGES.items():
        cloud.invoke(
            "Pattern/Router", {"id": f"{task.lower()}-1", "type": message_type, "body": body}, "Event"
        )
    unknown = {"id": "invoice-1", "type": "invoice.sent", "body": {"invoice_id": "i-1"}}
    cloud.invoke("Pattern/Router", unknown, "Event")
    for message_type, body in REFUSED.items():
        task = MESSAGES[message_type][0]
        cloud.invoke(
            "Pattern/Router", {"id": f"{task.lower()}-bad", "type": message_type, "body": body}, "Event"
        )
    cloud.drain()

    for message_type, (task, _) in MESSAGES.items():
        items = cloud.client("dynamodb").scan(TableName=cloud.outputs[f"{task}TableName"])["Items"]
        show.equal(
            f"{message_type} reaches the {task.lower()} task and only its table",
            [item["id"]["S"] for item in items],
            [f"{task.lower()}-1"],
        )
    messages = (
        cloud.client("sqs")
        .receive_message(QueueUrl=cloud.outputs["RouterFailureQueueUrl"])
        .get("Messages", [])
    )
    records = [json.loads(m["Body"]) for m in messages]
    for message_type, (task, _) in MESSAGES.items():
        refused = [
            json.loads(m["Body"])
            for m in cloud.client("sqs")
            .receive_message(QueueUrl=cloud.outputs[f"{task}FailureQueueUrl"], MaxNumberOfMessages=10)
            .get("Messages", [])
        ]
        show.equal(
            f"{message_type} with a body the {task.lower()} task refuses reaches that task's failure destination",
            [(r["requestPayload"]["id"], r["requestPayload"]["body"]) for r in refused],
            [(f"{task.lower()}-bad", REFUSED[message_type])],
        )
    show.equal(
        "an unknown type reaches the router's failure destination, as sent",
        [r["requestPayload"] for r in records],
        [unknown],
    )
    show.equal(
        "with the router's error",
        [r.get("responsePayload", {}).get("errorType") for r in records],
        ["UnknownMessageType"],
    )
