"""CloudWatch Logs filter patterns, as subscription filters apply them to log events.

Supported:

- ``""``: every event;
- terms: ``ERROR``, ``"Out of memory"``; every term must occur in the message (case-sensitive);
  ``-term`` must not; ``?ERROR ?WARN``: any of them;
- JSON patterns on events that are JSON objects: ``{ $.level = "ERROR" }``, with ``=`` and ``!=``
  on strings (``*`` is a wildcard), ``= != < <= > >=`` on numbers, ``IS TRUE``, ``IS FALSE``,
  ``IS NULL``, ``NOT EXISTS``, ``&&``, ``||`` and parentheses; selectors in dot notation with
  array indexes (``$.items[0].id``);
- regular expressions: ``%ERROR|WARN%`` (Python's ``re`` stands in for AWS's dialect);
- space-delimited patterns: ``[ip, user, ..., status = 5*, bytes > 1000]``
  (:mod:`localcloud.lib.log_patterns_delimited`); their matchers also ``extract`` the named fields,
  which subscriptions send as ``extractedFields``.

Not supported, and a :class:`UnsupportedFilterPattern` naming it: ``?`` terms mixed with plain
ones, and selectors with wildcards.

Example::

    compile_pattern('{ $.level = "ERROR" }')('{"level": "ERROR", "message": "boom"}')  # True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from localcloud.errors import LocalCloudError
from localcloud.lib.json_path import MISSING, select, steps
from localcloud.lib.log_patterns_delimited import DelimitedPattern, InvalidDelimitedPattern

Matcher = Callable[[str], bool]

_TERM = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_TOKEN = re.compile(r'\s*(\(|\)|&&|\|\||!=|<=|>=|=|<|>|"(?:[^"\\]|\\.)*"|[^\s()=!<>&|"]+)')
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class UnsupportedFilterPattern(LocalCloudError):
    pass


def compile_pattern(pattern: str) -> Matcher:
    """A function telling whether a log message matches ``pattern``."""
    text = pattern.strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise UnsupportedFilterPattern(f"filter pattern {pattern!r}: a JSON pattern ends with '}}'")
        return _json_pattern(text[1:-1], pattern)
    if text.startswith("["):
        try:
            return DelimitedPattern(text)
        except InvalidDelimitedPattern as error:
            raise UnsupportedFilterPattern(str(error)) from None
    if len(text) > 1 and text.startswith("%") and text.endswith("%"):
        expression = re.compile(text[1:-1])
        return lambda message: expression.search(message) is not None
    return _terms(text, pattern)


def _terms(text: str, pattern: str) -> Matcher:
    required, excluded, any_of = [], [], []
    for mark, quoted, bare in _TERM.findall(text):
        term = json.loads(f'"{quoted}"') if quoted else bare
        {"": required, "-": excluded, "?": any_of}[mark].append(term)
    if any_of and (required or excluded):
        raise UnsupportedFilterPattern(f"filter pattern {pattern!r}: '?' terms mixed with others")
    if any_of:
        return lambda message: any(term in message for term in any_of)
    return lambda message: all(t in message for t in required) and not any(t in message for t in excluded)


# ---------------------------------------------------------------------------------------- JSON


def _json_pattern(body: str, pattern: str) -> Matcher:
    tokens, position = [], 0
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None:
            if body[position:].strip():
                raise UnsupportedFilterPattern(f"filter pattern {pattern!r}: cannot read {body[position:]!r}")
            break
        tokens.append(match[1])
        position = match.end()
    parser = _Parser(tokens, pattern)
    test = parser.expression()
    if parser.position != len(tokens):
        raise UnsupportedFilterPattern(f"filter pattern {pattern!r}: unexpected {tokens[parser.position]!r}")

    def matcher(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and test(document)

    return matcher


Test = Callable[[Any], bool]


class _Parser:
    """``or := and ('||' and)*; and := atom ('&&' atom)*; atom := '(' or ')' | comparison``."""

    def __init__(self, tokens: list[str], pattern: str) -> None:
        self.tokens, self.pattern, self.position = tokens, pattern, 0

    def expression(self) -> Test:
        tests = [self._all()]
        while self._take("||"):
            tests.append(self._all())
        return lambda document: any(test(document) for test in tests)

    def _all(self) -> Test:
        tests = [self._atom()]
        while self._take("&&"):
            tests.append(self._atom())
        return lambda document: all(test(document) for test in tests)

    def _atom(self) -> Test:
        if self._take("("):
            test = self.expression()
            self._expect(")")
            return test
        selector = self._next()
        if not selector.startswith("$"):
            raise self._error(f"expected a selector such as $.level, got {selector!r}")
        try:
            steps(selector)
        except LocalCloudError as error:
            raise self._error(str(error)) from None
        operator = self._next()
        if operator.upper() == "IS":
            expected = {"TRUE": True, "FALSE": False, "NULL": None}.get(self._next().upper(), MISSING)
            if expected is MISSING:
                raise self._error("IS takes TRUE, FALSE or NULL")
            return lambda document: _is(select(document, selector), expected)
        if operator.upper() == "NOT":
            self._expect("EXISTS")
            return lambda document: select(document, selector) is MISSING
        if operator not in _COMPARE:
            raise self._error(f"unknown operator {operator!r}")
        return _comparison(selector, operator, self._value())

    def _value(self) -> str | float:
        token = self._next()
        if token.startswith('"'):
            return json.loads(token)
        return float(token) if _NUMBER.match(token) else token

    def _next(self) -> str:
        if self.position >= len(self.tokens):
            raise self._error("the pattern ends too soon")
        self.position += 1
        return self.tokens[self.position - 1]

    def _take(self, token: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == token:
            self.position += 1
            return True
        return False

    def _expect(self, token: str) -> None:
        if self._next().upper() != token:
            raise self._error(f"expected {token!r}")

    def _error(self, reason: str) -> UnsupportedFilterPattern:
        return UnsupportedFilterPattern(f"filter pattern {self.pattern!r}: {reason}")


def _is(value: Any, expected: bool | None) -> bool:
    return value is not MISSING and value is expected


def _comparison(selector: str, operator: str, expected: str | float) -> Test:
    if isinstance(expected, float):
        compare = _COMPARE[operator]

        def numeric(document: Any) -> bool:
            value = select(document, selector)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            return is_number and compare(float(value), expected)

        return numeric
    if operator not in ("=", "!="):
        raise UnsupportedFilterPattern(
            f"{selector} {operator} {expected!r}: strings compare with = and != only"
        )
    wildcard = re.compile("^" + ".*".join(re.escape(part) for part in expected.split("*")) + "$", re.DOTALL)

    def text(document: Any) -> bool:
        value = select(document, selector)
        if value is MISSING or value is None or isinstance(value, dict | list):
            return False
        found = wildcard.match(value if isinstance(value, str) else json.dumps(value)) is not None
        return found == (operator == "=")

    return text
