"""The proxied front end in a real browser: served as ``serve proxied_frontend`` serves it, opened at
the distribution's URL in Chromium; the page lists and adds items through ``/api`` on its own origin
with no preflight (no OPTIONS reaches the distribution or the API), shows the API's 404 as the API
wrote it, and a deep link survives a reload; the console stays free of errors but the one 404."""

from __future__ import annotations

import pytest

from localcloud.__main__ import front_door_lines
from tests.browser.harness import served_with_a_lamp, site_url

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(cloud_assembly):
    yield from served_with_a_lamp(cloud_assembly, "proxied_frontend")


def api_methods(server) -> list[str]:
    """The methods of every request the API itself answered, from the cloud's trace."""
    return [span.detail.split()[0] for span in server.cloud.trace.find("request") if span.source == "client"]


def test_the_page_uses_its_own_origins_api_with_no_preflight_and_a_deep_link_survives(server, page):
    url = site_url(server)
    assert page.goto(url + "/").status == 200
    page.wait_for_selector("#count")
    assert page.title() == "Inventory"
    assert page.text_content("ul.items") == "desk lamp$12.99"

    page.fill("input[name=name]", "teapot")
    page.fill("input[name=price]", "2450")
    page.click("#add button[type=submit]")
    page.wait_for_selector("text=2 items")
    assert ("POST", "/api/items", 201) in server.answered, (
        "a JSON POST, which cross-origin would be preflighted"
    )
    assert not [a for a in server.answered if a[0] == "OPTIONS"], "no preflight reached the distribution"
    assert "OPTIONS" not in api_methods(server) and "POST" in api_methods(server), "nor the API"

    page.click("text=desk lamp")
    page.wait_for_selector("h1")
    assert page.url == url + "/item/lamp-1"
    page.reload()
    page.wait_for_selector("h1")
    assert (page.text_content("h1"), page.text_content(".price")) == ("desk lamp", "$12.99")
    assert page.console.errors == []


def test_the_apis_404_reaches_the_page_as_the_api_wrote_it(server, page):
    page.goto(site_url(server) + "/")
    page.wait_for_selector("#count")
    page.fill("#find input[name=id]", "nope")
    page.click("#find button[type=submit]")
    page.wait_for_selector("#answer:not(:empty)")
    assert page.text_content("#answer") == "404: item nope not found", "not index.html with 200"
    assert page.console.errors == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]


def test_serve_prints_the_distributions_url_first_for_a_person_to_open(server):
    lines = front_door_lines(server, "127.0.0.1")
    assert [line.split()[0] for line in lines] == ["distribution", "api"]
    assert site_url(server) in lines[0]
