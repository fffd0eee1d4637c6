"""Mapping templates: Velocity (VTL) with API Gateway's ``$input``, ``$util``, ``$context`` and
``$stageVariables``, rendered with airspeed.

Values a template reads from JSON print as Java prints them (``{a=1, b=true}``, ``[1, 2]``), and a
missing value prints as nothing, as on AWS. A string's ``length()``, ``substring()`` and
``indexOf()`` count UTF-16 code units as Java's do (an emoji is 2), not code points as airspeed's. A template that does not parse or fails while it runs
raises :class:`TemplateFailed`, which the gateway answers with a 500.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from localcloud.errors import ApiGatewayError, LocalCloudError
from localcloud.lib.json_path import MISSING, select


class TemplateFailed(ApiGatewayError):
    """A mapping template did not parse, or failed while it ran."""


def render(
    template: str,
    *,
    body: str,
    params: dict[str, dict[str, str]],
    context: dict[str, Any],
    stage_variables: dict[str, str],
) -> str:
    """``template`` filled in for one request: ``body`` is what ``$input`` reads (the request body in
    a request template, the integration's answer in a response template). ``context`` may be changed
    by the template (``#set($context.responseOverride.status = 400)``)."""
    import airspeed

    namespace = {
        "input": Input(body, params),
        "util": Util(),
        "context": context,
        "stageVariables": stage_variables,
    }
    try:
        return _parsed(template).merge(namespace)
    except (airspeed.TemplateError, LocalCloudError, ValueError, TypeError, KeyError) as error:
        cause = error.__cause__ or error
        raise TemplateFailed(f"mapping template failed: {type(cause).__name__}: {cause}") from None


@functools.lru_cache(maxsize=256)
def _parsed(template: str) -> Any:
    import airspeed

    _java_string_methods()
    return airspeed.Template(template)


@functools.cache
def _java_string_methods() -> None:
    """Give every template string Java's UTF-16 ``length``, ``substring`` and ``indexOf``: a template
    that bounds a value by ``length()`` must bound it offline as on AWS (airspeed keeps its string
    methods in one table for all templates, so they are replaced there once)."""
    from airspeed import operators

    operators.__additional_methods__[str].update(
        length=lambda self: len(_utf16(self)) // 2,
        substring=_java_substring,
        indexOf=_java_index_of,
    )


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _java_index_of(text: str, part: Any) -> int:
    """``String.indexOf`` in UTF-16 units, -1 when absent (airspeed's raises)."""
    units, wanted = _utf16(text), _utf16(str(part))
    at = units.find(wanted)
    while at > 0 and at % 2:
        at = units.find(wanted, at + 1)
    return at // 2 if at >= 0 else -1


def _java_substring(text: str, begin: int, end: int | None = None) -> str:
    """``String.substring`` in UTF-16 units: a cut may split a surrogate pair, and an index out of
    range fails the template as Java's ``StringIndexOutOfBoundsException`` does."""
    units = _utf16(text)
    end = len(units) // 2 if end is None else end
    if not 0 <= begin <= end <= len(units) // 2:
        raise ValueError(f"substring({begin}, {end}) out of range for length {len(units) // 2}")
    return units[2 * begin : 2 * end].decode("utf-16-le", "surrogatepass")


class JavaMap(dict):
    """A JSON object in a template: prints and answers methods as a Java ``Map`` does."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{key}={_java(value)}" for key, value in self.items()) + "}"

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def containsKey(self, key: str) -> bool:
        return key in self

    def keySet(self) -> list[str]:
        return JavaList(self.keys())

    def entrySet(self) -> list[JavaMap]:
        return JavaList(JavaMap(key=key, value=value) for key, value in self.items())

    def put(self, key: str, value: Any) -> Any:
        previous = self.get(key)
        self[key] = value
        return previous


class JavaList(list):
    """A JSON array in a template, printing and answering as a Java ``List``."""

    def __str__(self) -> str:
        return "[" + ", ".join(_java(value) for value in self) + "]"

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def contains(self, value: Any) -> bool:
        return value in self

    def get(self, index: int) -> Any:
        return self[index]


class JsonNull(str):
    """A JSON null, or a path that leads nowhere: prints as nothing, is false in ``#if`` and equals
    ``""``, as on AWS (airspeed would take ``#if`` on a Python None as true)."""

    def __new__(cls) -> JsonNull:
        return super().__new__(cls, "")

    def __repr__(self) -> str:
        return "null"


NULL = JsonNull()


def _java(value: Any) -> str:
    if value is None or value is NULL:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def wrap(value: Any) -> Any:
    """JSON data as the template sees it: objects and arrays with Java's methods and printing."""
    if isinstance(value, dict):
        return JavaMap((key, wrap(item)) for key, item in value.items())
    if isinstance(value, list):
        return JavaList(wrap(item) for item in value)
    return NULL if value is None else value


class Input:
    """``$input``: the body, JSON paths into it, and the method request's parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]]) -> None:
        self.body = body
        self._params = params

    def path(self, path: str) -> Any:
        found = select(self._document(), _dotted(path))
        return NULL if found is MISSING else wrap(found)

    def json(self, path: str) -> str:
        found = select(self._document(), _dotted(path))
        return "null" if found is MISSING else json.dumps(found, separators=(",", ":"))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return JavaMap((kind, JavaMap(values)) for kind, values in self._params.items())
        for kind in ("path", "querystring"):
            if name in self._params.get(kind, {}):
                return self._params[kind][name]
        lowered = name.lower()
        for header, value in self._params.get("header", {}).items():
            if header.lower() == lowered:
                return value
        return ""

    def _document(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise TemplateFailed(
                f"the body is not JSON, so a JSON path cannot read it: {self.body[:80]!r}"
            ) from None


def _dotted(path: str) -> str:
    """``$['a']['b']`` as ``$.a.b``, the form :mod:`localcloud.lib.json_path` reads."""
    return path.replace("['", ".").replace("']", "").replace('["', ".").replace('"]', "")


class Util:
    """``$util``."""

    def escapeJavaScript(self, value: Any) -> str:
        return escape_javascript("" if value is None else str(value))

    def urlEncode(self, value: Any) -> str:
        # Java's URLEncoder: spaces as +, and only letters, digits and . - * _ left as they are.
        return quote_plus("" if value is None else str(value), safe="*").replace("~", "%7E")

    def urlDecode(self, value: Any) -> str:
        return unquote_plus("" if value is None else str(value))

    def base64Encode(self, value: Any) -> str:
        return base64.b64encode(str(value).encode()).decode()

    def base64Decode(self, value: Any) -> str:
        return base64.b64decode(str(value)).decode()

    def parseJson(self, value: Any) -> Any:
        try:
            return wrap(json.loads(str(value)))
        except ValueError:
            raise TemplateFailed(f"$util.parseJson: not JSON: {str(value)[:80]!r}") from None


_ESCAPES = {
    '"': '\\"',
    "'": "\\'",
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\n": "\\n",
    "\t": "\\t",
    "\f": "\\f",
    "\r": "\\r",
}


def escape_javascript(text: str) -> str:
    """Apache Commons' ``escapeJavaScript``, which API Gateway's ``$util.escapeJavaScript`` is: quotes,
    backslash and ``/`` escaped, control and non-ASCII characters as ``\\uXXXX``."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) > 0x7F:
            out.extend(f"\\u{unit:04X}" for unit in _utf16_units(char))
        else:
            out.append(char)
    return "".join(out)


def _utf16_units(char: str) -> list[int]:
    # A Java string may hold a lone surrogate (from a JSON body's "\ud800"): escaped as is.
    data = char.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
