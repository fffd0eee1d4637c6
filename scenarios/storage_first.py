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
