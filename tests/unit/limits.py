"""Cases at a schema field's documented limits: the last value accepted and the first refused, each side."""

from __future__ import annotations

from typing import Any

#: (field, value, the problem the handler names, or None when the value is accepted)
Case = tuple[str, Any, str | None]


def length_limits(field: str, shortest: int, longest: int) -> list[Case]:
    """A string field holding ``shortest`` to ``longest`` characters."""
    cases: list[Case] = [(field, "x" * shortest, None), (field, "x" * longest, None)]
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
    """A readable test id: ``id-128``, ``total_cents--1``."""
    return str(len(case)) if isinstance(case, str) else str(case)
