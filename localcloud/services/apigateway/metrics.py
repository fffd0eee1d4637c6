"""A REST API's metrics (namespace ``AWS/ApiGateway``, dimensions ``ApiName`` and ``Stage``), per
request it answers: ``Count``, ``4XXError``, ``5XXError`` and ``Latency``, as
:func:`localcloud.core.metrics.api_request_served` reports them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.core.metrics import api_request_served

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span


def served(kernel: Kernel, api_name: str, stage: str, status: int, request: Span) -> None:
    """``request`` (its trace span) was answered ``status``."""
    api_request_served(kernel, [{"ApiName": api_name, "Stage": stage}], status, request)
