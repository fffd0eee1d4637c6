"""Single page app: the page, its hashed assets and the API all answer through one distribution."""

from __future__ import annotations

import re

from scenarios import Show

#: The hashed asset names ``index.html`` names (``/app.3f2a9c1b.js``).
ASSET = re.compile(r"""["'](/[\w/-]+\.[0-9a-f]{8}\.\w+)["']""")


def run(show: Show) -> None:
    site = show.cloud.distribution()
    page = site.get("/")
    show.that(
        "GET / serves index.html from the private bucket, revalidated on every load",
        page.status == 200 and b'id="view"' in page.body and page.header("Cache-Control") == "no-cache",
        f"{page.status} {page.header('Cache-Control')}",
    )
    assets = ASSET.findall(page.body.decode())
    answers = [site.get(path) for path in assets]
    show.that(
        "its hashed script and stylesheet come through the distribution, cached for a year, immutable",
        len(assets) == 2
        and all(a.status == 200 and "immutable" in (a.header("Cache-Control") or "") for a in answers),
        [(path, a.status, a.header("Cache-Control")) for path, a in zip(assets, answers, strict=True)],
    )
    created = site.request("POST", "/items", json={"name": "lamp", "price_cents": 1299})
    show.equal("POST /items through the distribution reaches the API", created.status, 201)
    item_id = created.json()["id"]
    listed = site.get("/items").json()["items"]
    show.equal("GET /items lists it, same origin as the page", [i["id"] for i in listed], [item_id])
    deep = site.get(f"/view/{item_id}")
    show.that(
        "a deep link names no object: the 403 becomes index.html with 200 (custom error response)",
        deep.status == 200 and deep.body == page.body,
        f"{deep.status} {deep.body[:80]!r}",
    )
    missing = site.get("/items/no-such-item")
    show.that(
        "the API's own 404 comes through unchanged, as JSON",
        missing.status == 404 and missing.json()["message"] == "item no-such-item not found",
        f"{missing.status} {missing.body[:120]!r}",
    )
    bad = site.request("POST", "/items", json={"price_cents": -1})
    show.equal("a bad body is API Gateway's 400, through the distribution", bad.status, 400)
    show.equal(
        "DELETE /items/{id} through the distribution removes it",
        site.request("DELETE", f"/items/{item_id}").status,
        204,
    )
    show.equal("and its deep link's API call is then a 404", site.get(f"/items/{item_id}").status, 404)
