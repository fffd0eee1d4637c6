"""Regional API behind CloudFront: a catalog GET answered by the edge the second time, counted at the
API; POSTs, ``no-store`` answers and members' requests always reaching it; the TTL running out on the
virtual clock; an invalidation through the SDK; a direct call to the API refused.
"""

from __future__ import annotations

import hashlib

from scenarios import Show

PRODUCT = {
    "pk": {"S": "product#tea"},
    "names": {"M": {"en": {"S": "Green tea"}, "de": {"S": "Grüner Tee"}}},
    "price_cents": {"N": "1000"},
    "stock": {"N": "7"},
}
MEMBER_TOKEN = "tok-ann"  # noqa: S105 - a demo member's token, written to the table below


def run(show: Show) -> None:
    cloud = show.cloud
    table = cloud.outputs["TableName"]
    dynamodb = cloud.client("dynamodb")
    dynamodb.put_item(TableName=table, Item=PRODUCT)
    member = f"member#{hashlib.sha256(MEMBER_TOKEN.encode()).hexdigest()}"
    dynamodb.put_item(TableName=table, Item={"pk": {"S": member}, "discount_percent": {"N": "10"}})
    edge = cloud.distribution()
    function = cloud.function("Pattern/Catalog")

    def calls() -> int:
        return len(cloud.trace.find("invoke", target=function.name))

    first = edge.get("/products/tea", query={"currency": "USD"})
    second = edge.get("/products/tea", query={"currency": "USD"})
    show.that(
        "GET /products/tea?currency=USD twice: the second is the edge's (one invocation for two requests)",
        (first.status, first.header("X-Cache"), second.header("X-Cache"), calls())
        == (200, "Miss from cloudfront", "Hit from cloudfront", 1),
        f"{first.status} {first.header('X-Cache')} / {second.header('X-Cache')}; {calls()} invocation(s)",
    )
    show.equal("the price is converted: 10.00 EUR is 10.80 USD", first.json().get("price_cents"), 1080)
    german = edge.get(
        "/products/tea", query={"currency": "USD"}, headers={"Accept-Language": "de-CH,de;q=0.9"}
    )
    again = edge.get("/products/tea", query={"currency": "USD"}, headers={"Accept-Language": "de"})
    show.that(
        "Accept-Language de-CH,de;q=0.9 and de share one cached answer (normalized at the edge)",
        german.json().get("name") == "Grüner Tee" and again.header("X-Cache") == "Hit from cloudfront",
        f"{german.json().get('name')} / {again.header('X-Cache')}",
    )
    before = calls()
    for _ in range(2):
        edge.request("POST", "/quotes", json={"product_id": "tea", "quantity": 2})
        edge.get("/products/tea/stock")
        edge.get("/products/tea", headers={"Authorization": f"Bearer {MEMBER_TOKEN}"})
    show.equal(
        "POST /quotes, a no-store stock answer and a member's GET, twice each: 6 invocations",
        calls() - before,
        6,
    )
    show.equal(
        "the member's price (10% off) is answered private, no-store",
        edge.get("/products/tea", headers={"Authorization": f"Bearer {MEMBER_TOKEN}"}).header(
            "Cache-Control"
        ),
        "private, no-store",
    )
    cloud.advance(61)
    show.equal(
        "61 s later s-maxage=60 has run out: the edge asks again",
        edge.get("/products/tea", query={"currency": "USD"}).header("X-Cache"),
        "Miss from cloudfront",
    )
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "product#tea"}},
        UpdateExpression="SET price_cents = :p",
        ExpressionAttributeValues={":p": {"N": "1200"}},
    )
    stale = edge.get("/products/tea", query={"currency": "USD"}).json().get("price_cents")
    cloud.client("cloudfront").create_invalidation(
        DistributionId=cloud.outputs["DistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/products/*"]},
            "CallerReference": "price-change",
        },
    )
    fresh = edge.get("/products/tea", query={"currency": "USD"}).json().get("price_cents")
    show.that(
        "a price change shows after CreateInvalidation /products/*, not before",
        (stale, fresh) == (1080, 1296),
        f"before {stale}, after {fresh}",
    )
    show.equal(
        "the API's own 404 comes through the distribution",
        edge.get("/products/nope").status,
        404,
    )
    show.equal(
        "a direct call to the API's URL, without the origin secret: 403",
        cloud.api().get("/products/tea").status,
        403,
    )
