"""CloudFront Functions, run by ``node`` (which the CDK CLI already needs) in one long-lived process
per cloud, started on first use.

The event is CloudFront's: ``version``, ``context``, ``viewer``, ``request`` (``method``, ``uri``,
``querystring``, ``headers``, ``cookies``) and, for viewer-response, ``response``. Header names are
lower case; a name with several values carries ``multiValue``; cookies are apart from headers.
What the runtime restricts (ES5 syntax in ``cloudfront-js-1.0``, read-only headers, size limits)
is not enforced; an ``import`` of ``cloudfront`` (KeyValueStore) fails the function.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import selectors
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from localcloud.errors import LocalCloudError
from localcloud.lib.http import HttpRequest, HttpResponse

HARNESS = Path(__file__).with_name("harness.js")
RUNTIMES = ("cloudfront-js-1.0", "cloudfront-js-2.0")
#: Longer than the harness's own 1 s limit: only a stuck node process reaches it.
ANSWER_TIMEOUT = 10.0

log = logging.getLogger("localcloud.cloudfront")


@dataclass
class CloudFrontFunction:
    name: str
    arn: str
    runtime: str
    code: str
    published: bool

    @property
    def key(self) -> str:
        return f"{self.name}-{hashlib.sha256(self.code.encode()).hexdigest()[:12]}.js"


class FunctionError(Exception):
    """The function threw, timed out or returned something CloudFront cannot use."""


class FunctionRunner:
    """One ``node`` process running every function of a cloud; :meth:`close` ends it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._loaded: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def run(self, function: CloudFrontFunction, event: dict[str, Any]) -> Any:
        """The function's return value; raises :class:`FunctionError` when CloudFront would answer 503."""
        with self._lock:
            process = self._started()
            message: dict[str, Any] = {"id": next(self._ids), "key": function.key, "event": event}
            if function.key not in self._loaded:
                message.update(code=function.code, runtime=function.runtime)
                self._loaded.add(function.key)
            assert process.stdin is not None
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
            answer = self._read_answer(process)
        for line in answer.get("logs", []):
            log.info("function %s: %s", function.name, line)
        if not answer["ok"]:
            raise FunctionError(answer["error"].splitlines()[0] if answer["error"] else "unknown error")
        return answer["result"]

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None

    def _started(self) -> subprocess.Popen[str]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._discard()
        node = shutil.which("node")
        if node is None:
            raise LocalCloudError("CloudFront Functions run with node, which is not on the PATH")
        self._loaded.clear()
        self._process = subprocess.Popen(  # noqa: S603 - a fixed script with the node found on the PATH
            [node, str(HARNESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        return self._process

    def _read_answer(self, process: subprocess.Popen[str]) -> dict[str, Any]:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(ANSWER_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line:
            exit_code = process.poll()
            self._discard()
            state = f"exited with code {exit_code}" if exit_code is not None else "stopped answering"
            raise FunctionError(f"the node process running CloudFront Functions {state}")
        return json.loads(line)


# ---------------------------------------------------------------------------------------- events


def viewer_request_event(
    distribution: Any, request: HttpRequest, uri: str, request_id: str, event_type: str = "viewer-request"
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {
            "distributionDomainName": distribution.domain_name,
            "endpoint": distribution.domain_name,
            "distributionId": distribution.id,
            "eventType": event_type,
            "requestId": request_id,
        },
        "viewer": {"ip": request.source_ip},
        "request": {
            "method": request.method,
            "uri": uri,
            "querystring": _multi({name: values for name, values in request.query.items()}),
            "headers": _multi(_lower_headers(request.headers, exclude={"cookie"})),
            "cookies": _multi(_request_cookies(request)),
        },
    }


def viewer_response_event(
    distribution: Any, request: HttpRequest, uri: str, response: HttpResponse, request_id: str
) -> dict[str, Any]:
    event = viewer_request_event(distribution, request, uri, request_id, "viewer-response")
    headers = _lower_headers(response.headers, exclude={"set-cookie"})
    event["response"] = {
        "statusCode": response.status,
        "statusDescription": _reason(response.status),
        "headers": _multi(headers),
        "cookies": _response_cookies(response),
    }
    return event


def request_from(result: dict[str, Any], original: HttpRequest) -> tuple[HttpRequest, str]:
    """The request a viewer-request function returned, and its (possibly rewritten) URI."""
    uri = result.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise FunctionError(f"the returned request has no valid uri: {uri!r}")
    headers = _from_multi(result.get("headers") or {})
    cookies = _from_multi(result.get("cookies") or {})
    if cookies:
        headers["cookie"] = [
            "; ".join(f"{name}={value}" for name, values in cookies.items() for value in values)
        ]
    querystring = result.get("querystring") or {}
    if isinstance(querystring, str):
        query = HttpRequest.build("GET", f"/?{querystring}").query
    else:
        query = _from_multi(querystring)
    rewritten = HttpRequest(original.method, uri, headers, query, original.body, original.source_ip)
    return rewritten, uri


def response_from(result: dict[str, Any], body: bytes | None = None) -> HttpResponse:
    """The response a function returned (``body`` keeps the origin's, which viewer-response cannot change)."""
    status = result.get("statusCode")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise FunctionError(f"the returned response has no valid statusCode: {status!r}")
    headers = _from_multi(result.get("headers") or {})
    for name, cookie in (result.get("cookies") or {}).items():
        for item in [cookie, *cookie.get("multiValue", [])[1:]]:
            attributes = f"; {item['attributes']}" if item.get("attributes") else ""
            headers.setdefault("set-cookie", []).append(f"{name}={item.get('value', '')}{attributes}")
    if body is None:
        body = _body(result.get("body"))
    return HttpResponse(status, headers, body)


def _body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, dict):
        import base64

        data = body.get("data", "")
        return base64.b64decode(data) if body.get("encoding") == "base64" else str(data).encode()
    raise FunctionError(f"the returned response body is neither a string nor {{data, encoding}}: {body!r}")


def _lower_headers(headers: dict[str, list[str]], exclude: set[str]) -> dict[str, list[str]]:
    lowered: dict[str, list[str]] = {}
    for name, values in headers.items():
        if name.lower() not in exclude:
            lowered.setdefault(name.lower(), []).extend(values)
    return lowered


def _multi(values: dict[str, list[str]]) -> dict[str, Any]:
    """CloudFront's ``{name: {value, multiValue?}}`` form."""
    shaped = {}
    for name, items in values.items():
        if not items:
            continue
        entry: dict[str, Any] = {"value": items[0]}
        if len(items) > 1:
            entry["multiValue"] = [{"value": item} for item in items]
        shaped[name] = entry
    return shaped


def _from_multi(shaped: dict[str, Any]) -> dict[str, list[str]]:
    values = {}
    for name, entry in shaped.items():
        if isinstance(entry, dict) and entry.get("multiValue"):
            values[name] = [str(item.get("value", "")) for item in entry["multiValue"]]
        elif isinstance(entry, dict):
            values[name] = [str(entry.get("value", ""))]
        else:
            values[name] = [str(entry)]
    return values


def _request_cookies(request: HttpRequest) -> dict[str, list[str]]:
    cookies: dict[str, list[str]] = {}
    for name, values in request.headers.items():
        if name.lower() != "cookie":
            continue
        for value in values:
            for pair in value.split(";"):
                key, _, item = pair.strip().partition("=")
                if key:
                    cookies.setdefault(key, []).append(item)
    return cookies


def _response_cookies(response: HttpResponse) -> dict[str, Any]:
    cookies: dict[str, Any] = {}
    for name, values in response.headers.items():
        if name.lower() != "set-cookie":
            continue
        for value in values:
            parsed = SimpleCookie()
            parsed.load(value)
            for key, morsel in parsed.items():
                attributes = value.split(";", 1)[1].strip() if ";" in value else ""
                item = {"value": morsel.value, "attributes": attributes}
                if key in cookies:
                    first = cookies[key]
                    first.setdefault("multiValue", [dict(first)]).append(item)
                else:
                    cookies[key] = item
    return cookies


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
