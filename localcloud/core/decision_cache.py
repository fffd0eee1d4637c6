"""IAM decisions remembered per principal, action, resource and request context, for as long as the
statements they were made on are the same.

A served request runs the same checks every time: API Gateway's permission to invoke the function
(a resource policy, with the API's ARN as ``aws:SourceArn``) and the role's check on each DynamoDB
call. Each walks every statement and matches its patterns with ``fnmatch``. A decision depends only
on those statements and its inputs, so it is kept and given again while the statements are the
ones it was made on.

Correctness first: an entry holds the very list of statements it was decided on and the statements
in it at that moment, and is used only while the engine still holds that list (a role's list is
looked up again on every call) with exactly those statement objects, in that order. A policy added
(``add_identity_policy``, ``add_resource_policy``, ``add_function_permission``), removed, replaced
or reordered, or a list swapped for another, fails that check and the decision is made again.
Statements are never edited in place (only their ``used`` record grows). What a decision records on
the side is replayed on each hit: the patterns it used (``make grants`` reads them) and the
conditions it could not evaluate (listed and logged once).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from localcloud.core.iam import Decision, Statement

#: Entries kept per engine before it starts again: request contexts vary (client addresses), and a
#: cloud lives as long as a test or a ``serve``.
LIMIT = 4096

T = TypeVar("T")


@dataclass
class Decided:
    decision: Decision
    statements: list[Statement]
    """The list it was decided on (kept, so its ``id`` in the key stays its own)."""
    snapshot: tuple[Statement, ...]
    """The statements in it at that moment."""
    used: tuple[tuple[Statement, str], ...]
    notes: tuple[tuple[str, str], ...]


class DecisionCache:
    def __init__(self) -> None:
        self._entries: dict[Hashable, Decided] = {}
        self._kept: dict[Hashable, tuple[list[Statement], tuple[Statement, ...], Any]] = {}
        self.hits = 0
        self.misses = 0

    def kept(self, key: Hashable, statements: list[Statement], make: Callable[[], T]) -> T:
        """``make()``, remembered for ``key`` under the same rule as a decision: while ``statements``
        are the very list, with the very statements, it was made on. For the part of a decision that
        depends on the statements and ``key`` alone (which of them name the caller and cover the
        action and resource), so that a request whose context is new evaluates only conditions."""
        entry = self._kept.get(key)
        if entry is not None and entry[0] is statements and _same(entry[1], statements):
            return entry[2]
        value = make()
        if len(self._kept) >= LIMIT:
            self._kept.clear()
        self._kept[key] = (statements, tuple(statements), value)
        return value

    def decide(
        self,
        key: Hashable,
        statements: list[Statement],
        note: Callable[[str, str], None],
        evaluate: Callable[[Callable[[str, str], None], list[tuple[Statement, str]]], Decision],
    ) -> Decision:
        """The decision for ``key`` on ``statements``: remembered if they are unchanged, else
        ``evaluate(note, used)``, which reports unevaluated conditions to the ``note`` it is given
        and appends the (statement, pattern) pairs it used to ``used``."""
        entry = self._entries.get(key)
        if entry is not None and entry.statements is statements and _same(entry.snapshot, statements):
            self.hits += 1
            for statement, pattern in entry.used:
                statement.used.add(pattern)
            for condition, effect in entry.notes:
                note(condition, effect)
            return entry.decision
        self.misses += 1
        notes: list[tuple[str, str]] = []
        used: list[tuple[Statement, str]] = []

        def noted(condition: str, effect: str) -> None:
            notes.append((condition, effect))
            note(condition, effect)

        decision = evaluate(noted, used)
        for statement, pattern in used:
            statement.used.add(pattern)
        if len(self._entries) >= LIMIT:
            self._entries.clear()
        self._entries[key] = Decided(decision, statements, tuple(statements), tuple(used), tuple(notes))
        return decision

    def clear(self) -> None:
        self._entries.clear()
        self._kept.clear()


def _same(snapshot: Sequence[Any], statements: Sequence[Any]) -> bool:
    return len(snapshot) == len(statements) and all(
        before is now for before, now in zip(snapshot, statements, strict=True)
    )
