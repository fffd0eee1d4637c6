"""Scalable webhook: 202 at once, a queue absorbs the burst, a throttled worker stores each webhook once."""

from __future__ import annotations

import json

from scenarios import Show


def run(show: Show) -> None:
    cloud, api = show.cloud, show.cloud.api()
    accepted = [
        api.post("/webhooks", json={"id": f"evt_{n}", "type": "payment.succeeded", "data": {"n": n}}).status
        for n in range(25)
    ]
    show.equal("every webhook is accepted with 202", set(accepted), {202})
    api.post("/webhooks", json={"id": "evt_1", "type": "payment.succeeded", "data": {"n": "again"}})
    refused = api.post("/webhooks", body="{not json", headers={"Content-Type": "application/json"})
    show.equal("a body that is not JSON is refused with 400", refused.status, 400)
    cloud.drain()
    table = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    show.equal("the worker stores each webhook once, the duplicate included", len(table), 25)
    worker = cloud.function("Pattern/Worker")
    peak = max(
        cloud.invoker.concurrency_at(worker, span.at)
        for span in cloud.trace.find("invoke", target=worker.name)
    )
    show.that("the worker never runs more than 2 at a time", peak <= 2, f"peak concurrency {peak}")
    cloud.client("sqs").send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody="{poison")
    cloud.drain()
    dead = (
        cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"]).get("Messages", [])
    )
    show.equal("a poison message ends in the dead-letter queue", [m["Body"] for m in dead], ["{poison"])
    show.that("nothing else was lost", json.dumps(dead).count("evt_") == 0, dead)
