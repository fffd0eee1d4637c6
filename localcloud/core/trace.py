"""What happened, and because of what: every delivery and invocation with its cause and outcome.

Prints as an indented tree (for failing-test output) and as a Mermaid sequence diagram (for docs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Span:
    id: int
    kind: str
    """``invoke``, ``deliver``, ``send``, ``redrive``, ``destination``, ``throttle``..."""
    source: str
    target: str
    detail: str
    at: float
    """Virtual seconds since the cloud started."""
    parent: int | None = None
    outcome: str = "ok"
    ended: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Trace:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._ids = itertools.count(1)

    def record(
        self,
        kind: str,
        source: str,
        target: str,
        detail: str = "",
        *,
        at: float,
        parent: int | None = None,
        outcome: str = "ok",
        **data: Any,
    ) -> Span:
        span = Span(next(self._ids), kind, source, target, detail, at, parent, outcome, data=data)
        self.spans.append(span)
        return span

    def find(
        self, kind: str | None = None, target: str | None = None, outcome: str | None = None
    ) -> list[Span]:
        return [
            s
            for s in self.spans
            if (kind is None or s.kind == kind)
            and (target is None or s.target == target)
            and (outcome is None or s.outcome == outcome)
        ]

    def tree(self) -> str:
        """Each span under its cause, indented; a long causal chain is cut at :data:`MAX_DEPTH`."""
        children: dict[int | None, list[Span]] = {}
        for span in self.spans:
            children.setdefault(span.parent, []).append(span)
        lines: list[str] = []
        stack = [(root, 0) for root in reversed(children.get(None, []))]
        while stack:
            span, depth = stack.pop()
            if depth > MAX_DEPTH:
                lines.append(f"{'  ' * depth}- ... (deeper spans cut)")
                continue
            lines.append(f"{'  ' * depth}{_line(span)}")
            stack.extend((child, depth + 1) for child in reversed(children.get(span.id, [])))
        return "\n".join(lines)

    def lines(self, since: int = 0) -> list[str]:
        """Every span in the order it happened, one line each; from the ``since``-th span on."""
        return [_line(span) for span in self.spans[since:]]

    def mermaid(self) -> str:
        lines = ["sequenceDiagram"]
        for span in self.spans:
            arrow = "-)" if span.kind in {"send", "deliver", "destination", "redrive"} else "->>"
            note = f"{span.kind}{': ' + span.detail if span.detail else ''} ({span.outcome})"
            lines.append(f"    {_actor(span.source)}{arrow}{_actor(span.target)}: {note}")
        return "\n".join(lines)


MAX_DEPTH = 40


def _line(span: Span) -> str:
    timing = f"t={span.at:g}s" + (f"..{span.ended:g}s" if span.ended not in (None, span.at) else "")
    detail = f" {span.detail}" if span.detail else ""
    return f"- [{timing}] {span.kind} {span.source} -> {span.target}{detail}: {span.outcome}"


def _actor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name) or "unknown"
