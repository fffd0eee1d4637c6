"""The secured single page app in a real browser, served as ``serve secured_spa`` serves it: a
person signs up on the page (the emailed code read from the local cloud, as from the inbox), signs
in with SRP against the served Cognito endpoint, adds a note through the authorized API and sees
it, follows a deep link; every page answer carries the security headers, the CSP naming the Cognito
endpoint the page calls; the console stays free of errors (the CSP blocked nothing)."""

from __future__ import annotations

import pytest

from localcloud.__main__ import front_door_lines
from localcloud.server import LocalServer
from tests.browser.harness import site_url
from tests.e2e.fuzz import pattern_cloud

pytestmark = pytest.mark.browser
PASSWORD = "Correct-horse-battery-9"
HEADERS = ("strict-transport-security", "x-frame-options", "referrer-policy", "x-content-type-options")


@pytest.fixture(scope="module")
def server(cloud_assembly):
    for cloud in pattern_cloud(cloud_assembly, "secured_spa"):
        with LocalServer(cloud, real_time=False) as served:
            served.start()
            yield served


def cognito_url(server: LocalServer) -> str:
    [door] = [door for door in server.front_doors if door.kind == "cognito"]
    return door.url.rstrip("/")


def sign_up_and_in(server: LocalServer, page, email: str) -> None:
    page.goto(site_url(server) + "/")
    page.fill("#sign-up input[name=email]", email)
    page.fill("#sign-up input[name=password]", PASSWORD)
    page.click("#sign-up button")
    page.wait_for_selector("#confirm")
    code = server.using_cloud(lambda: server.cloud.service("cognito-idp").confirmation_code(email))
    page.fill("#confirm input[name=code]", code)
    page.click("#confirm button")
    page.wait_for_selector("text=is confirmed: sign in.")
    page.fill("#sign-in input[name=email]", email)
    page.fill("#sign-in input[name=password]", PASSWORD)
    page.click("#sign-in button")
    page.wait_for_selector("#count")


def test_sign_up_sign_in_add_a_note_and_follow_a_deep_link_under_the_security_headers(server, page):
    answers = []
    page.on("response", lambda response: answers.append(response))
    sign_up_and_in(server, page, "ann@example.com")
    assert page.text_content("#count") == "0 notes"
    assert page.text_content("#who").startswith("ann@example.com")

    page.fill("#add input[name=text]", "buy tea")
    page.click("#add button")
    page.wait_for_selector("text=1 note")
    assert page.text_content("ul.notes") == "buy tea", "the note the page fetched from the API"

    page.click("text=buy tea")
    page.wait_for_selector("h1")
    assert page.url.startswith(site_url(server) + "/notes/")
    page.reload()
    page.wait_for_selector("h1")
    assert page.text_content("h1") == "buy tea", "a deep link reloads into the app, still signed in"

    site = [r for r in answers if r.url.startswith(site_url(server))]
    pages = [r for r in site if r.request.resource_type == "document"]
    assert len(pages) == 2 and pages[0].url == site_url(server) + "/"
    assert pages[1].url.startswith(site_url(server) + "/notes/"), "the reloaded deep link"
    for response in site:
        headers = response.all_headers()
        assert all(name in headers for name in HEADERS), (response.url, headers)
        csp = headers["content-security-policy"]
        assert f"connect-src 'self' {cognito_url(server)}" in csp and "script-src 'self'" in csp
    calls = [r for r in answers if r.url.startswith(cognito_url(server))]
    targets = [r.request.headers.get("x-amz-target", "").rsplit(".", 1)[-1] for r in calls]
    assert {"SignUp", "ConfirmSignUp", "InitiateAuth", "RespondToAuthChallenge"} <= set(targets)
    assert all(r.status == 200 for r in calls)
    assert page.console.errors == []


def test_a_second_user_sees_only_their_own_notes(server, page):
    sign_up_and_in(server, page, "bob@example.com")
    assert page.text_content("#count") == "0 notes", "ann's note is not bob's"
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    assert page.console.errors == []


def test_a_wrong_password_is_refused_on_the_page(server, page):
    page.goto(site_url(server) + "/")
    page.fill("#sign-in input[name=email]", "ann@example.com")
    page.fill("#sign-in input[name=password]", "Wrong-horse-battery-9")
    page.click("#sign-in button")
    page.wait_for_selector("#sign-in-message:not(:empty)")
    assert page.text_content("#sign-in-message") == "Incorrect username or password."
    assert page.console.errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ], "the recorder sees the refused RespondToAuthChallenge"


def test_serve_prints_the_distributions_url_first(server):
    lines = front_door_lines(server, "127.0.0.1")
    assert lines[0].split()[0] == "distribution" and site_url(server) in lines[0]
    assert sorted(line.split()[0] for line in lines) == ["api", "cognito", "distribution"]
