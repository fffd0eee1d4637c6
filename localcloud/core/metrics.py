"""The one sink every service reports its CloudWatch metrics to, naming no service.

Lambda's invocations, SQS's queue depths, API Gateway's requests, a function's embedded metric
format lines and ``PutMetricData`` calls all land here, as ``kernel.metrics.put(namespace, name,
dimensions, value, unit, timestamp)``, stamped by the virtual clock unless they carry their own
time. Alarms and ``cloud.metrics(...)`` read it; the CloudWatch service copies what it lacks into
moto before an SDK call reads metrics, so one store answers both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.core.clock import VirtualClock
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]
"""A metric's identity, as CloudWatch's: namespace, name and the exact set of its dimensions."""


@dataclass(frozen=True)
class Datapoint:
    """One reported value, several values with counts, or a statistic set, at one moment."""

    timestamp: datetime
    unit: str = "None"
    values: tuple[tuple[float, float], ...] = ()
    """(value, count) pairs; empty for a statistic set."""
    statistics: tuple[float, float, float, float] | None = None
    """A statistic set's (SampleCount, Sum, Minimum, Maximum)."""
    stored: bool = False
    """Already in moto's store (it came by ``PutMetricData``)."""

    @property
    def sample_count(self) -> float:
        return self.statistics[0] if self.statistics else sum(count for _, count in self.values)

    @property
    def sum(self) -> float:
        return self.statistics[1] if self.statistics else sum(v * c for v, c in self.values)

    @property
    def minimum(self) -> float:
        return self.statistics[2] if self.statistics else min(v for v, _ in self.values)

    @property
    def maximum(self) -> float:
        return self.statistics[3] if self.statistics else max(v for v, _ in self.values)


class Metrics:
    """Every datapoint of one cloud, by metric, in the order reported."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.series: dict[MetricKey, list[Datapoint]] = {}
        self.log: list[tuple[MetricKey, Datapoint]] = []
        """Everything reported, in order: what a reader of the whole stream (moto's copy) follows."""

    def put(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None = None,
        value: float | None = None,
        unit: str = "None",
        timestamp: datetime | None = None,
        *,
        values: Iterable[float] | None = None,
        counts: Iterable[float] | None = None,
        statistics: tuple[float, float, float, float] | None = None,
        stored: bool = False,
    ) -> None:
        """Report ``value`` (or ``values`` with ``counts``, or a statistic set) of one metric."""
        if values is not None:
            listed = [float(v) for v in values]
            weights = [float(c) for c in counts] if counts is not None else [1.0] * len(listed)
            pairs = tuple(zip(listed, weights, strict=True))
        elif statistics is None:
            pairs = ((float(value if value is not None else 0.0), 1.0),)
        else:
            pairs = ()
        key = metric_key(namespace, name, dimensions)
        point = Datapoint(timestamp or self.clock.now(), unit or "None", pairs, statistics, stored)
        self.series.setdefault(key, []).append(point)
        self.log.append((key, point))

    def datapoints(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Datapoint]:
        """The datapoints of exactly this metric (dimensions must match as a set), oldest first,
        within ``[start, end)``."""
        points = self.series.get(metric_key(namespace, name, dimensions), [])
        return sorted(
            (
                p
                for p in points
                if (start is None or p.timestamp >= start) and (end is None or p.timestamp < end)
            ),
            key=lambda p: p.timestamp,
        )


def metric_key(namespace: str, name: str, dimensions: Mapping[str, str] | None) -> MetricKey:
    return namespace, name, frozenset((dimensions or {}).items())


def api_request_served(
    kernel: Kernel,
    dimension_sets: Iterable[Mapping[str, str]],
    status: int,
    request: Span,
    errors: tuple[str, str] = ("4XXError", "5XXError"),
) -> None:
    """API Gateway's metrics of one answered request (namespace ``AWS/ApiGateway``), under each of
    ``dimension_sets``: ``Count`` 1, the client and server error counts (``errors``: REST names them
    ``4XXError``/``5XXError``, HTTP APIs ``4xx``/``5xx``) 1 or 0, and ``Latency`` in milliseconds of
    virtual time, until the last call the request made returned (a function's ``duration`` shows)."""
    ended = request.at
    for span in reversed(kernel.trace.spans):
        if span.id <= request.id:
            break
        if span.parent == request.id and span.ended is not None:
            ended = max(ended, span.ended)
    moment = kernel.clock.now() - timedelta(seconds=kernel.clock.elapsed() - request.at)
    client, server = errors
    for dimensions in dimension_sets:
        put = kernel.metrics.put
        put("AWS/ApiGateway", "Count", dimensions, 1, "Count", moment)
        put("AWS/ApiGateway", client, dimensions, 1 if 400 <= status < 500 else 0, "Count", moment)
        put("AWS/ApiGateway", server, dimensions, 1 if status >= 500 else 0, "Count", moment)
        put("AWS/ApiGateway", "Latency", dimensions, (ended - request.at) * 1000, "Milliseconds", moment)
