"""Event source mappings: the pollers Lambda runs between a queue or stream and a function.

Each kind is listed in :data:`localcloud.services.lambda_.service.EVENT_SOURCES` by the service of
its source ARN; the kernel polls every mapping on each pump.

A poller reads as its :class:`Consumer` (the function, or an EventBridge pipe) and hands each batch to
a :data:`Deliver`: the function's synchronous invocation for a mapping, the enrichment and target
for a pipe (see :meth:`localcloud.services.lambda_.service.Lambda.poller`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from localcloud.errors import LocalCloudError
from localcloud.lib.event_patterns import compile_pattern

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel, Pollable
    from localcloud.services.lambda_.runtime import InvocationResult, LambdaFunction


class Consumer(Protocol):
    """Who a poller works for: its role reads the source, and each batch keeps a slot (a shard, a
    unit of concurrency) busy for ``duration`` virtual seconds. A :class:`LambdaFunction` is one."""

    name: str
    arn: str
    role_arn: str
    duration: float


Deliver = Callable[[dict[str, Any], str, int], "InvocationResult"]
"""Processes one batch, ``(event, source label, trace cause)``, answering as a synchronous invocation
does: ``failed``, and a ``payload`` that may report ``batchItemFailures``."""


def invoke(cloud: Kernel, function: LambdaFunction) -> Deliver:
    """What an event source mapping delivers to: its function, invoked synchronously."""

    def deliver(event: dict[str, Any], source: str, cause: int) -> InvocationResult:
        return cloud.service("lambda").invoker.invoke_sync(function, event, source=source, cause=cause)

    return deliver


@dataclass(frozen=True)
class MappingSettings:
    """What every event source mapping reads from its ``AWS::Lambda::EventSourceMapping``."""

    enabled: bool
    batch_size: int
    batching_window: int
    report_failures: bool
    filters: list[dict[str, Any]]

    @classmethod
    def from_props(cls, props: dict[str, Any], *, default_batch_size: int) -> MappingSettings:
        return cls(
            enabled=bool(props.get("Enabled", True)),
            batch_size=int(props.get("BatchSize", default_batch_size)),
            batching_window=int(props.get("MaximumBatchingWindowInSeconds", 0)),
            report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            filters=[_filter(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])],
        )


def _filter(text: str) -> dict[str, Any]:
    """One filter's pattern, refused as Lambda refuses it when the mapping is created."""
    try:
        pattern = json.loads(text)
        compile_pattern(pattern)
    except ValueError as error:
        raise LocalCloudError(
            f"event source mapping filter {text}: Invalid filter pattern definition ({error})"
        ) from None
    return pattern


EventSourceFactory = Callable[..., "Pollable"]
"""``(kernel, mapping id, consumer, properties, deliver=None, session=None)``: a poller."""
