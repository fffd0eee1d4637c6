"""A Lambda proxy integration's response, read as API Gateway reads it: the checks REST and HTTP
APIs share. Each front door turns a refusal into its own answer (REST 502, HTTP APIs 500)."""

from __future__ import annotations

import base64
from collections.abc import Collection
from typing import Any


class MalformedProxyResponse(ValueError):
    """The response is off the proxy contract; the message says how."""


def read_proxy_response(payload: Any, keys: Collection[str]) -> tuple[int, dict[str, list[str]], bytes]:
    """``statusCode``, headers and body bytes of ``payload``, whose allowed top-level keys are
    ``keys``; an allowed ``cookies`` list becomes ``set-cookie`` headers (payload format 2.0)."""
    if not isinstance(payload, dict):
        raise MalformedProxyResponse(f"a {type(payload).__name__}, not a JSON object")
    extra = set(payload) - set(keys)
    if extra:
        raise MalformedProxyResponse(f"unexpected keys {sorted(extra)}")
    status = payload.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not an HTTP status")
    headers: dict[str, list[str]] = {}
    multi, single = payload.get("multiValueHeaders") or {}, payload.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    for key, values in multi.items():
        if not isinstance(values, list) or not all(isinstance(v, str | int | float) for v in values):
            raise MalformedProxyResponse(f"multiValueHeaders[{key!r}] is not a list of strings")
        headers[key] = [str(v) for v in values]
    for key, value in single.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise MalformedProxyResponse(f"headers[{key!r}] is not a string")
        headers.setdefault(key, [str(value)])
    cookies = payload.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedProxyResponse("cookies must be a list of strings")
    if cookies:
        headers["set-cookie"] = list(cookies)
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse(f"body is a {type(body).__name__}, not a string")
    raw = (body or "").encode()
    if payload.get("isBase64Encoded") and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise MalformedProxyResponse("isBase64Encoded, but the body is not base64") from None
    return status, headers, raw
