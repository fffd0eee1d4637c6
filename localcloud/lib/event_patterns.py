"""EventBridge event patterns, as EventBridge rules, Lambda's filter criteria and SNS's filter
policies use them, compiled and matched the way AWS's Event Ruler does.

What that means, beyond the obvious:

- Patterns and events are flattened to dot-joined paths, so ``{"detail.state": [...]}`` and
  ``{"detail": {"state": [...]}}`` are one pattern, and an event key ``"state.status"`` is reached by
  ``{"state": {"status": [...]}}`` (the EventBridge user guide's "Considerations when creating event
  patterns"; Event Ruler's "Compiled rules and JSON keys with dots").
- Arrays are crushed out: an array's elements are each a value of the same path, and a pattern
  matches when any one matches. Two fields of one match must not come from different elements of
  the same array.
- Every operator matches leaves only: ``exists: true`` needs a value (``null`` counts; an object or
  an empty array does not), ``exists: false`` matches where no value is.
- A literal number matches the same number however written (``5`` and ``5.0``); strings, numbers,
  booleans and ``null`` never match one another.
- A pattern AWS would refuse is refused here too, with AWS's reason (:class:`InvalidEventPattern`).

The one thing not modelled is EventBridge's "rule is too complex" refusal of wildcard patterns.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

#: What EventBridge answers for a pattern it refuses; the reason follows.
INVALID = "Event pattern is not valid. Reason: "
OR = "$or"
_OPERATORS = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "numeric",
    "anything-but",
    "exists",
    "cidr",
)
_RANGE_OPERATORS = (">", ">=", "<", "<=")

Matcher = Callable[[Any], bool]


class InvalidEventPattern(ValueError):
    """A pattern EventBridge refuses (``InvalidEventPatternException``), worded as AWS words it."""

    def __init__(self, reason: str) -> None:
        super().__init__(INVALID + reason)
        self.reason = reason


@dataclass(frozen=True)
class _Field:
    """One path of a pattern: it matches where any of its matchers matches a value there; or, for
    ``exists: false`` alone, where the event has no value there."""

    path: str
    matchers: tuple[Matcher, ...]
    absent_ok: bool


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: alternatives (from ``$or``), each a conjunction of fields."""

    alternatives: tuple[tuple[_Field, ...], ...]

    def matches(self, event: Any) -> bool:
        if not isinstance(event, dict):
            return False
        leaves: dict[str, list[tuple[Any, tuple[tuple[int, int], ...]]]] = {}
        for path, value, membership in _flatten(event, "", ()):
            leaves.setdefault(path, []).append((value, membership))
        return any(_conjunction(fields, leaves, 0, ()) for fields in self.alternatives)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether ``event`` matches ``pattern``; an invalid pattern raises :class:`InvalidEventPattern`."""
    return compile_pattern(pattern).matches(event)


def compile_pattern(pattern: Any) -> Pattern:
    """The compiled form of ``pattern``, or :class:`InvalidEventPattern` with AWS's reason."""
    try:
        key = json.dumps(pattern)  # in its own order: the first key of an expression decides it
    except (TypeError, ValueError):
        raise InvalidEventPattern("Filter is not an object") from None
    return _compiled(key)


@functools.lru_cache(maxsize=512)
def _compiled(key: str) -> Pattern:
    pattern = json.loads(key)
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object")
    alternatives: list[dict[str, _Field]] = [{}]
    alternatives = _object(pattern, "", alternatives, inside_or=False)
    return Pattern(tuple(tuple(rule.values()) for rule in alternatives))


def _object(
    node: dict[str, Any], prefix: str, rules: list[dict[str, _Field]], *, inside_or: bool
) -> list[dict[str, _Field]]:
    if not node:
        raise InvalidEventPattern("Empty objects are not allowed")
    for name, value in node.items():
        if name == OR:
            rules = _or(value, prefix, rules)
            continue
        if inside_or and name in _OPERATORS:
            raise InvalidEventPattern(f"{name} is Ruler reserved fieldName which cannot be used inside {OR}.")
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            rules = _object(value, path, rules, inside_or=inside_or)
        elif isinstance(value, list):
            field = _field(path, value)
            for rule in rules:
                if path in rule:
                    raise InvalidEventPattern(f"Path `{path}` cannot be allowed multiple times")
                rule[path] = field
        else:
            raise InvalidEventPattern(f'"{name}" must be an object or an array')
    return rules


def _or(value: Any, prefix: str, rules: list[dict[str, _Field]]) -> list[dict[str, _Field]]:
    if not isinstance(value, list):
        raise InvalidEventPattern(f"It must be an Array followed with {OR}.")
    if not all(isinstance(branch, dict) for branch in value):
        raise InvalidEventPattern(f"Only JSON object is allowed in array of {OR} relationship.")
    if len(value) < 2:
        raise InvalidEventPattern(f"There must have at least 2 Objects in {OR} relationship.")
    result: list[dict[str, _Field]] = []
    for branch in value:
        result.extend(_object(branch, prefix, [dict(rule) for rule in rules], inside_or=True))
    return result


