"""Strangler: the migrated route answered by Lambda, every other route by the legacy API, with the
method, path, query and body passed through unchanged, and a path traversal refused before it.

The legacy API is a small echo server on localhost (:class:`LegacyServer`); :func:`parameters`
starts it and gives the stack parameters that point the facade at it. A runner starts the
cloud inside it::

    with scenarios.strangler.parameters() as values:
        cloud = LocalCloud(artifact, parameters=values)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from scenarios import Show

SERVED_BY = "legacy"


class LegacyServer:
    """The legacy API being strangled: answers every request with what reached it, as JSON.

    ``requests`` lists what it received, so a test can tell that a migrated route never got here.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _echo_handler(self.requests))
        # ``shutdown`` waits for the serving loop's next poll: at the default half second, stopping
        # the server was most of a strangler test's time.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="legacy-api", daemon=True
        )

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: the value of the stack's ``LegacyApiHost`` parameter."""
        address, port = self._server.server_address[:2]
        return f"{address}:{port}"

    def __enter__(self) -> LegacyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering, as a legacy API in an outage would; stopping twice is harmless."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def _echo_handler(received: list[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Echo(BaseHTTPRequestHandler):
        def _echo(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            seen = {
                "served_by": SERVED_BY,
                "method": self.command,
                "path": url.path,
                "query": url.query,
                "body": self.rfile.read(length).decode("utf-8", errors="replace"),
                "headers": {name.lower(): value for name, value in self.headers.items()},
            }
            received.append(seen)
            payload = json.dumps(seen).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _echo

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the cloud's trace already shows each call."""

    return Echo


@contextmanager
def parameters() -> Iterator[dict[str, str]]:
    """The stack parameters of this scenario's cloud: the legacy API, served here while it runs."""
    with LegacyServer() as legacy:
        yield {"LegacyApiScheme": "http", "LegacyApiHost": legacy.host}


def run(show: Show) -> None:
    cloud = show.cloud
    # Anywhere else is a real host: send it nothing.
    if not show.that(
        "the facade points at the legacy server this scenario runs",
        cloud.outputs["LegacyUrl"].startswith("http://127.0.0.1:"),
        f"LegacyUrl is {cloud.outputs['LegacyUrl']}: start the cloud inside scenarios.strangler.parameters() "
        "and pass what it yields as LocalCloud(..., parameters=...)",
    ):
        return
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["ProductsTableName"],
        Item={"id": {"S": "p-1"}, "name": {"S": "teapot"}, "price_cents": {"N": "1800"}},
    )
    api = cloud.api()

    product = api.get("/products/p-1")
    show.equal(
        "the migrated route GET /products/{id} is answered by the new service",
        (product.status, product.json()),
        (200, {"id": "p-1", "name": "teapot", "price_cents": 1800}),
    )
    show.equal("an unknown product is the new service's 404", api.get("/products/p-9").status, 404)

    order = api.post(
        "/orders", query={"channel": "web", "tag": ["a", "b"]}, json={"sku": "p-1", "quantity": 2}
    )
    echoed = _echo(order)
    show.equal("POST /orders is answered by the legacy API", echoed.get("served_by"), SERVED_BY)
    show.equal(
        "method, path, query and body reach it unchanged",
        (echoed.get("method"), echoed.get("path"), echoed.get("query"), echoed.get("body")),
        ("POST", "/orders", "channel=web&tag=a&tag=b", json.dumps({"sku": "p-1", "quantity": 2})),
    )
    for method, path in (
        ("DELETE", "/products/p-1"),
        ("GET", "/products"),
        ("GET", "/products/p-1/reviews"),
        ("GET", "/"),
    ):
        echoed = _echo(api.request(method, path))
        show.equal(
            f"{method} {path}, next to the migrated route, still reaches the legacy API",
            (echoed.get("served_by"), echoed.get("method"), echoed.get("path")),
            (SERVED_BY, method, path),
        )

    before = len(cloud.trace.spans)
    traversal = api.get("/orders/a%2F..%2Fadmin")
    show.equal(
        "a path traversal (/orders/a%2F..%2Fadmin) is refused by the stage's web ACL",
        (traversal.status, traversal.text),
        (403, json.dumps({"message": "Forbidden"})),
    )
    show.that(
        "and never reaches the legacy API",
        not any(span.kind == "integrate" for span in cloud.trace.spans[before:]),
        [f"{span.kind} {span.detail}" for span in cloud.trace.spans[before:]],
    )


def _echo(response: Any) -> dict[str, Any]:
    """What the legacy server echoed, or what came back instead (a gateway error, say)."""
    if response.status != 200:
        return {"status": response.status, "body": response.text}
    return response.json()
