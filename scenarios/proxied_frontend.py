"""Proxied front and back ends: the page and the API through one distribution, the API's calls on
the page's own origin (no preflight), its errors unchanged, deep links served the page."""

from __future__ import annotations

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    site = cloud.distribution()
    page = site.get("/")
    show.that(
        "GET / serves index.html from the private bucket",
        page.status == 200 and b'id="view"' in page.body,
        f"{page.status} {page.header('Content-Type')}",
    )
    created = site.request("POST", "/api/items", json={"name": "teapot", "price_cents": 2450})
    show.equal(
        "a JSON POST /api/items from the page's origin reaches the API (/prod/items)", created.status, 201
    )
    item_id = created.json().get("id")
    show.equal(
        "GET /api/items/{id} answers it",
        site.get(f"/api/items/{item_id}").json().get("name"),
        "teapot",
    )
    listed = site.get("/api/items").json().get("items", [])
    show.equal("GET /api/items lists it, as the page does", [i.get("id") for i in listed], [item_id])
    missing = site.get("/api/items/nope")
    show.that(
        "the API's 404 comes through as the API wrote it, not as the page",
        missing.status == 404 and missing.json() == {"statusCode": 404, "message": "item nope not found"},
        f"{missing.status} {missing.body[:80]!r}",
    )
    bad = site.request("POST", "/api/items", json={"price_cents": -1})
    show.that(
        "a bad body is API Gateway's 400 with its message",
        bad.status == 400 and "name" in bad.json().get("message", ""),
        f"{bad.status} {bad.body[:80]!r}",
    )
    unrouted = site.request("DELETE", "/api/items")
    show.that(
        "a route the API lacks is API Gateway's 403, not index.html (no custom error responses)",
        unrouted.status == 403 and unrouted.header("Content-Type") == "application/json",
        f"{unrouted.status} {unrouted.header('Content-Type')}",
    )
    deep = site.get(f"/item/{item_id}")
    show.that(
        "a deep link is the page, served by the bucket behavior's function with 200",
        deep.status == 200 and deep.body == page.body,
        f"{deep.status}",
    )
    show.equal(
        "DELETE /api/items/{id} through the distribution removes it",
        site.request("DELETE", f"/api/items/{item_id}").status,
        204,
    )
    show.equal("and it is then the API's 404", site.get(f"/api/items/{item_id}").status, 404)
    show.equal(
        "no request reached the API as OPTIONS",
        [s.detail for s in cloud.trace.find("request") if s.detail.startswith("OPTIONS")],
        [],
    )