def _field(path: str, values: list[Any]) -> _Field:
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")
    matchers: list[Matcher] = []
    absent_ok = False
    for value in values:
        if isinstance(value, dict):
            matcher = _expression(value)
            if matcher is _absent:
                absent_ok = True
                continue
            matchers.append(matcher)
        elif isinstance(value, list):
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
        else:
            matchers.append(_literal(value))
    return _Field(path, tuple(matchers), absent_ok)


def _literal(expected: Any) -> Matcher:
    if isinstance(expected, bool) or expected is None:
        return lambda value: value is expected
    if isinstance(expected, int | float):
        number = _decimal(expected)
        return lambda value: _is_number(value) and _decimal(value) == number
    return lambda value: isinstance(value, str) and value == expected


def _expression(expression: dict[str, Any]) -> Matcher:
    if not expression:
        raise InvalidEventPattern("Match expression name not found")
    name, argument = next(iter(expression.items()))
    builder = _EXPRESSIONS.get(name)
    if builder is None:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    matcher = builder(argument)
    if len(expression) > 1:
        raise InvalidEventPattern(
            "Too many elements in numeric expression"
            if name in ("numeric", "anything-but")
            else "Only one key allowed in match expression"
        )
    return matcher


def _affix(kind: str) -> Callable[[Any], Matcher]:
    test = str.startswith if kind == "prefix" else str.endswith

    def build(argument: Any) -> Matcher:
        if isinstance(argument, dict):
            text = _ignoring_case(argument, kind)
            return lambda value: isinstance(value, str) and test(value.lower(), text.lower())
        if not isinstance(argument, str):
            raise InvalidEventPattern(f"{kind} match pattern must be a string")
        return lambda value: isinstance(value, str) and test(value, argument)

    return build


