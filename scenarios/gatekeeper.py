"""Gatekeeper: 401 without a token, 403 without the permission, 200 with it, the principal reaching
the backend, and a revoked principal let in by the cached policy until its TTL passes."""

from __future__ import annotations

from scenarios import Show

#: The stack's authorizer caches a policy this long (the construct's default).
CACHE_TTL_SECONDS = 300


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run(show: Show) -> None:
    cloud = show.cloud
    api = cloud.api()
    root = cloud.invoke(
        cloud.outputs["AdminFunctionName"], {"principal_id": "ops", "permissions": ["* /admin/*"]}
    )
    show.equal(
        "an operator creates the first admin by invoking the admin function",
        root["Payload"]["statusCode"],
        201,
    )
    admin = bearer(root["Payload"]["token"])

    def add(principal_id: str, *permissions: str) -> str:
        answer = api.post(
            "/admin/principals",
            json={"principal_id": principal_id, "permissions": list(permissions)},
            headers=admin,
        )
        return answer.json()["token"]

    reader = bearer(add("reader", "GET /documents"))
    writer = bearer(add("writer", "GET /documents", "GET /documents/*", "POST /documents"))
    shown = api.get("/admin/principals/reader", headers=admin)
    show.equal(
        "the admin API shows a principal's permissions",
        (shown.status, shown.json().get("permissions")),
        (200, ["GET /documents"]),
    )

    show.equal("no token: 401", api.get("/documents").status, 401)
    forged = bearer("writer." + "A" * 43)
    show.equal("a token the service never issued: 401", api.get("/documents", headers=forged).status, 401)
    show.equal(
        "a principal without the permission: 403",
        api.post("/documents", json={"title": "x"}, headers=reader).status,
        403,
    )
    created = api.post("/documents", json={"title": "plan"}, headers=writer)
    show.equal("a principal with the permission: 201", created.status, 201)
    show.equal("the authorizer's principal reaches the backend", created.json().get("owner"), "writer")
    read = api.get(f"/documents/{created.json().get('id')}", headers=writer)
    show.equal("its owner reads the document back", (read.status, read.json().get("title")), (200, "plan"))
    show.equal(
        "a non-admin cannot add principals: 403",
        api.post(
            "/admin/principals", json={"principal_id": "x", "permissions": ["GET /documents"]}, headers=writer
        ).status,
        403,
    )

    show.equal(
        "revoking the writer answers 200", api.delete("/admin/principals/writer", headers=admin).status, 200
    )
    show.equal(
        "revoked, the cached policy still lets it in", api.get("/documents", headers=writer).status, 200
    )
    cloud.advance(CACHE_TTL_SECONDS + 1)
    show.equal("once the cache TTL has passed: 403", api.get("/documents", headers=writer).status, 403)
