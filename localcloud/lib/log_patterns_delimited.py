"""Space-delimited CloudWatch Logs filter patterns: ``[ip, user, ..., status_code = 5*, bytes > 1000]``.

As AWS reads them: the log event is split on whitespace, text in double quotes or square brackets
counting as one field (``"GET / HTTP/1.1"``, ``[10/Oct/2000:13:25:15 -0700]``, delimiters dropped);
the pattern names each field in order, and ``...`` stands for any number of fields (none included).
Without ``...`` the event must have exactly as many fields as the pattern. A field may carry a
condition on itself or on any field named in the pattern: ``=`` and ``!=`` on text (``*`` is a
wildcard) or numbers, ``< <= > >=`` on numbers only (a field that is not a number does not match),
joined by ``&&`` (binding first) and ``||``. The names and values of a match are what a subscription
sends as each event's ``extractedFields``.

Example::

    pattern = DelimitedPattern("[ip, user, ..., status = 5*, bytes > 1000]")
    pattern.extract('10.0.0.1 - "GET / HTTP/1.1" 503 2048')
    # {'ip': '10.0.0.1', 'user': '-', 'status': '503', 'bytes': '2048'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from localcloud.errors import LocalCloudError

ELLIPSIS = "..."
_EVENT_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONDITION = re.compile(r'\s*(&&|\|\||!=|<=|>=|=|<|>|"(?:[^"\\]|\\.)*"|[^\s=!<>&|"]+)')
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

Fields = dict[str, str]
Test = Callable[[Fields], bool]


class InvalidDelimitedPattern(LocalCloudError):
    pass


@dataclass(frozen=True)
class _Field:
    name: str
    test: Test | None = None
    names: frozenset[str] = frozenset()
    """The fields the condition reads."""


def event_fields(message: str) -> list[str]:
    """A log event's fields as a space-delimited pattern sees them."""
    return [match[match.lastindex or 0] for match in _EVENT_FIELD.finditer(message)]


class DelimitedPattern:
    """A compiled space-delimited pattern; calling it tells whether a message matches."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        body = pattern.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise self._error("a space-delimited pattern is enclosed in [ ]")
        self.fields = [self._field(part) for part in _split_top(body[1:-1], self)]
        names = [f.name for f in self.fields if f.name != ELLIPSIS]
        if len(names) != len(set(names)):
            raise self._error("a field is named twice")
        for field in self.fields:
            unknown = sorted(field.names - set(names))
            if unknown:
                raise self._error(f"the condition names {unknown[0]!r}, which is not a field of the pattern")

    def __call__(self, message: str) -> bool:
        return self.extract(message) is not None

    def extract(self, message: str) -> Fields | None:
        """The named fields of ``message`` if it matches, else ``None``."""
        return self._bind(event_fields(message), 0, 0, {})

    def _bind(self, values: list[str], field: int, value: int, bound: Fields) -> Fields | None:
        if field == len(self.fields):
            if value != len(values):
                return None
            return bound if all(f.test is None or f.test(bound) for f in self.fields) else None
        spec = self.fields[field]
        if spec.name == ELLIPSIS:
            for skip in range(len(values) - value + 1):
                found = self._bind(values, field + 1, value + skip, bound)
                if found is not None:
                    return found
            return None
        if value == len(values):
            return None
        return self._bind(values, field + 1, value + 1, {**bound, spec.name: values[value]})

    def _field(self, text: str) -> _Field:
        if text == ELLIPSIS:
            return _Field(ELLIPSIS)
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$", text, re.DOTALL)
        if match is None:
            raise self._error(f"cannot read field {text!r}: a field is a name, with a condition or not")
        name, condition = match[1], match[2].strip()
        if not condition:
            return _Field(name)
        reader = _Condition(f"{name} {condition}", self)
        return _Field(name, reader.parse(), frozenset(reader.names))

    def _error(self, reason: str) -> InvalidDelimitedPattern:
        return InvalidDelimitedPattern(f"filter pattern {self.pattern!r}: {reason}")


def _split_top(body: str, owner: DelimitedPattern) -> list[str]:
    """The pattern's comma-separated fields (commas inside quotes stay)."""
    parts, current, quoted = [], [], False
    for char in body:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    if quoted or any(not p for p in parts):
        raise owner._error("an empty field or an unclosed quote")
    return parts


class _Condition:
    """``or := and ('||' and)*; and := cmp ('&&' cmp)*; cmp := name op value``."""

    def __init__(self, text: str, owner: DelimitedPattern) -> None:
        self.owner, self.tokens, self.position = owner, [], 0
        position = 0
        while position < len(text):
            match = _CONDITION.match(text, position)
            if match is None:
                if text[position:].strip():
                    raise owner._error(f"cannot read {text[position:]!r}")
                break
            self.tokens.append(match[1])
            position = match.end()
        self.names: set[str] = set()

    def parse(self) -> Test:
        test = self._any()
        if self.position != len(self.tokens):
            raise self.owner._error(f"unexpected {self.tokens[self.position]!r}")
        return test

    def _any(self) -> Test:
        tests = [self._all()]
        while self._take("||"):
            tests.append(self._all())
        return lambda fields: any(t(fields) for t in tests)

    def _all(self) -> Test:
        tests = [self._comparison()]
        while self._take("&&"):
            tests.append(self._comparison())
        return lambda fields: all(t(fields) for t in tests)

    def _comparison(self) -> Test:
        name, operator, raw = self._next(), self._next(), self._next()
        if not _NAME.match(name):
            raise self.owner._error(f"expected a field name, got {name!r}")
        if operator not in ("=", "!=", *_ORDER):
            raise self.owner._error(f"unknown operator {operator!r}")
        self.names.add(name)
        value = json.loads(raw) if raw.startswith('"') else raw
        if not raw.startswith('"') and _NUMBER.match(raw):
            return _numeric(name, operator, float(raw))
        if operator in _ORDER:
            raise self.owner._error(f"{name} {operator} {raw}: only numbers compare with {operator}")
        wildcard = re.compile("^" + ".*".join(map(re.escape, value.split("*"))) + "$", re.DOTALL)
        equal = operator == "="
        return lambda fields: (wildcard.match(fields[name]) is not None) == equal

    def _next(self) -> str:
        if self.position >= len(self.tokens):
            raise self.owner._error("a condition ends too soon")
        self.position += 1
        return self.tokens[self.position - 1]

    def _take(self, token: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == token:
            self.position += 1
            return True
        return False


def _numeric(name: str, operator: str, expected: float) -> Test:
    def test(fields: Fields) -> bool:
        text = fields[name]
        if not _NUMBER.match(text):
            return operator == "!="
        value = float(text)
        if operator in ("=", "!="):
            return (value == expected) == (operator == "=")
        return _ORDER[operator](value, expected)

    return test
