"""Cases at a schema field's documented limits: the last value accepted and the first refused, each side."""

from __future__ import annotations

from typing import Any

#: (field, value, the problem the handler names, or None when the value is accepted)
Case = tuple[str, Any, str | None]


def length_limits(field: str, shortest: int, longest: int) -> list[Case]:
    """A string field holding ``shortest`` to ``longest`` characters."""
    cases: list[Case] = [(field, "x" * length, None) for length in sorted({shortest, longest})]
    if shortest > 0:
        cases.append((field, "x" * (shortest - 1), f"{field}: shorter than {shortest}"))
    cases.append((field, "x" * (longest + 1), f"{field}: longer than {longest}"))
    return cases


def number_limits(field: str, minimum: int | None = None, maximum: int | None = None) -> list[Case]:
    """An integer field from ``minimum`` to ``maximum`` (either may be open)."""
    cases: list[Case] = []
    if minimum is not None:
        cases += [(field, minimum, None), (field, minimum - 1, f"{field}: less than {minimum}")]
    if maximum is not None:
        cases += [(field, maximum, None), (field, maximum + 1, f"{field}: greater than {maximum}")]
    return cases


def case_id(case: Any) -> str:
    """A readable test id: a made-up string by its length (``128ch``), anything else as it is."""
    if isinstance(case, str) and set(case) <= {"x"}:
        return f"{len(case)}ch"
    return str(case)


def refused(cases: list[Case]) -> list[Case]:
    """Only the cases a handler refuses (where an accepted value needs more than the field to pass)."""
    return [case for case in cases if case[2] is not None]
