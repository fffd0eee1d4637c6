"""Hostile input for the API patterns' property-based tests, drawn from each route's own model.

A fuzzer's requests: bodies that fit the route's JSON-schema model, the same with one field made
hostile (a lone surrogate, a huge number, deep nesting, an oversized string, an unknown field) or
dropped, and raw bodies no JSON encoder would write (``NaN``, ``1e400``, unclosed, padded past the
handler's limit, invalid UTF-8), sent as ``application/json`` (the model checks first) or as
``text/plain`` (no model applies, so the handler's own checks answer). Whatever comes back must
not be a 5xx, and a 4xx must carry a message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from localcloud.lib.http import HttpResponse
from patterns.registry import get

#: Deterministic and small: each fuzz file stays within the suite's few seconds per e2e file.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

LONE_SURROGATES = ("\ud800", "\udfff", "ok \ud83d", "\udc00 tail")
TOO_LONG = ("k" * 1025, "k" * 2049, "\N{GRINNING FACE}" * 600, "x" * 70_000)
AWKWARD_TEXT = ("", " ", "\x00", "\n", "null", "%", "%ZZ", "..", "\u202e", "\N{GRINNING FACE}")
HUGE_NUMBERS = (10**40, -(10**40), 2**63, 1e308, -1e308, 1e-300, 0.5, -0.0)
DEEP = 50_000
"""Nesting deeper than Python's JSON parser follows: 3.13's C parser reads 5,000 levels, not 20,000."""


def pattern_cloud(cloud_assembly: Any, pattern_id: str) -> Iterator[LocalCloud]:
    """A started cloud of a registered pattern for a whole module: ``yield from pattern_cloud(...)``."""
    with LocalCloud(
        load_stack(cloud_assembly.directory, get(pattern_id).stack_name), start=FIXED_START
    ) as cloud:
        yield cloud


def any_text(min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    """Text with lone surrogates among the characters: JSON can carry them (as ``\\ud800``), and a
    model's ``"type": "string"`` lets them through; hypothesis' own text never has them."""
    surrogate = st.integers(0xD800, 0xDFFF).map(chr)
    return st.lists(st.characters() | surrogate, min_size=min_size, max_size=max_size).map("".join)


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(LONE_SURROGATES + TOO_LONG + AWKWARD_TEXT), st.text(max_size=12), any_text()
    )


def hostile_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        hostile_text(),
        st.sampled_from(HUGE_NUMBERS),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text(), inner, max_size=3),
        max_leaves=6,
    )


def from_model(schema: dict[str, Any], **known: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values that fit a JSON-schema model as API Gateway reads it (draft 4), its bounds included.

    ``known`` draws some top-level properties from values the domain accepts (a country the quote
    service serves), so the fuzz gets past the checks the model cannot express.
    """
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))

        def field(name: str) -> st.SearchStrategy[Any]:
            spec = from_model(properties[name])
            return st.one_of(known[name], spec) if name in known else spec

        return st.fixed_dictionaries(
            {name: field(name) for name in properties if name in required},
            optional={name: field(name) for name in properties if name not in required},
        )
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        low, high = schema.get("minLength", 0), schema.get("maxLength", 50)
        return st.one_of(
            st.text(min_size=low, max_size=min(high, max(low, 20))),
            any_text(low, min(high, max(low, 20))),
            st.just("\N{EURO SIGN}" * high),  # the longest, in 3-byte characters
        )
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "array":
        return st.lists(
            from_model(schema.get("items", {})),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 5), 5),
        )
    return hostile_value()


@st.composite
def hostile_body(draw: st.DrawFn, schema: dict[str, Any], **known: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A body that fits the model but for one field: made hostile, dropped, or unknown."""
    body = draw(from_model(schema, **known))
    name = draw(st.sampled_from([*schema.get("properties", {}), "unknown"]) | hostile_text())
    if draw(st.booleans()):
        body.pop(name, None)
    else:
        body[name] = draw(hostile_value())
    return body


@st.composite
def raw_body(draw: st.DrawFn, schema: dict[str, Any], **known: st.SearchStrategy[Any]) -> bytes:
    """A body no JSON encoder writes: ``NaN``, an out-of-range number, deep nesting, a cut-off or
    padded document, bytes that are not UTF-8."""
    body = draw(from_model(schema, **known))
    name = draw(st.sampled_from(sorted(body) or ["x"]))
    text = json.dumps({**body, name: "__HOLE__"})
    filler = draw(
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "9" * 5_000, "[" * DEEP + "]" * DEEP])
    )
    variant = draw(st.sampled_from(["filled", "cut", "padded", "not-utf8"]))
    if variant == "filled":
        return text.replace('"__HOLE__"', filler).encode()
    if variant == "cut":
        return json.dumps(body)[: draw(st.integers(0, 10))].encode()
    if variant == "padded":
        return (json.dumps(body) + " " * 300_000).encode()
    return json.dumps(body).encode()[:-1] + b"\xff\xfe}"


def bodies(schema: dict[str, Any], **known: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Every kind of body, as the bytes sent (lone surrogates as JSON escapes, as clients send them)."""
    encoded = st.one_of(from_model(schema, **known), hostile_body(schema, **known), hostile_value()).map(
        lambda value: json.dumps(value).encode()
    )
    return st.one_of(encoded, raw_body(schema, **known))


content_types = st.sampled_from(["application/json", "text/plain"])


def segment(value: str) -> str:
    """``value`` as one URL path segment; what UTF-8 cannot carry goes as the bytes a client would send."""
    return quote(value, safe="", errors="surrogatepass")


def ids() -> st.SearchStrategy[str]:
    return st.one_of(st.uuids().map(str), hostile_text().filter(bool))


def tokens() -> st.SearchStrategy[str]:
    """``next_token`` values: garbage, and base64 of JSON or bytes this API never made."""
    return st.one_of(
        hostile_text(),
        hostile_value().map(lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode()),
        st.binary(max_size=20).map(lambda data: base64.urlsafe_b64encode(data).decode()),
        st.sampled_from(["[" * DEEP, '{"id": ""}', '{"id": "' + "a" * 2049 + '"}', '{"id": "\\ud800"}']).map(
            lambda text: base64.urlsafe_b64encode(text.encode()).decode()
        ),
    )


def send(cloud: LocalCloud, method: str, path: str, **kwargs: Any) -> HttpResponse:
    """A request to the cloud's API one virtual second after the last, so the stage's throttle (a
    429 would hide what the pattern answers) never speaks for the pattern."""
    cloud.advance(1)
    return cloud.api().request(method, path, **kwargs)


def assert_no_5xx(response: HttpResponse, request: str) -> None:
    """No 5xx; a 4xx says why in a ``message`` (``Message`` in API Gateway's access-denied answer)."""
    assert response.status < 500, f"{request} -> {response.status} {response.text[:300]}"
    assert response.status != 429, "throttled: the request never reached the pattern"
    if response.status >= 400:
        answer = response.json()
        message = answer.get("message") or answer.get("Message")
        assert isinstance(message, str) and message, f"{request} -> {response.status} without a message"