def _ignoring_case(argument: dict[str, Any], kind: str) -> str:
    if not argument:
        raise InvalidEventPattern(f"{kind.capitalize()} expression name not found")
    operator, text = next(iter(argument.items()))
    if operator != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {kind} pattern: {operator}")
    if not isinstance(text, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    if len(argument) > 1:
        raise InvalidEventPattern("Only one key allowed in match expression")
    return text


def _equals_ignore_case(argument: Any) -> Matcher:
    if not isinstance(argument, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    folded = argument.lower()
    return lambda value: isinstance(value, str) and value.lower() == folded


def _wildcard(argument: Any, what: str = "wildcard match pattern must be a string") -> Matcher:
    if not isinstance(argument, str):
        raise InvalidEventPattern(what)
    regex = _wildcard_regex(argument)
    return lambda value: isinstance(value, str) and regex.fullmatch(value) is not None


def _wildcard_regex(text: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise InvalidEventPattern(f"Invalid escape character at pos {index + 1}")
            parts.append(re.escape(following))
            index += 2
            continue
        if char == "*":
            if text[index + 1 : index + 2] == "*":
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {index + 1}")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def _numeric(argument: Any) -> Matcher:
    if not isinstance(argument, list):
        raise InvalidEventPattern("Value of numeric must be an array.")
    terms = list(argument)
    if not terms or not isinstance(terms[0], str):
        raise InvalidEventPattern(
            f"Invalid member in numeric match: {json.dumps(terms[0]) if terms else ']'}"
        )
    checks: list[Callable[[Decimal], bool]] = []
    operator = terms[0]
    if operator not in ("=", *_RANGE_OPERATORS):
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")
    bound = _numeric_bound(terms, 1, "equals" if operator == "=" else operator)
    checks.append(_comparison(operator, bound))
    if len(terms) > 2:
        if operator not in (">", ">="):
            raise InvalidEventPattern("Too many elements in numeric expression")
        top = terms[2]
        if not isinstance(top, str):
            raise InvalidEventPattern(f"Bad value in numeric range: {json.dumps(top)}")
        if top not in ("<", "<="):
            raise InvalidEventPattern(f"Bad numeric range operator: {top}")
        upper = _numeric_bound(terms, 3, top)
        if upper <= bound:
            raise InvalidEventPattern("Bottom must be less than top")
        checks.append(_comparison(top, upper))
        if len(terms) > 4:
            raise InvalidEventPattern("Too many terms in numeric range expression")
    return lambda value: _is_number(value) and all(check(_decimal(value)) for check in checks)


def _numeric_bound(terms: list[Any], index: int, name: str) -> Decimal:
    if index >= len(terms) or not _is_number(terms[index]):
        raise InvalidEventPattern(f"Value of {name} must be numeric")
    return _decimal(terms[index])


def _comparison(operator: str, bound: Decimal) -> Callable[[Decimal], bool]:
    return {
        "=": lambda v: v == bound,
        ">": lambda v: v > bound,
        ">=": lambda v: v >= bound,
        "<": lambda v: v < bound,
        "<=": lambda v: v <= bound,
    }[operator]


def _anything_but(argument: Any) -> Matcher:
    if isinstance(argument, dict):
        if not argument:
            raise InvalidEventPattern("Anything-But expression name not found")
        operator, values = next(iter(argument.items()))
        if operator not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {operator}")
        if len(argument) > 1:
            raise InvalidEventPattern("Too many elements in numeric expression")
        return _anything_but_of(operator, values)
    if isinstance(argument, list):
        if any(isinstance(v, bool) or not isinstance(v, str | int | float) for v in argument):
            raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
        if not argument or len({isinstance(v, str) for v in argument}) > 1:
            raise InvalidEventPattern(
                "Inside anything but list, either all values are number or string, mixed type is not supported"
            )
        excluded = [_literal(v) for v in argument]
    elif isinstance(argument, str | int | float) and not isinstance(argument, bool):
        excluded = [_literal(argument)]
    else:
        raise InvalidEventPattern("Value of anything-but must be an array or single string/number value.")
    return lambda value: not any(matcher(value) for matcher in excluded)


def _anything_but_of(operator: str, values: Any) -> Matcher:
    if isinstance(values, dict | bool) or values is None:
        raise InvalidEventPattern("Value of anything-but must be an array or single string/number value.")
    listed = values if isinstance(values, list) else [values]
    for text in listed:
        if not isinstance(text, str):
            raise InvalidEventPattern(
                {
                    "equals-ignore-case": "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported.",
                    "wildcard": "wildcard match pattern must be a string",
                }.get(operator, "prefix/suffix match pattern must be a string")
            )
        if operator in ("prefix", "suffix") and not text:
            raise InvalidEventPattern("Null prefix/suffix not allowed")
    if operator == "equals-ignore-case":
        excluded = [_equals_ignore_case(text) for text in listed]
    elif operator == "wildcard":
        excluded = [_wildcard(text) for text in listed]
    else:
        excluded = [_affix(operator)(text) for text in listed]
    # A value of another type is not among the excluded strings, so it matches (as on AWS).
    return lambda value: not any(matcher(value) for matcher in excluded)


def _exists(argument: Any) -> Matcher:
    if argument is True:
        return _present
    if argument is False:
        return _absent
    raise InvalidEventPattern("exists match pattern must be either true or false.")


def _cidr(argument: Any) -> Matcher:
    if not isinstance(argument, str):
        raise InvalidEventPattern("prefix match pattern must be a string")
    address, slash, bits = argument.partition("/")
    if not slash or "/" in bits:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    if not bits.isdigit():
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer")
    try:
        network = ipaddress.ip_network(f"{address}/{bits}", strict=False)
    except ValueError:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InvalidEventPattern(f"Nonstandard IP address: {address}") from None
        raise InvalidEventPattern(
            f"Malformed CIDR, mask bits must be at most the address's length: {bits}"
        ) from None

    def within(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return within


def _present(value: Any) -> bool:
    """``exists: true``: any value is one."""
    return True


def _absent(value: Any) -> bool:
    """``exists: false``: a marker, never called; the field matches where it has no value."""
    return False


_EXPRESSIONS: dict[str, Callable[[Any], Matcher]] = {
    "prefix": _affix("prefix"),
    "suffix": _affix("suffix"),
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "numeric": _numeric,
    "anything-but": _anything_but,
    "exists": _exists,
    "cidr": _cidr,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decimal(value: int | float) -> Decimal:
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:  # pragma: no cover: JSON numbers are finite
        return Decimal("NaN")


def _flatten(
    node: Any, path: str, membership: tuple[tuple[int, int], ...]
) -> Iterator[tuple[str, Any, tuple[tuple[int, int], ...]]]:
    """Every leaf of ``node`` as (dot-joined path, value, the array elements it lies in)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flatten(value, f"{path}.{key}" if path else key, membership)
    elif isinstance(node, list):
        for index, element in enumerate(node):
            yield from _flatten(element, path, (*membership, (id(node), index)))
    else:
        yield path, node, membership


def _consistent(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> bool:
    """Whether two values lie in the same element of every array they both lie in."""
    if not a or not b:
        return True
    indices = dict(a)
    return all(indices.get(array, index) == index for array, index in b)


def _conjunction(
    fields: tuple[_Field, ...],
    leaves: dict[str, list[tuple[Any, tuple[tuple[int, int], ...]]]],
    at: int,
    chosen: tuple[tuple[tuple[int, int], ...], ...],
) -> bool:
    """Whether fields[at:] all match, each with a value consistent with those already chosen."""
    if at == len(fields):
        return True
    field = fields[at]
    values = leaves.get(field.path, [])
    if field.absent_ok and not values:
        return _conjunction(fields, leaves, at + 1, chosen)
    for value, membership in values:
        if (
            any(matcher(value) for matcher in field.matchers)
            and all(_consistent(membership, other) for other in chosen)
            and _conjunction(fields, leaves, at + 1, (*chosen, membership))
        ):
            return True
    return False
