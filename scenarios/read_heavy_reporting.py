"""Read heavy reporting: a report read twice costs one database query; a recorded sale's event
clears the cached report; the TTL ends a cached report on the virtual clock; an announcement the
invalidator cannot act on ends in its failure queue."""

from __future__ import annotations

import json

from scenarios import Show

TTL = 300


def run(show: Show) -> None:
    cloud = show.cloud

    def read(region: str) -> dict:
        return cloud.invoke("Pattern/Reader", {"region": region})["Payload"]

    first, second = read("eu"), read("eu")
    show.equal(
        "the first read queries PostgreSQL, the second is served from the cache",
        (first.get("source"), second.get("source")),
        ("database", "cache"),
    )
    show.equal("both answer the same report", second.get("report"), first.get("report"))
    recorded = cloud.invoke("Pattern/Recorder", {"region": "eu", "amount": "42.00"})["Payload"]
    show.equal("a sale is recorded", recorded.get("statusCode"), 201)
    cloud.drain()
    invalidations = cloud.trace.find("invoke", target=cloud.function("Pattern/Invalidator").name)
    show.equal("its SaleRecorded event invokes the invalidator once", len(invalidations), 1)
    fresh = read("eu")
    show.equal(
        "the next read is fresh, from the database",
        (fresh.get("source"), fresh.get("report")),
        ("database", {"region": "eu", "sales": 1, "total": "42.00"}),
    )
    cloud.advance(TTL)
    show.equal("after the TTL the cached report is gone", read("eu").get("source"), "database")
    refused = cloud.invoke("Pattern/Recorder", {"region": "eu", "amount": "-5"})["Payload"]
    show.equal("a bad amount is refused with 400", refused.get("statusCode"), 400)

    # An announcement the invalidator cannot act on (no region) is retried, then kept.
    cloud.client("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.outputs["EventBusName"],
                "Source": "read_heavy_reporting.sales",
                "DetailType": "SaleRecorded",
                "Detail": "{}",
            }
        ]
    )
    cloud.drain()
    messages = (
        cloud.client("sqs")
        .receive_message(QueueUrl=cloud.physical_id("Pattern/InvalidationFailures"), MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    records = [json.loads(message["Body"]) for message in messages]
    show.equal(
        "it lands in the failure queue after Lambda's 2 retries, with its error",
        [
            (r["requestContext"]["approximateInvokeCount"], r["responsePayload"].get("errorType"))
            for r in records
        ],
        [(3, "BadInput")],
    )
