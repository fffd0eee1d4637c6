"""What a served page names of AWS, pointed at the doors that stand for it.

A page that calls an AWS endpoint from the browser (Cognito's, to sign in) names it in what the
distribution serves: its ``config.json``, its CSP's ``connect-src``. Served offline, the browser
must reach the door instead, and the CSP must allow it, so a distribution door's answers have each
door's :attr:`~localcloud.core.front_doors.FrontDoor.stands_for` URL replaced by the door's URL, in
header values and in text bodies, as a DNS entry would send the browser there. Only served answers
change: ``cloud.distribution()`` in a test answers what AWS would.
"""

from __future__ import annotations

from collections.abc import Sequence

from localcloud.core.front_doors import FrontDoor
from localcloud.lib.http import HttpResponse

#: Bodies rewritten: text a page reads (HTML, scripts, JSON, CSS, XML).
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "+json", "+xml")


def rewritten(door: FrontDoor, response: HttpResponse, doors: Sequence[FrontDoor]) -> HttpResponse:
    """``response`` with every other door's AWS URL replaced by that door's, when ``door`` is a
    distribution; any other door's answer as it is."""
    urls = {d.stands_for: d.url.rstrip("/") for d in doors if d.stands_for and d is not door}
    if door.kind != "distribution" or not urls:
        return response
    for name, values in response.headers.items():
        response.headers[name] = [_replaced(value, urls) for value in values]
    content_type = (response.header("Content-Type") or "").lower()
    if response.body and any(kind in content_type for kind in TEXT_TYPES):
        body = response.body
        for aws, local in urls.items():
            body = body.replace(aws.encode(), local.encode())
        response.body = body
    return response


def _replaced(value: str, urls: dict[str, str]) -> str:
    for aws, local in urls.items():
        value = value.replace(aws, local)
    return value
