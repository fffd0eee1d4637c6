"""Metric math for alarms: the basic expressions, over time series aligned on the alarm's periods.

Supported: numbers, the ids of the alarm's other queries, ``+ - * /`` (a series with a series
keeps the timestamps both have; division by zero leaves the point out), comparisons and
``AND``/``OR`` (1 or 0, for ``IF``), ``SUM``, ``AVG``, ``MIN``, ``MAX`` (of ``[m1, m2]`` or
``METRICS()``: per timestamp; of one series: one number), ``ABS``, ``IF(condition, a[, b])`` and
``FILL(series, value | REPEAT)``. Anything else is refused by name when the alarm is created.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Series = dict[datetime, float]
Value = float | Series | list[Series]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/(),<>\[\]])|(?P<string>\"[^\"]*\"|'[^']*'))"
)
FUNCTIONS = ("SUM", "AVG", "MIN", "MAX", "ABS", "IF", "FILL", "METRICS")


class ExpressionError(ValueError):
    pass


def tokens(expression: str) -> list[str]:
    found, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read {expression[position:]!r} in {expression!r}")
        found.append(match.group().strip())
        position = match.end()
    return [t for t in found if t]


@dataclass
class Node:
    kind: str
    """``number``, ``id``, ``call``, ``list``, ``binary``, ``negate``, ``keyword``."""
    value: Any = None
    children: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokens(expression)
        self.position = 0

    def parse(self) -> Node:
        node = self.logical()
        if self.position != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.position]!r} in {self.expression!r}")
        return node

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise ExpressionError(f"expected {expected or 'more'} in {self.expression!r}")
        self.position += 1
        return token

    def binary(self, operators: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        node = operand()
        while (self.peek() or "").upper() in operators:
            operator = self.take().upper()
            node = Node("binary", {"&&": "AND", "||": "OR"}.get(operator, operator), (node, operand()))
        return node

    def logical(self) -> Node:
        return self.binary(("AND", "OR", "&&", "||"), self.comparison)

    def comparison(self) -> Node:
        return self.binary((">", "<", ">=", "<=", "==", "!="), self.additive)

    def additive(self) -> Node:
        return self.binary(("+", "-"), self.term)

    def term(self) -> Node:
        return self.binary(("*", "/"), self.unary)

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return Node("negate", children=(self.unary(),))
        return self.primary()

    def primary(self) -> Node:
        word = self.take()
        if word == "(":
            node = self.logical()
            self.take(")")
            return node
        if word == "[":
            items = [self.logical()]
            while self.peek() == ",":
                self.take()
                items.append(self.logical())
            self.take("]")
            return Node("list", children=tuple(items))
        if re.fullmatch(r"\d.*", word):
            return Node("number", float(word))
        if word.upper() == "REPEAT":
            return Node("keyword", "REPEAT")
        if self.peek() == "(":
            name = word.upper()
            if name not in FUNCTIONS:
                raise ExpressionError(
                    f"function {word} is not supported offline (supported: {', '.join(FUNCTIONS)})"
                )
            self.take("(")
            arguments: list[Node] = []
            while self.peek() != ")":
                arguments.append(self.logical())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return Node("call", name, tuple(arguments))
        if re.fullmatch(r"[a-z][A-Za-z0-9_]*", word):
            return Node("id", word)
        raise ExpressionError(f"unexpected {word!r} in {self.expression!r}")


def parse(expression: str) -> Node:
    """The expression's tree; raises :class:`ExpressionError` naming what is not supported."""
    return _Parser(expression).parse()


def referenced(node: Node) -> set[str]:
    """The query ids an expression reads."""
    found = {node.value} if node.kind == "id" else set()
    for child in node.children:
        found |= referenced(child)
    return found


_BINARY: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else None,
    ">": lambda a, b: float(a > b),
    "<": lambda a, b: float(a < b),
    ">=": lambda a, b: float(a >= b),
    "<=": lambda a, b: float(a <= b),
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "AND": lambda a, b: float(bool(a) and bool(b)),
    "OR": lambda a, b: float(bool(a) or bool(b)),
}
_AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
    "MIN": min,
    "MAX": max,
}


def evaluate(node: Node, series: dict[str, Series], moments: Sequence[datetime]) -> Value:
    """``node`` over the queries' ``series``; ``moments`` are the periods evaluated (for FILL)."""
    if node.kind == "number":
        return node.value
    if node.kind == "id":
        if node.value not in series:
            raise ExpressionError(f"no query has the id {node.value!r}")
        return series[node.value]
    if node.kind == "list":
        return [as_series(evaluate(child, series, moments), moments) for child in node.children]
    if node.kind == "negate":
        return _apply(lambda a, b: -a, evaluate(node.children[0], series, moments), 0.0)
    if node.kind == "binary":
        left, right = (evaluate(child, series, moments) for child in node.children)
        return _apply(_BINARY[node.value], left, right)
    if node.kind == "call":
        return _call(node, series, moments)
    raise ExpressionError(f"{node.value} cannot stand alone")


def _call(node: Node, series: dict[str, Series], moments: Sequence[datetime]) -> Value:
    name, arguments = node.value, node.children
    if name == "METRICS":
        return [s for key, s in series.items() if not key.startswith("_expression:")]
    values = [evaluate(a, series, moments) if a.kind != "keyword" else a.value for a in arguments]
    if name in _AGGREGATES:
        (argument,) = values
        aggregate = _AGGREGATES[name]
        if isinstance(argument, list):
            out: Series = {}
            for moment in moments:
                present = [s[moment] for s in argument if moment in s]
                if present:
                    out[moment] = aggregate(present)
            return out
        if isinstance(argument, dict):
            return aggregate(list(argument.values())) if argument else {}
        return argument
    if name == "ABS":
        return _apply(lambda a, b: abs(a), values[0], 0.0)
    if name == "IF":
        condition = as_series(values[0], moments)
        then = values[1]
        otherwise = values[2] if len(values) > 2 else None
        out = {}
        for moment, flag in condition.items():
            chosen = then if flag else otherwise
            picked = chosen.get(moment) if isinstance(chosen, dict) else chosen
            if picked is not None:
                out[moment] = picked
        return out
    if name == "FILL":
        source, filler = as_series(values[0], moments), values[1]
        out, last = {}, None
        for moment in moments:
            if moment in source:
                out[moment] = last = source[moment]
            elif filler == "REPEAT":
                if last is not None:
                    out[moment] = last
            elif isinstance(filler, float):
                out[moment] = filler
        return out
    raise ExpressionError(f"function {name} is not supported offline")


def as_series(value: Value, moments: Sequence[datetime]) -> Series:
    if isinstance(value, dict):
        return value
    if isinstance(value, float | int):
        return dict.fromkeys(moments, float(value))
    raise ExpressionError("a list of series is not one series")


def _apply(operation: Callable[[float, float], float | None], left: Value, right: Value) -> Value:
    if isinstance(left, list) or isinstance(right, list):
        raise ExpressionError("arithmetic on a list of series: aggregate it first (SUM, AVG...)")
    if isinstance(left, dict) or isinstance(right, dict):
        keys = [
            k
            for k in (left if isinstance(left, dict) else right)
            if not isinstance(right, dict) or k in right
        ]
        if isinstance(left, dict) and isinstance(right, dict):
            keys = [k for k in left if k in right]
        out: Series = {}
        for key in keys:
            a = left[key] if isinstance(left, dict) else left
            b = right[key] if isinstance(right, dict) else right
            result = operation(a, b)
            if result is not None:
                out[key] = result
        return out
    result = operation(left, right)
    return result if result is not None else {}
