"""Aggregator, as deployed: one GET answered from three internal services called at once; its latency
is the slowest call, not the sum; a service slower than the budget, failing or throttled is a
marked part of a 200, never a 500.

Each request starts 10 virtual seconds after the last, so the trace reads as a timeline.
"""

from __future__ import annotations

from scenarios import Show

PRODUCT = {
    "CatalogTableName": {"name": {"S": "Green tea"}, "category": {"S": "tea"}},
    "PricingTableName": {"price_cents": {"N": "350"}, "discount_percent": {"N": "10"}},
    "InventoryTableName": {"available": {"N": "3"}},
}
#: Virtual seconds each service takes to answer; the budget (and read timeout) is 1 s.
DURATIONS = {"CatalogService": 0.2, "PricingService": 0.5, "InventoryService": 0.3}


def run(show: Show) -> None:
    cloud = show.cloud
    for output, item in PRODUCT.items():
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs[output], Item={"product_id": {"S": "p-1"}, **item}
        )
    services = {construct: cloud.function(f"Pattern/{construct}") for construct in DURATIONS}
    for construct, seconds in DURATIONS.items():
        services[construct].duration = seconds
    aggregator = cloud.function("Pattern/Aggregator")
    api = cloud.api()

    def last_request() -> tuple[float, list]:
        """How long the last aggregator invocation lasted, and the service calls under it."""
        request = cloud.trace.find("invoke", target=aggregator.name)[-1]
        calls = [s for s in cloud.trace.spans if s.parent == request.id and s.kind == "invoke"]
        return request.ended - request.at, calls

    whole = api.get("/products/p-1")
    show.equal("GET /products/p-1 answers 200", whole.status, 200)
    parts = whole.json().get("parts", {})
    show.that(
        "one answer merges catalog, pricing and inventory",
        parts.get("catalog", {}).get("name") == "Green tea"
        and parts.get("pricing", {}).get("price_cents") == 315
        and parts.get("inventory", {}).get("in_stock") is True,
        parts,
    )
    took, calls = last_request()
    show.that(
        "the three service calls start together, under the request",
        len(calls) == 3 and len({call.at for call in calls}) == 1,
        [(call.target, call.at) for call in calls],
    )
    show.that(
        "the answer took as long as the slowest call (0.5 s), not the sum (1 s)",
        abs(took - max(DURATIONS.values())) < 1e-9,
        f"took {took:g} s",
    )

    cloud.advance(10)
    show.equal("an unknown product is 404", api.get("/products/p-9").status, 404)

    cloud.advance(10)
    services["PricingService"].duration = 2.0
    slow = api.get("/products/p-1")
    body = slow.json()
    show.equal("with pricing slower than the budget the answer is still 200", slow.status, 200)
    show.equal(
        "pricing is marked timeout, the other parts are there",
        (
            body.get("errors", {}).get("pricing", {}).get("reason"),
            body.get("parts", {}).get("catalog") is not None,
        ),
        ("timeout", True),
    )
    took, _ = last_request()
    show.that("the answer waited the 1 s budget, no longer", abs(took - 1.0) < 1e-9, f"took {took:g} s")
    services["PricingService"].duration = DURATIONS["PricingService"]

    cloud.advance(10)
    cloud.client("dynamodb").delete_table(TableName=cloud.outputs["PricingTableName"])
    partial = api.get("/products/p-1")
    body = partial.json()
    show.equal("with the pricing store down the answer is still 200", partial.status, 200)
    show.equal(
        "pricing is marked failed, the other parts are there",
        (
            body.get("errors", {}).get("pricing", {}).get("reason"),
            body.get("parts", {}).get("catalog") is not None,
        ),
        ("failed", True),
    )

    cloud.advance(10)
    services["InventoryService"].reserved_concurrency = 0
    throttled = api.get("/products/p-1").json()
    show.equal(
        "a throttled inventory service is marked unavailable",
        throttled.get("errors", {}).get("inventory", {}).get("reason"),
        "unavailable",
    )
    cloud.advance(10)
    services["CatalogService"].reserved_concurrency = 0
    nothing = api.get("/products/p-1")
    show.equal("with no service answering it is 503, not 500", nothing.status, 503)
