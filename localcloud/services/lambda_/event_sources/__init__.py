"""Event source mappings: the pollers Lambda runs between a queue or stream and a function.

Each kind registers for the service of its source ARN; the cloud polls every mapping on each pump.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.services.lambda_.runtime import LambdaFunction


class Pollable(Protocol):
    """Anything the cloud's pump drives: event source mappings, buffers, schedules."""

    def poll(self) -> bool:
        """Do what is due now; return whether anything happened."""

    def next_wakeup(self) -> datetime | None:
        """When something could next be due, or None if nothing is waiting."""


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
            filters=[json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])],
        )


EventSourceFactory = Callable[["LocalCloud", str, "LambdaFunction", dict[str, Any]], Pollable]
EVENT_SOURCES: dict[str, EventSourceFactory] = {}


def event_source(service: str) -> Callable[[EventSourceFactory], EventSourceFactory]:
    """Register the mapping class for sources whose ARN names ``service`` (``sqs``, ``kinesis``...)."""

    def register(factory: EventSourceFactory) -> EventSourceFactory:
        EVENT_SOURCES[service] = factory
        return factory

    return register


def load_all() -> dict[str, EventSourceFactory]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return EVENT_SOURCES
