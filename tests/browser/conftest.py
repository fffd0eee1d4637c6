"""One Chromium per session, and the spa stack served on loopback per module.

Without ``chromium`` on the PATH the browser tests are skipped on a workstation, but fail in CI
(``CI`` set): a missing browser must never pass a build silently.
"""

from __future__ import annotations

import os

import pytest

from tests.browser.harness import Console, chromium, chromium_path


@pytest.fixture(scope="session")
def browser():
    if chromium_path() is None:
        message = "Debian's chromium is not installed (`make chromium`)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: the browser tests must run in CI", pytrace=False)
        pytest.skip(message)
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    """A fresh page (its own cookies and cache) whose console errors are recorded on ``page.console``."""
    context = browser.new_context(viewport={"width": 800, "height": 600})
    page = context.new_page()
    page.console = Console()
    page.console.watch(page)
    yield page
    context.close()
