"""The robust API offline, through API Gateway: every route answers from its own function over the
shared table, the synchronous quote call and the asynchronous shipping handoff both happen, and a
shipment that cannot happen ends in the failure queue after Lambda's retries, on the virtual clock."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

ORDER = {"customer_id": "c-1", "country": "DE", "weight_grams": 2500}


@pytest.fixture
def cloud(local_cloud):
    return local_cloud("robust_api")


def name(cloud, construct: str) -> str:
    return cloud.function(f"Pattern/{construct}").name


def placed(cloud, **changes) -> str:
    answer = cloud.api().post("/orders", json={**ORDER, **changes})
    assert answer.status == 201, answer.text
    return answer.json()["order_id"]


def test_every_route_answers_from_its_own_function_over_one_table(cloud):
    api = cloud.api()
    created = api.post("/orders", json=ORDER)
    assert created.status == 201
    order = created.json()
    assert order["status"] == "accepted"
    assert order["shipping"] == {"zone": "europe", "cost_cents": 2099, "delivery_days": 7}
    read = api.get(f"/orders/{order['order_id']}")
    assert (read.status, read.json()) == (200, order)
    shipment = api.post(f"/orders/{order['order_id']}/shipment")
    assert (shipment.status, shipment.json()) == (202, {"order_id": order["order_id"], "status": "shipping"})

    served_by = {span.target for span in cloud.trace.find("invoke") if span.source == "api:Api"}
    assert served_by == {name(cloud, "CreateOrder"), name(cloud, "GetOrder"), name(cloud, "ShipOrder")}
    [stored] = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    assert stored["order_id"] == {"S": order["order_id"]}
    assert cloud.trace.find("denied") == []


def test_create_calls_the_quote_service_synchronously_within_the_request(cloud):
    placed(cloud)
    [request] = [s for s in cloud.trace.find("invoke", target=name(cloud, "CreateOrder"))]
    [quote] = cloud.trace.find("invoke", target=name(cloud, "QuoteService"))
    assert quote.parent == request.id and quote.source == name(cloud, "CreateOrder")
    assert quote.outcome == "ok"


def test_the_shipping_side_effect_happens_after_the_202(cloud):
    order_id = placed(cloud)
    api = cloud.api()
    assert api.post(f"/orders/{order_id}/shipment").status == 202
    assert api.get(f"/orders/{order_id}").json()["status"] == "shipping", (
        "the 202 did not wait for the shipper"
    )
    cloud.drain()
    shipped = api.get(f"/orders/{order_id}").json()
    assert shipped["status"] == "shipped" and shipped["tracking_number"].startswith("TRK")
    [enqueue] = cloud.trace.find("enqueue", target=name(cloud, "Shipper"))
    [run] = cloud.trace.find("invoke", target=name(cloud, "Shipper"))
    assert enqueue.source == name(cloud, "ShipOrder") and run.parent == enqueue.id and run.outcome == "ok"


def test_the_quote_services_refusal_is_a_400_and_nothing_is_stored(cloud):
    answer = cloud.api().post("/orders", json={**ORDER, "country": "AQ"})
    assert (answer.status, answer.json()["message"]) == (400, "country: we do not ship to AQ")
    invalid = cloud.api().post("/orders", json={"country": "DE", "weight_grams": 0})
    assert invalid.status == 400, "API Gateway's model refuses it before any function runs"
    assert len(cloud.trace.find("invoke", target=name(cloud, "CreateOrder"))) == 1
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []


def test_a_throttled_quote_service_is_a_503_and_nothing_is_stored(cloud):
    cloud.function("Pattern/QuoteService").reserved_concurrency = 0
    busy = cloud.api().post("/orders", json=ORDER)
    assert (busy.status, busy.json()["message"]) == (
        503,
        "the shipping quote service is busy; try again shortly",
    )
    assert cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"] == []


def test_shipping_twice_is_409_and_an_unknown_order_404(cloud):
    order_id = placed(cloud)
    api = cloud.api()
    assert api.post(f"/orders/{order_id}/shipment").status == 202
    again = api.post(f"/orders/{order_id}/shipment")
    assert again.status == 409 and "is shipping" in again.json()["message"]
    assert api.post("/orders/nope/shipment").status == 404
    assert api.get("/orders/nope").status == 404
    cloud.drain()
    assert len(cloud.trace.find("invoke", target=name(cloud, "Shipper"))) == 1, "handed off once"


def test_a_shipment_that_cannot_happen_is_retried_then_kept_with_its_error(cloud):
    order_id = placed(cloud, country="US", weight_grams=100)
    assert cloud.api().post(f"/orders/{order_id}/shipment").status == 202
    # The order vanishes before the shipper runs (a purge, a bad migration): it cannot ship.
    cloud.client("dynamodb").delete_item(
        TableName=cloud.outputs["TableName"], Key={"order_id": {"S": order_id}}
    )
    cloud.drain()
    attempts = cloud.trace.find("invoke", target=name(cloud, "Shipper"))
    assert [(a.at, a.outcome) for a in attempts] == [
        (0, "error: CannotShip"),
        (60, "error: CannotShip"),
        (180, "error: CannotShip"),
    ]
    [message] = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["ShippingFailureQueueUrl"])[
        "Messages"
    ]
    record = json.loads(message["Body"])
    assert record["requestPayload"] == {"order_id": order_id}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert (
        record["responsePayload"]["errorMessage"]
        == f"order {order_id} is missing; only a shipping order can ship"
    )


def test_every_grant_is_one_a_route_uses(cloud):
    order_id = placed(cloud)
    cloud.api().get(f"/orders/{order_id}")
    cloud.api().post(f"/orders/{order_id}/shipment")
    cloud.drain()
    unused = [line for line in cloud.unused_grants() if "dynamodb:" in line or "lambda:" in line]
    assert unused == [], "every table and invoke grant of every function is one its route needs"
