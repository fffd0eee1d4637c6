"""What happened, and because of what: every delivery and invocation with its cause and outcome.

Prints as an indented tree (for failing-test output), one line per span (``serve``'s stream) and as
a Mermaid sequence diagram (:mod:`localcloud.report` puts it in an HTML page). Resources are named
by construct path (``Pattern/Worker``) once the stack is deployed (:meth:`Trace.name_resources`),
by physical name with ``physical=True``; repeated sibling spans print as one line
(``24 x request client -> api:Api POST /prod/webhooks: 202``) unless ``full=True``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
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
        self.labels: dict[str, str] = {}
        """Construct path (``Pattern/Worker``) by physical name, for the names spans carry."""

    def name_resources(self, paths: Mapping[str, str], physical_ids: Mapping[str, str]) -> None:
        """Label each resource's physical name (and the name at the end of its URL or ARN) with its
        construct path, stack and ``/Resource`` left out: ``paths`` and ``physical_ids`` by logical id."""
        for logical_id, physical_id in physical_ids.items():
            path = paths.get(logical_id, logical_id)
            label = path.split("/", 1)[-1].removesuffix("/Resource") if "/" in path else path
            for name in {physical_id, physical_id.rsplit("/", 1)[-1], physical_id.rsplit(":", 1)[-1]}:
                if len(name) > 12:
                    self.labels.setdefault(name, label)

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

    def tree(self, *, physical: bool = False, full: bool = False) -> str:
        """Each span under its cause, indented; a long causal chain is cut at :data:`MAX_DEPTH`.
        Consecutive siblings that differ only in ids and times print once, counted."""
        lines: list[str] = []
        for depth, group in self._walk(full):
            if depth > MAX_DEPTH:
                lines.append(f"{'  ' * depth}- ... (deeper spans cut)")
            else:
                lines.append(f"{'  ' * depth}{self._line(group, physical)}")
        return "\n".join(lines)

    def lines(self, since: int = 0, *, physical: bool = False) -> list[str]:
        """Every span in the order it happened, one line each; from the ``since``-th span on."""
        return [self._line([span], physical) for span in self.spans[since:]]

    def mermaid(self, *, physical: bool = False, full: bool = False) -> str:
        """A sequence diagram in causal order: each span a message, repeated ones counted."""
        actors: dict[str, str] = {}
        messages = []
        for depth, group in self._walk(full):
            if depth > MAX_DEPTH:
                continue
            span = group[0]
            source, target = (self._name(name, physical) for name in (span.source, span.target))
            for name in (source, target):
                actors.setdefault(name, f"A{len(actors) + 1}")
            arrow = "-)" if span.kind in {"send", "deliver", "destination", "redrive"} else "->>"
            count = f"{len(group)} x " if len(group) > 1 else ""
            detail = _IDS.sub("…", span.detail) if len(group) > 1 else span.detail
            note = f"{count}{span.kind}{': ' + detail if detail else ''} ({span.outcome})"
            messages.append(f"    {actors[source]}{arrow}{actors[target]}: {_mermaid_text(note)}")
        declared = [f"    participant {alias} as {_mermaid_text(name)}" for name, alias in actors.items()]
        return "\n".join(["sequenceDiagram", *declared, *messages])

    def _walk(self, full: bool) -> Iterable[tuple[int, list[Span]]]:
        """``(depth, spans)`` in causal order, where ``spans`` are one span or (unless ``full``) a
        run of consecutive siblings alike in all but ids and times, shown by the first's subtree."""
        children: dict[int | None, list[Span]] = {}
        for span in self.spans:
            children.setdefault(span.parent, []).append(span)
        signatures: dict[int, str] = {}

        def signature(span: Span) -> str:
            if span.id not in signatures:
                inner = ",".join(signature(child) for child in children.get(span.id, []))
                own = f"{span.kind}|{span.source}|{span.target}|{_IDS.sub('#', span.detail)}|{span.outcome}"
                signatures[span.id] = f"{own}[{inner}]"
            return signatures[span.id]

        def runs(spans: list[Span]) -> list[list[Span]]:
            grouped: list[list[Span]] = []
            for span in spans:
                if not full and grouped and signature(grouped[-1][0]) == signature(span):
                    grouped[-1].append(span)
                else:
                    grouped.append([span])
            return grouped

        stack = [(group, 0) for group in reversed(runs(children.get(None, [])))]
        while stack:
            group, depth = stack.pop()
            yield depth, group
            if depth <= MAX_DEPTH:
                stack.extend((run, depth + 1) for run in reversed(runs(children.get(group[0].id, []))))

    def _name(self, name: str, physical: bool) -> str:
        """``name`` with each physical name in it (alone, after ``service:``, or a word of
        ``states:StartExecution as <role>``) replaced by its construct path."""
        if physical or not self.labels:
            return name
        return " ".join(self._word(word) for word in name.split(" "))

    def _word(self, word: str) -> str:
        if word in self.labels:
            return self.labels[word]
        service, sep, rest = word.partition(":")
        return f"{service}:{self.labels[rest]}" if sep and rest in self.labels else word

    def _line(self, group: list[Span], physical: bool) -> str:
        span = group[0]
        ended = max((s.ended if s.ended is not None else s.at) for s in group)
        timing = f"t={span.at:g}s" + (f"..{ended:g}s" if ended != span.at else "")
        detail = f" {_IDS.sub('…', span.detail) if len(group) > 1 else span.detail}" if span.detail else ""
        count = f"{len(group)} x " if len(group) > 1 else ""
        source, target = self._name(span.source, physical), self._name(span.target, physical)
        return f"- [{timing}] {count}{span.kind} {source} -> {target}{detail}: {span.outcome}"


MAX_DEPTH = 40
#: What differs between spans alike: ids (UUIDs, hex, long numbers) in their details.
_IDS = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|\b[0-9a-f]{16,}\b|\b\d{6,}\b")


def _mermaid_text(text: str) -> str:
    """Text Mermaid reads as a message or a name: no statement separators, entity codes or breaks."""
    return re.sub(r"[;#\n\r]", " ", text)
