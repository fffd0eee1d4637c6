"""The one request and response shape every front door of the local cloud speaks.

API Gateway, CloudFront and the localhost server all take an :class:`HttpRequest` and give an
:class:`HttpResponse`, so the test client and the real server exercise the same code.
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class HttpRequest:
    method: str
    path: str
    """The path as the client sent it, without the query string (``/prod/items/1``)."""
    headers: dict[str, list[str]] = field(default_factory=dict)
    """Header values by name as sent; look names up with :meth:`header`, which ignores case."""
    query: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    source_vpce: str | None = None
    """The VPC endpoint the request came through (``vpce-...``), for a private REST API; None: none."""
    source_vpc: str | None = None

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str | list[str]] | None = None,
    ) -> HttpRequest:
        """A request the way a client library makes one: ``HttpRequest.build("POST", "/items?x=1", json={...})``."""
        parts = urlsplit(url)
        all_headers = {name: [value] for name, value in (headers or {}).items()}
        if json is not None:
            body = _json.dumps(json)
            if not any(name.lower() == "content-type" for name in all_headers):
                all_headers["Content-Type"] = ["application/json"]
        raw = body.encode() if isinstance(body, str) else (body or b"")
        params: dict[str, list[str]] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            params.setdefault(name, []).append(value)
        for name, value in (query or {}).items():
            params.setdefault(name, []).extend([value] if isinstance(value, str) else value)
        return cls(method.upper(), parts.path or "/", all_headers, params, raw)

    def header(self, name: str) -> str | None:
        """The last value of header ``name``, ignoring case, as API Gateway's single-value view keeps."""
        return last_value(self.headers, name)

    @property
    def query_string(self) -> str:
        return urlencode([(name, value) for name, values in self.query.items() for value in values])


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def of_json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> HttpResponse:
        all_headers = {"Content-Type": ["application/json"]}
        all_headers.update({name: [value] for name, value in (headers or {}).items()})
        return cls(status, all_headers, _json.dumps(payload).encode())

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.body)

    def header(self, name: str) -> str | None:
        return last_value(self.headers, name)


def last_value(headers: dict[str, list[str]], name: str) -> str | None:
    """The last value of header ``name`` in ``headers``, ignoring the case of names as HTTP does."""
    lowered = name.lower()
    for key, values in headers.items():
        if key.lower() == lowered and values:
            return values[-1]
    return None


class HttpMethods:
    """``get``, ``post``... over a test client's ``request(method, path, **kwargs)``: one set for the
    REST and HTTP API clients, whose ``request`` differ."""

    def request(self, method: str, path: str, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("OPTIONS", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("HEAD", path, **kwargs)
