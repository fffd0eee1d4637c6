"""A REST API's metrics (namespace ``AWS/ApiGateway``, dimensions ``ApiName`` and ``Stage``), per
request it answers: ``Count`` 1, ``4XXError`` and ``5XXError`` 1 or 0, ``Latency`` in milliseconds
of virtual time (until the last call the request made returned: a function's ``duration`` shows)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

NAMESPACE = "AWS/ApiGateway"


def served(kernel: Kernel, api_name: str, stage: str, status: int, request: Span) -> None:
    """``request`` (its trace span) was answered ``status``."""
    ended = request.at
    for span in reversed(kernel.trace.spans):
        if span.id <= request.id:
            break
        if span.parent == request.id and span.ended is not None:
            ended = max(ended, span.ended)
    moment = kernel.clock.now() - timedelta(seconds=kernel.clock.elapsed() - request.at)
    dimensions = {"ApiName": api_name, "Stage": stage}
    put = kernel.metrics.put
    put(NAMESPACE, "Count", dimensions, 1, "Count", moment)
    put(NAMESPACE, "4XXError", dimensions, 1 if 400 <= status < 500 else 0, "Count", moment)
    put(NAMESPACE, "5XXError", dimensions, 1 if status >= 500 else 0, "Count", moment)
    put(NAMESPACE, "Latency", dimensions, (ended - request.at) * 1000, "Milliseconds", moment)
