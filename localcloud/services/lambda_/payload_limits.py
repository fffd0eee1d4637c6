"""Lambda's invocation payload limits ("Lambda quotas": 6 MB for a synchronous invocation's request
and its response, 1 MB for an asynchronous event), enforced wherever an invocation comes from.

- A synchronous event over 6,291,456 bytes is refused before the function runs: the Invoke API
  answers 413 ``RequestEntityTooLargeException`` "Request must be smaller than 6291456 bytes for
  the InvokeFunction operation" (the code AWS sends, though the SDK's model names
  ``RequestTooLargeException``); API Gateway answers its client 413 ``Request Too Long``.
- An asynchronous event over 1,048,576 bytes is refused the same way, worded "N byte payload is too
  large for the Event invocation type (limit 1048576 bytes)"; nothing is queued.
- A response over 6,291,556 bytes (6 MiB and 100 bytes, as Lambda counts) turns the invocation
  into a function error ``Function.ResponseSizeTooLarge`` after the function ran: its side effects
  stand, its caller (and API Gateway, a 502) sees the error, as localstack's snapshot of AWS shows.
- An event source mapping never sends more than 6 MB: it cuts its batch to fit (``BatchSize``:
  "up to the payload limit for synchronous invocation (6 MB)").

An event the SDK sent counts the bytes it sent; one a service builds (API Gateway's proxy event, a
poller's batch) counts its compact UTF-8 JSON, the least any serializer could send, so the limit
never bites sooner than on AWS. A response counts as the Python runtime serializes it: JSON with
``", "`` separators, non-ASCII escaped (``python3.12`` sends it as UTF-8).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from localcloud.errors import PayloadTooLarge

if TYPE_CHECKING:
    from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction

SYNC_REQUEST_MAX = 6 * 1024 * 1024
ASYNC_REQUEST_MAX = 1024 * 1024
RESPONSE_MAX = SYNC_REQUEST_MAX + 100
RESPONSE_TOO_LARGE = {
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_MAX} bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def event_size(event: Any) -> int:
    """The bytes of ``event`` as a service sends it: compact UTF-8 JSON."""
    return utf8_length(_COMPACT.encode(event))


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8; a lone surrogate (a fuzzer's query string) counts its three."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def fitting(records: list[Any]) -> int:
    """How many of ``records``, from the first, one event ``{"Records": [...]}`` holds within the
    synchronous limit: how an event source mapping cuts its batch (at least one record)."""
    size = event_size({"Records": []})
    for count, record in enumerate(records):
        size += event_size(record) + (1 if count else 0)  # and the comma before it
        if size > SYNC_REQUEST_MAX:
            return max(count, 1)
    return len(records)


def check_sync(event: Any, size: int | None = None) -> None:
    """Refuse a synchronous event over the limit; ``size`` is the bytes sent, when known."""
    size = event_size(event) if size is None else size
    if size > SYNC_REQUEST_MAX:
        raise PayloadTooLarge(
            f"Request must be smaller than {SYNC_REQUEST_MAX} bytes for the InvokeFunction operation"
        )


def check_async(event: Any, size: int | None = None) -> None:
    """Refuse an asynchronous event over the limit; ``size`` is the bytes sent, when known."""
    size = event_size(event) if size is None else size
    if size > ASYNC_REQUEST_MAX:
        raise PayloadTooLarge(
            f"{size} byte payload is too large for the Event invocation type (limit {ASYNC_REQUEST_MAX} bytes)"
        )


def checked_response(function: LambdaFunction, result: InvocationResult) -> InvocationResult:
    """``result``, or Lambda's ``Function.ResponseSizeTooLarge`` error if its payload is over the limit.

    A payload the standard ``json`` cannot encode (a ``Decimal``, which the runtime's encoder takes)
    is left as it is."""
    try:
        body = json.dumps(result.payload, ensure_ascii=function.runtime != "python3.12")
    except (TypeError, ValueError):
        return result
    if utf8_length(body) <= RESPONSE_MAX:
        return result
    error = dict(RESPONSE_TOO_LARGE)
    return replace(result, payload=error, error=error)
