"""Step Functions CRUD: full CRUD through API Gateway and one Express workflow, no Lambda; a
missing item is a 404 and an invalid body a 400."""

from __future__ import annotations

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    api = cloud.api()
    cup = {"name": "espresso cup", "price": 7.5}

    stored = api.put("/items/cup-1", json=cup)
    show.equal(
        "PUT stores the item and answers it", (stored.status, stored.json()), (200, {"id": "cup-1", **cup})
    )
    show.equal("GET reads it back", api.get("/items/cup-1").json(), {"id": "cup-1", **cup})
    api.put("/items/cup-1", json={**cup, "price": 8})
    show.equal("PUT again replaces it", api.get("/items/cup-1").json()["price"], 8)
    deleted = api.delete("/items/cup-1")
    show.equal("DELETE removes it", (deleted.status, deleted.json()), (200, {"deleted": "cup-1"}))

    missing = api.get("/items/cup-1")
    show.equal("a missing item is a 404", (missing.status, missing.json()["error"]), (404, "NotFound"))
    show.equal("deleting a missing item is a 404 too", api.delete("/items/cup-1").status, 404)
    invalid = api.put("/items/cup-2", json={"name": "cup", "price": "cheap"})
    show.equal(
        "API Gateway answers an item without a numeric price with a 400 naming the field",
        (invalid.status, "price" in invalid.json()["message"]),
        (400, True),
    )
    api.put("/items/victim", json=cup)
    attack = api.get("/items/victim%22%2C%22method%22%3A%22DELETE")
    show.equal(
        "an id that tries to rewrite the execution input is only an id: not found, and nothing deleted",
        (attack.status, api.get("/items/victim").status),
        (404, 200),
    )
    show.equal(
        "every request API Gateway let in was one synchronous Express execution, and no Lambda ran",
        (len(cloud.trace.find("sync-execution")), len(cloud.trace.find("invoke"))),
        (10, 0),
    )
