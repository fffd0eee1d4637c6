"""A viewer's conditional GET or HEAD, answered by CloudFront from the object it has: ``304 Not
Modified`` when ``If-None-Match`` names the object's ETag (``*`` any; weak tags compare equal), or,
without ``If-None-Match``, when the object is not newer than ``If-Modified-Since``.

This is what makes ``Cache-Control: no-cache`` cheap for a browser: it revalidates each load and
gets a body only when the object changed. Only a 200 from the origin or the cache is answered so;
a custom error response's page is sent whole.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from localcloud.lib.http import HttpRequest, HttpResponse

#: Headers a 304 keeps (RFC 9110 15.4.5), with CloudFront's own, which are added after.
KEPT = (
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "last-modified",
    "vary",
    "x-cache",
    "age",
)


def not_modified(request: HttpRequest, response: HttpResponse) -> HttpResponse | None:
    """The 304 for ``request`` if ``response`` (a 200) is what the viewer already has, else None."""
    if request.method not in ("GET", "HEAD") or response.status != 200:
        return None
    if_none_match = request.header("If-None-Match")
    if if_none_match is not None:
        fresh = _matches(if_none_match, response.header("ETag"))
    else:
        fresh = _not_modified_since(request.header("If-Modified-Since"), response.header("Last-Modified"))
    if not fresh:
        return None
    headers = {name: values for name, values in response.headers.items() if name.lower() in KEPT}
    return HttpResponse(304, headers, b"")


def _matches(if_none_match: str, etag: str | None) -> bool:
    if etag is None:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or _weak(etag) in {_weak(tag) for tag in tags}


def _weak(tag: str) -> str:
    return tag.removeprefix("W/")


def _not_modified_since(since: str | None, last_modified: str | None) -> bool:
    if since is None or last_modified is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored, as HTTP says
