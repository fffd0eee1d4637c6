"""Simple web service: CRUD over HTTP through API Gateway to one function and its table."""

from __future__ import annotations

from scenarios import Show


def run(show: Show) -> None:
    api = show.cloud.api()
    created = api.post("/items", json={"name": "lamp", "price_cents": 1299})
    show.equal("POST /items creates an item", created.status, 201)
    item_id = created.json()["id"]
    show.equal("GET /items/{id} reads it back", api.get(f"/items/{item_id}").json()["name"], "lamp")
    updated = api.put(f"/items/{item_id}", json={"name": "desk lamp", "price_cents": 1499})
    show.equal("PUT /items/{id} replaces it", updated.json()["name"], "desk lamp")
    for n in range(2):
        api.post("/items", json={"name": f"bulb {n}", "price_cents": 199})
    first = api.get("/items", query={"limit": "2"}).json()
    rest = api.get("/items", query={"limit": "2", "next_token": first.get("next_token", "")}).json()
    show.equal("GET /items pages through all three", len(first["items"]) + len(rest["items"]), 3)
    bad = api.post("/items", json={"price_cents": -1})
    show.that(
        "a bad body gets 400 naming every problem",
        bad.status == 400 and "name" in bad.text and "price_cents" in bad.text,
        f"{bad.status} {bad.text}",
    )
    show.equal("DELETE /items/{id} removes it", api.delete(f"/items/{item_id}").status, 204)
    show.equal("GET of a deleted item is 404", api.get(f"/items/{item_id}").status, 404)
