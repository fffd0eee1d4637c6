"""The single page app in a real browser: served as ``serve spa`` serves it, opened at the
distribution's URL in Chromium, the page loads, shows what it fetched from the API, adds an item
through its form, and a deep link survives a reload; the console stays free of errors."""

from __future__ import annotations

import pytest

from localcloud.__main__ import front_door_lines
from tests.browser.harness import served_with_a_lamp, site_url

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(cloud_assembly):
    yield from served_with_a_lamp(cloud_assembly, "spa")


def test_the_page_shows_the_api_data_adds_an_item_and_a_deep_link_survives_reload(server, page):
    url = site_url(server)
    assert page.goto(url + "/").status == 200
    page.wait_for_selector("#count")
    assert page.title() == "Items"
    del server.answered[:]
    page.reload()
    assert ("GET", "/", 304) in server.answered, (
        "no-cache: the browser revalidates index.html and keeps its copy"
    )
    page.wait_for_selector("#count")
    assert page.text_content("ul.items") == "desk lamp$12.99", "the item the page fetched from the API"

    page.fill("input[name=name]", "teapot")
    page.fill("input[name=price]", "2450")
    page.click("button[type=submit]")
    page.wait_for_selector("text=2 items")
    assert "teapot$24.50" in page.text_content("ul.items")

    page.click("text=desk lamp")
    page.wait_for_selector("h1")
    assert page.url == url + "/view/lamp-1"
    page.reload()
    page.wait_for_selector("h1")
    assert (page.text_content("h1"), page.text_content(".price")) == ("desk lamp", "$12.99")
    page.go_back()
    page.wait_for_selector("#count")
    assert page.console.errors == []


def test_a_bad_form_shows_the_apis_400_and_the_console_reports_the_failed_request(server, page):
    page.goto(site_url(server) + "/")
    page.wait_for_selector("#count")
    page.fill("input[name=name]", "x" * 101)
    page.fill("input[name=price]", "5")
    page.click("button[type=submit]")
    page.wait_for_selector("#message:not(:empty)")
    assert "name" in page.text_content("#message")
    assert page.console.errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ], "the recorder sees what a broken page would show"


def test_serve_prints_the_distributions_url_first_for_a_person_to_open(server):
    lines = front_door_lines(server, "127.0.0.1")
    assert [line.split()[0] for line in lines] == ["distribution", "api"]
    assert site_url(server) in lines[0]
    assert [door.kind for door in server.front_doors] == ["api", "distribution"], "the services' own order"
