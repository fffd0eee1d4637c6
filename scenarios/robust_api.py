"""Robust API: every route answers from its own function over one table; the synchronous quote call
and the asynchronous shipping handoff both happen; a shipment that cannot happen is retried and kept."""

from __future__ import annotations

import json

from scenarios import Show

ORDER = {"customer_id": "c-1", "country": "DE", "weight_grams": 2500}


def run(show: Show) -> None:
    cloud = show.cloud
    api = cloud.api()
    created = api.post("/orders", json=ORDER)
    show.equal(
        "POST /orders stores an accepted order",
        (created.status, created.json().get("status")),
        (201, "accepted"),
    )
    order_id = created.json().get("order_id", "")
    show.equal(
        "its shipping was quoted by the internal service, synchronously",
        created.json().get("shipping"),
        {"zone": "europe", "cost_cents": 2099, "delivery_days": 7},
    )
    show.equal("GET /orders/{id} reads it from the shared table", api.get(f"/orders/{order_id}").status, 200)
    shipment = api.post(f"/orders/{order_id}/shipment")
    show.equal("POST /orders/{id}/shipment hands off and answers 202", shipment.status, 202)
    show.equal(
        "right after the 202 the order is still shipping",
        api.get(f"/orders/{order_id}").json().get("status"),
        "shipping",
    )
    cloud.drain()
    shipped = api.get(f"/orders/{order_id}").json()
    show.that(
        "the shipper, invoked asynchronously, marked it shipped",
        shipped.get("status") == "shipped" and str(shipped.get("tracking_number", "")).startswith("TRK"),
        shipped,
    )
    routes = {span.target for span in cloud.trace.find("invoke") if span.source == "api:Api"}
    show.equal("each route was served by its own function", len(routes), 3)

    show.equal("shipping it again is a 409", api.post(f"/orders/{order_id}/shipment").status, 409)
    refused = api.post("/orders", json={**ORDER, "country": "AQ"})
    show.equal("the quote service's refusal is the caller's 400", refused.status, 400)

    doomed = api.post("/orders", json={**ORDER, "country": "US"}).json().get("order_id", "")
    api.post(f"/orders/{doomed}/shipment")
    cloud.client("dynamodb").delete_item(
        TableName=cloud.outputs["TableName"], Key={"order_id": {"S": doomed}}
    )
    cloud.drain()
    messages = (
        cloud.client("sqs")
        .receive_message(QueueUrl=cloud.outputs["ShippingFailureQueueUrl"])
        .get("Messages", [])
    )
    records = [json.loads(m["Body"]) for m in messages]
    show.that(
        "an order that vanished before shipping reaches the failure queue after 3 attempts",
        [(r["requestPayload"], r["requestContext"]["approximateInvokeCount"]) for r in records]
        == [({"order_id": doomed}, 3)],
        records,
    )
