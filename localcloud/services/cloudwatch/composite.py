"""A composite alarm's ``AlarmRule``: ``ALARM(x)``, ``OK(x)``, ``INSUFFICIENT_DATA(x)`` (``x`` an
alarm's name or ARN, quoted or not), ``TRUE``, ``FALSE``, ``NOT``, ``AND``, ``OR`` and parentheses,
``NOT`` binding tightest and ``OR`` loosest."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(\(|\)|\"[^\"]*\"|'[^']*'|[^\s()]+)")
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    text: str
    evaluate: Callable[[Callable[[str], str]], bool]
    """``state_of(alarm name or ARN) -> state`` gives whether the rule holds."""
    alarms: frozenset[str]
    """The alarms (names or ARNs, as written) the rule reads."""


def parse_rule(text: str) -> Rule:
    items = [m.group(1) for m in _TOKEN.finditer(text)]
    position = 0
    alarms: set[str] = set()

    def peek() -> str | None:
        return items[position] if position < len(items) else None

    def take() -> str:
        nonlocal position
        if position >= len(items):
            raise RuleError(f"AlarmRule ends too soon: {text!r}")
        position += 1
        return items[position - 1]

    def either() -> Callable:
        left = both()
        while (peek() or "").upper() == "OR":
            take()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, both())
        return left

    def both() -> Callable:
        left = negated()
        while (peek() or "").upper() == "AND":
            take()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, negated())
        return left

    def negated() -> Callable:
        if (peek() or "").upper() == "NOT":
            take()
            inner = negated()
            return lambda s: not inner(s)
        return atom()

    def atom() -> Callable:
        word = take()
        if word == "(":
            inner = either()
            if take() != ")":
                raise RuleError(f"AlarmRule has an unclosed parenthesis: {text!r}")
            return inner
        if word.upper() in ("TRUE", "FALSE"):
            constant = word.upper() == "TRUE"
            return lambda s: constant
        if word.upper() in STATES and peek() == "(":
            take()
            name = take().strip("\"'")
            if take() != ")":
                raise RuleError(f"AlarmRule: {word}( takes one alarm: {text!r}")
            alarms.add(name)
            wanted = word.upper()
            return lambda s: s(name) == wanted
        raise RuleError(f"AlarmRule: unexpected {word!r} in {text!r}")

    function = either()
    if position != len(items):
        raise RuleError(f"AlarmRule: unexpected {items[position]!r} in {text!r}")
    return Rule(text, function, frozenset(alarms))
