"""Storage-first: API Gateway stores the request in SQS (VTL, no Lambda); a processor works through it."""

from __future__ import annotations

import json

from patterns.registry import ROOT
from scenarios import Show

#: The largest body the pattern stores, from the contract its construct and processor share.
MAX_BODY_BYTES = json.loads((ROOT / "functions" / "storage_first" / "contract.json").read_text())[
    "max_body_bytes"
]


def run(show: Show) -> None:
    cloud, api = show.cloud, show.cloud.api()
    stored = api.post("/requests", json={"type": "order.placed", "payload": {"order_id": "o-1"}})
    show.equal("a valid request is stored at once: 202", stored.status, 202)
    request_id = stored.json().get("requestId")
    refused = api.post("/requests", json={"type": "order.placed"})
    show.equal("a body failing the model is refused by API Gateway: 400", refused.status, 400)
    too_large = api.post(
        "/requests", json={"type": "order.placed", "payload": {"note": "x" * MAX_BODY_BYTES}}
    )
    show.equal(
        "a body larger than the queue takes is refused by SQS and answered 413 naming the limit",
        (too_large.status, "262,144" in too_large.json()["message"]),
        (413, True),
    )
    cloud.drain()
    processed = cloud.client("dynamodb").scan(TableName=cloud.outputs["ProcessedTableName"])["Items"]
    show.equal(
        "the processor stored the request under API Gateway's request id",
        [item["request_id"]["S"] for item in processed],
        [request_id],
    )
    table = cloud.outputs["ProcessedTableName"]
    cloud.client("dynamodb").delete_table(TableName=table)
    kept = api.post("/requests", json={"type": "order.placed", "payload": {"order_id": "o-2"}})
    show.equal("with the processor's store down, the API still accepts: 202", kept.status, 202)
    cloud.drain()
    dead = (
        cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"]).get("Messages", [])
    )
    show.that(
        "the request waits in the dead-letter queue instead of being lost",
        [json.loads(m["Body"])["payload"] for m in dead] == [{"order_id": "o-2"}],
        dead,
    )


def run_dynamodb(show: Show) -> None:
    """The DynamoDB variant: the API's PutItem is the store; the table's stream feeds the processor."""
    cloud, api = show.cloud, show.cloud.api()
    stored = api.post("/requests", json={"type": "order.placed", "payload": {"order_id": "o-1"}})
    show.equal("a valid request is stored in the requests table at once: 202", stored.status, 202)
    refused = api.post("/requests", json={"type": "unknown.kind", "payload": {}})
    show.equal("a type outside the contract is refused by API Gateway: 400", refused.status, 400)
    cloud.client("dynamodb").put_item(  # another writer of the requests table, past the API's model
        TableName=cloud.outputs["RequestsTableName"],
        Item={
            "request_id": {"S": "bad"},
            "body": {"S": json.dumps({"type": "unknown.kind", "payload": {}})},
            "received_at": {"N": "1767225600000"},
        },
    )
    cloud.drain()
    show.equal(
        "the stream brought the stored request to the processor, written once",
        _processed(cloud),
        [stored.json().get("requestId")],
    )
    failures = _messages(cloud, "DeadLetterQueueUrl")
    show.that(
        "a record the processor refuses reaches the on-failure queue with its stream position",
        [(f["requestContext"]["condition"], "DDBStreamBatchInfo" in f) for f in failures]
        == [("RetryAttemptsExhausted", True)],
        failures,
    )


def run_eventbridge(show: Show) -> None:
    """The EventBridge variant: the API's PutEvents is the store; a rule feeds the processor."""
    from patterns.storage_first import EVENT_DETAIL_TYPE, EVENT_SOURCE  # the events the API puts

    cloud, api = show.cloud, show.cloud.api()
    stored = api.post("/requests", json={"type": "order.placed", "payload": {"order_id": "o-1"}})
    show.equal("a valid request is put on the bus at once: 202", stored.status, 202)
    refused = api.post("/requests", json={"type": "order.placed"})
    show.equal("a body failing the model is refused by API Gateway: 400", refused.status, 400)
    cloud.client("events").put_events(  # another producer on the bus, past the API's model
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "EventBusName": cloud.outputs["EventBusName"],
                "Detail": json.dumps({"request_id": "bad", "body": {"type": "unknown.kind", "payload": {}}}),
            }
        ]
    )
    cloud.drain()
    show.equal(
        "the rule brought the request to the processor, written once",
        _processed(cloud),
        [stored.json().get("requestId")],
    )
    dead = _messages(cloud, "DeadLetterQueueUrl")
    show.that(
        "an event the processor refuses reaches the dead-letter queue after Lambda's retries",
        [f["detail"]["request_id"] for f in dead] == ["bad"],
        dead,
    )


def _processed(cloud) -> list[str]:
    items = cloud.client("dynamodb").scan(TableName=cloud.outputs["ProcessedTableName"])["Items"]
    return sorted(item["request_id"]["S"] for item in items)


def _messages(cloud, output: str) -> list[dict]:
    found = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs[output], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]
