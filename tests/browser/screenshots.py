"""``make screenshots``: each SPA row's page, served offline and opened in Chromium, saved as the
image its docs page shows (``docs/patterns/img/<id>.png``), with the browser tests' harness.

Run from the repository root::

    python -m tests.browser.screenshots [pattern ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from localcloud.server import LocalServer
from patterns.registry import ROOT, get
from tests.browser.harness import Console, chromium, site_url

IMAGES = ROOT / "docs" / "patterns" / "img"
#: Items with fixed ids, so the list (a table scan, ordered by id hash) looks the same every time.
SAMPLE_ITEMS = (("a1", "Desk lamp", 1299), ("b2", "Teapot", 2450), ("c3", "Notebook, A5", 399))


def _seed_spa(cloud: LocalCloud) -> None:
    for item_id, name, cents in SAMPLE_ITEMS:
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["TableName"],
            Item={"id": {"S": item_id}, "name": {"S": name}, "price_cents": {"N": str(cents)}},
        )


#: The secured SPA's user, and the notes they wrote a minute apart (listed oldest first).
SAMPLE_USER = ("ann@example.com", "Correct-horse-battery-9")
SAMPLE_NOTES = ("Book the train to Lyon", "Buy green tea", "Call the plumber about the boiler")


def _seed_secured_spa(cloud: LocalCloud) -> None:
    from scenarios.secured_spa import sign_up_and_in

    token = sign_up_and_in(cloud, *SAMPLE_USER)
    for text in SAMPLE_NOTES:
        cloud.advance(60)
        cloud.distribution().request(
            "POST", "/api/notes", json={"text": text}, headers={"Authorization": token}
        )


def _sign_in(page: Any) -> None:
    page.fill("#sign-in input[name=email]", SAMPLE_USER[0])
    page.fill("#sign-in input[name=password]", SAMPLE_USER[1])
    page.click("#sign-in button")


#: Per pattern: how to seed its stack, and the page and element to wait for before the picture.
SHOTS: dict[str, tuple[Callable[[LocalCloud], None], str, str]] = {
    "spa": (_seed_spa, "/", "#count"),
    "secured_spa": (_seed_secured_spa, "/", "#count"),
    "proxied_frontend": (_seed_spa, "/", "#count"),
}
#: What a person does on the page before the picture (sign in), where the page needs it.
ACTS: dict[str, Callable[[Any], None]] = {"secured_spa": _sign_in}


def screenshot(pattern_id: str, assembly: str, out: Path, browser: Any) -> list[str]:
    """Serve ``pattern_id`` from ``assembly``, save its page to ``out``; the console's errors."""
    seed, path, ready = SHOTS[pattern_id]
    with LocalCloud(load_stack(assembly, get(pattern_id).stack_name), start=FIXED_START) as cloud:
        seed(cloud)
        with LocalServer(cloud, real_time=False) as server:
            server.start()
            context = browser.new_context(viewport={"width": 720, "height": 420}, device_scale_factor=1)
            console = Console()
            page = console.watch(context.new_page())
            page.goto(site_url(server) + path)
            if pattern_id in ACTS:
                ACTS[pattern_id](page)
            page.wait_for_selector(ready)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=False)
            context.close()
            return console.errors


def main(argv: list[str] | None = None) -> int:
    from patterns.stack import SERVE_TARGET_CONTEXT, UNSTAGED, build_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "patterns", nargs="*", default=sorted(SHOTS), help="pattern ids (default: every SPA row)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="screenshots.") as workdir, chromium() as browser:
        for pattern_id in args.patterns:
            # One assembly per pattern: a second synth into the same folder loses the first's assets.
            outdir = str(Path(workdir) / pattern_id)
            context = {**UNSTAGED, SERVE_TARGET_CONTEXT: pattern_id}
            build_app(builtin_validation=False, outdir=outdir, context=context).synth()
            out = IMAGES / f"{pattern_id}.png"
            errors = screenshot(pattern_id, outdir, out, browser)
            print(f"{out.relative_to(ROOT)}" + (f": console errors {errors}" if errors else ""))
            failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
