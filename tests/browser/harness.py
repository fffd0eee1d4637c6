"""Debian's Chromium driven by Playwright against a pattern served on loopback: what the browser
tests and ``make screenshots`` share.

Playwright never downloads a browser here: it launches the ``chromium`` on the PATH (``make
chromium`` installs Debian's). The pattern is served in-process by :class:`LocalServer`, as
``python -m localcloud serve`` serves it, on free loopback ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from localcloud.server import LocalServer

#: Flags for a browser that talks to loopback only: no sandbox as root, no proxy, no phoning home.
CHROMIUM_ARGS = (
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
)


def chromium_path() -> str | None:
    return shutil.which("chromium")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser; a clear error when Debian's ``chromium`` is not installed."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise FileNotFoundError("no chromium on PATH: `make chromium` installs Debian's")
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=args, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def site_url(server: LocalServer) -> str:
    """The URL of the served stack's one distribution, as ``serve`` prints it first."""
    [door] = [door for door in server.front_doors if door.kind == "distribution"]
    return door.url.rstrip("/")


@dataclass
class Console:
    """What the page said it got wrong: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        return page


def served_with_a_lamp(cloud_assembly: Any, pattern_id: str) -> Iterator[LocalServer]:
    """A pattern built on the simple web service, served with one item stored, each answered
    request recorded in ``served.answered`` as ``(method, path, status)``."""
    from tests.e2e.fuzz import pattern_cloud

    for cloud in pattern_cloud(cloud_assembly, pattern_id):
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["TableName"],
            Item={"id": {"S": "lamp-1"}, "name": {"S": "desk lamp"}, "price_cents": {"N": "1299"}},
        )
        with LocalServer(cloud, real_time=False) as served:
            served.answered = []
            served.on_request = lambda request, response, _: (
                request is not None
                and served.answered.append((request.method, request.path, response.status))
            )
            served.start()
            yield served
