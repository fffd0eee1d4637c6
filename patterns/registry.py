"""The one list of patterns: app.py, the parametrized tests, the README table and the benchmarks read it.

Adding a pattern is adding one :class:`Pattern` entry here. Constructs are named by import path so
that reading the registry (for docs, say) does not start the CDK.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SOURCES = {
    "000": "Designing production-ready AWS serverless applications (Datadog, 2022)",
    "001": "Serverless Microservice Patterns for AWS (Jeremy Daly)",
    "002": "Serverless Patterns: storage-first and circuit breaker (2023)",
    "003": "Serverless Microservice Patterns for AWS (Logan Seo, 2021)",
    "004": "Serverless Architecture Patterns in AWS",
}


@dataclass(frozen=True)
class Pattern:
    """One catalog row as built here."""

    id: str
    title: str
    construct: str
    """``module:Class`` of the L3 construct."""
    summary: str
    sources: tuple[str, ...]
    functions: tuple[str, ...] = ()
    """Folders under ``functions/`` this pattern ships (benchmarked for cold start and size)."""

    @property
    def stack_name(self) -> str:
        return "".join(part.capitalize() for part in self.id.split("_")) + "Stack"

    @property
    def docs_page(self) -> str:
        return f"docs/patterns/{self.id}.md"

    def construct_class(self) -> type[Any]:
        module, _, name = self.construct.partition(":")
        return getattr(importlib.import_module(module), name)


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="simple_web_service",
        title="Simple Web Service",
        construct="patterns.simple_web_service:SimpleWebService",
        summary="API Gateway REST -> Lambda -> DynamoDB: CRUD with pagination, 400 and 404 paths",
        sources=("001", "003", "004"),
        functions=("simple_web_service",),
    ),
    Pattern(
        id="scalable_webhook",
        title="Scalable Webhook",
        construct="patterns.scalable_webhook:ScalableWebhook",
        summary="API -> Lambda -> SQS (+DLQ) -> Lambda at a capped concurrency -> DynamoDB, idempotent writes",
        sources=("001", "003"),
        functions=("scalable_webhook",),
    ),
    Pattern(
        id="storage_first",
        title="Storage-First",
        construct="patterns.storage_first:StorageFirst",
        summary="API Gateway stores the request in SQS (or DynamoDB, or EventBridge) before any code runs",
        sources=("002", "004"),
        functions=("storage_first",),
    ),
)


def get(pattern_id: str) -> Pattern:
    for pattern in PATTERNS:
        if pattern.id == pattern_id:
            return pattern
    known = ", ".join(p.id for p in PATTERNS)
    raise KeyError(f"no pattern {pattern_id!r}; known patterns: {known}")


def readme_table() -> str:
    """The README's pattern table, generated so it can never drift from this registry."""
    rows = [
        "| Pattern | Stack | What it shows | Sources |",
        "|---|---|---|---|",
    ]
    for p in PATTERNS:
        rows.append(
            f"| [{p.title}]({p.docs_page}) | `{p.stack_name}` | {p.summary} | {', '.join(p.sources)} |"
        )
    return "\n".join(rows)


README = ROOT / "README.md"
TABLE_START = "<!-- patterns:start (generated from patterns/registry.py; tests fail when stale) -->"
TABLE_END = "<!-- patterns:end -->"


def readme_with_current_table(text: str) -> str:
    """``text`` with the block between the README's table markers replaced by :func:`readme_table`."""
    head, start, rest = text.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"README.md lacks the markers {TABLE_START!r} and {TABLE_END!r}")
    return f"{head}{start}\n{readme_table()}\n{end}{tail}"


if __name__ == "__main__":
    # `python -m patterns.registry` rewrites the README's pattern table from this registry.
    README.write_text(readme_with_current_table(README.read_text()))
