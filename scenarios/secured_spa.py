"""Secured SPA: the page under its security headers, anonymous API calls refused, and each
signed-in user (signed up, confirmed by the emailed code, signed in with SRP) reading and writing
only their own notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pycognito.aws_srp import AWSSRP

from scenarios import Show

if TYPE_CHECKING:
    from localcloud import LocalCloud

PASSWORD = "Correct-horse-battery-9"  # noqa: S105 - a demo user of the offline pool
#: The headers every answer of the distribution carries (the function's, or the policy's on errors).
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Frame-Options",
    "Referrer-Policy",
    "X-Content-Type-Options",
)


def sign_up_and_in(cloud: LocalCloud, email: str, password: str = PASSWORD) -> str:
    """A new user's ID token: signed up with the page's client, confirmed with the code Cognito
    emailed, signed in with USER_SRP_AUTH as the page does."""
    idp, client = cloud.client("cognito-idp"), cloud.outputs["UserPoolClientId"]
    idp.sign_up(
        ClientId=client, Username=email, Password=password, UserAttributes=[{"Name": "email", "Value": email}]
    )
    code = cloud.service("cognito-idp").confirmation_code(email)
    idp.confirm_sign_up(ClientId=client, Username=email, ConfirmationCode=code)
    srp = AWSSRP(email, password, cloud.outputs["UserPoolId"], client, client=idp)
    return srp.authenticate_user()["AuthenticationResult"]["IdToken"]


def missing_headers(answer: Any) -> list[str]:
    return [name for name in SECURITY_HEADERS if not answer.header(name)]


def run(show: Show) -> None:
    site = show.cloud.distribution()
    page = site.get("/")
    show.that(
        "GET / serves the page with every security header, the CSP naming the Cognito endpoint",
        page.status == 200
        and not missing_headers(page)
        and "connect-src 'self' https://cognito-idp." in page.header("Content-Security-Policy"),
        f"{page.status} missing {missing_headers(page)}",
    )
    anonymous = site.get("/api/notes")
    show.equal("an anonymous call is API Gateway's 401, before any code runs", anonymous.status, 401)
    forged = site.get("/api/notes", headers={"Authorization": "eyJhbGciOiJub25lIn0.e30."})
    show.equal("a token Cognito did not sign is a 401 too", forged.status, 401)

    ann = {"Authorization": sign_up_and_in(show.cloud, "ann@example.com")}
    created = site.request("POST", "/api/notes", json={"text": "buy tea"}, headers=ann)
    show.equal("ann, signed in with SRP, adds a note: 201", created.status, 201)
    note_id = created.json()["id"]
    listed = site.get("/api/notes", headers=ann)
    show.that(
        "ann's list is 200 and holds her note",
        listed.status == 200 and [n["id"] for n in listed.json()["notes"]] == [note_id],
        f"{listed.status} {listed.body[:200]!r}",
    )
    bad = site.request("POST", "/api/notes", json={"text": ""}, headers=ann)
    show.that("an empty note is a 400 naming the field", bad.status == 400 and "text" in bad.text, bad.text)

    bob = {"Authorization": sign_up_and_in(show.cloud, "bob@example.com")}
    show.equal("bob sees none of ann's notes", site.get("/api/notes", headers=bob).json(), {"notes": []})
    show.equal(
        "bob cannot read ann's note by its id: 404",
        site.get(f"/api/notes/{note_id}", headers=bob).status,
        404,
    )
    show.equal(
        "nor delete it: 404",
        site.request("DELETE", f"/api/notes/{note_id}", headers=bob).status,
        404,
    )
    deep = site.get(f"/notes/{note_id}")
    show.that(
        "a deep link is the page (rewritten at the edge), with the headers",
        deep.status == 200 and deep.body == page.body and not missing_headers(deep),
        f"{deep.status} missing {missing_headers(deep)}",
    )
    missing = site.get("/app.00000000.js")
    show.that(
        "an origin error (a missing asset, 403) carries the headers too, from the response headers policy",
        missing.status == 403 and not missing_headers(missing),
        f"{missing.status} missing {missing_headers(missing)}",
    )
    show.equal(
        "ann deletes her note: 204", site.request("DELETE", f"/api/notes/{note_id}", headers=ann).status, 204
    )
    show.equal("and it is gone", site.get(f"/api/notes/{note_id}", headers=ann).status, 404)
