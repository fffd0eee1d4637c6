"""Internal handoff: 202 at once, the work later; a duplicate applied once; a failure kept with its event."""

from __future__ import annotations

import json

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    balances = cloud.outputs["BalancesTableName"]
    cloud.client("dynamodb").put_item(
        TableName=balances, Item={"customer_id": {"S": "c-1"}, "points": {"N": "0"}}
    )
    award = {"order_id": "o-1", "customer_id": "c-1", "points": 50}

    answers = [cloud.invoke("Pattern/Requester", award)["Payload"] for _ in range(2)]
    show.equal("the requester is answered 202 at once, twice", [a["statusCode"] for a in answers], [202, 202])
    cloud.drain()
    item = cloud.client("dynamodb").get_item(TableName=balances, Key={"customer_id": {"S": "c-1"}})["Item"]
    show.equal("the duplicate handoff is processed once", item["points"]["N"], "50")

    refused = cloud.invoke("Pattern/Requester", {"order_id": "o-2", "customer_id": "c-1", "points": 0})
    show.equal("a bad award is refused with 400 and never handed off", refused["Payload"]["statusCode"], 400)

    failing = {"order_id": "o-3", "customer_id": "c-404", "points": 5}
    cloud.invoke("Pattern/Requester", failing)
    cloud.drain()
    worker = cloud.function("Pattern/Worker").name
    attempts = [s.at for s in cloud.trace.find("invoke", target=worker) if s.outcome != "ok"]
    show.equal(
        "a failing event is tried once, then retried after 1 and 2 more minutes",
        [at - attempts[0] for at in attempts],
        [0, 60, 180],
    )
    messages = (
        cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["FailureQueueUrl"]).get("Messages", [])
    )
    records = [json.loads(m["Body"]) for m in messages]
    show.equal(
        "then it reaches the failure queue with its original payload",
        [r["requestPayload"] for r in records],
        [failing],
    )
    show.equal(
        "and the worker's own error, its idempotency claim released after each attempt",
        [r.get("responsePayload", {}).get("errorType") for r in records],
        ["CustomerNotEnrolled"],
    )
