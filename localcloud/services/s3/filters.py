"""S3's refusal of a notification configuration whose filters overlap.

Two configurations of one bucket may not both match an event: S3 refuses the configuration
(``InvalidArgument``) when two of them share an event type (``s3:ObjectCreated:*`` covers
``s3:ObjectCreated:Put``) and their prefixes overlap (one starts with the other; an absent prefix
overlaps every prefix) and their suffixes overlap (one ends with the other), whatever their
destinations. This is what keeps one object event from reaching two configurations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

AMBIGUOUS = (
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
    "prefixes are overlapping for the same event type."
)


class Filtered(Protocol):
    events: list[str]
    prefix: str
    suffix: str


def _events_overlap(first: Iterable[str], second: Iterable[str]) -> bool:
    def covers(pattern: str, event: str) -> bool:
        return pattern == event or (pattern.endswith("*") and event.startswith(pattern[:-1]))

    return any(covers(a, b) or covers(b, a) for a in first for b in second)


def overlapping(configurations: Sequence[Filtered]) -> tuple[int, int] | None:
    """The indexes of the first two configurations an object event could match both of, if any."""
    for i, first in enumerate(configurations):
        for j in range(i + 1, len(configurations)):
            second = configurations[j]
            if (
                _events_overlap(first.events, second.events)
                and (first.prefix.startswith(second.prefix) or second.prefix.startswith(first.prefix))
                and (first.suffix.endswith(second.suffix) or second.suffix.endswith(first.suffix))
            ):
                return i, j
    return None
