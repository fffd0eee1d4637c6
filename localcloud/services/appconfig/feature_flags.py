"""The ``AWS.AppConfig.FeatureFlags`` profile type: the stored form is checked as AppConfig checks
it, and served in the retrieval form, which holds only each flag's value::

    stored:  {"version": "1", "flags": {"premium": {"name": "Premium"}}, "values": {"premium": {"enabled": true}}}
    served:  {"premium": {"enabled": true}}

Multi-variant flags (``_variants``) are served by AWS as Amazon Ion; they are refused here.
"""

from __future__ import annotations

import json
import re
from typing import Any

FEATURE_FLAGS_TYPE = "AWS.AppConfig.FeatureFlags"
_KEY = re.compile(r"^[a-z][a-zA-Z\d_-]{0,63}$")
_FLAG_FIELDS = {"name", "description", "_createdAt", "_updatedAt", "_deprecation", "attributes"}
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "string[]": (list,),
    "number[]": (list,),
}


class InvalidFlags(ValueError):
    """Content AppConfig would refuse for a feature-flag profile; the message says what is wrong."""


def validate(content: bytes) -> dict[str, Any]:
    """The parsed flag set, or :class:`InvalidFlags` naming the first problem found."""
    try:
        document = json.loads(content)
    except ValueError as error:
        raise InvalidFlags(f"feature flag content is not JSON: {error}") from None
    if not isinstance(document, dict) or str(document.get("version")) != "1":
        raise InvalidFlags('feature flag content must be an object with "version": "1"')
    unknown = set(document) - {"version", "flags", "values"}
    if unknown:
        raise InvalidFlags(f"feature flag content has unknown top-level keys {sorted(unknown)}")
    flags, values = document.get("flags", {}), document.get("values", {})
    for key, definition in flags.items():
        if not _KEY.match(key):
            raise InvalidFlags(f"flag key {key!r} must match {_KEY.pattern}")
        extra = set(definition) - _FLAG_FIELDS
        if extra:
            raise InvalidFlags(f"flag {key!r} has unknown fields {sorted(extra)}")
    for key, value in values.items():
        if key not in flags:
            raise InvalidFlags(f"values name flag {key!r}, which is not defined in flags")
        if "_variants" in value:
            raise InvalidFlags(f"flag {key!r} is multi-variant, which the local cloud does not serve")
        if "enabled" in value and not isinstance(value["enabled"], bool):
            raise InvalidFlags(f"flag {key!r}: enabled must be true or false")
        _check_attributes(key, flags[key].get("attributes", {}), value)
    return document


def served(document: dict[str, Any]) -> bytes:
    """What GetLatestConfiguration returns for a validated flag set."""
    values = document.get("values", {})
    retrieved = {}
    for key in document.get("flags", {}):
        value = values.get(key, {})
        attributes = {name: v for name, v in value.items() if not name.startswith("_") and name != "enabled"}
        retrieved[key] = {"enabled": value.get("enabled", False), **attributes}
    return json.dumps(retrieved, separators=(",", ":")).encode()


def _check_attributes(flag: str, definitions: dict[str, Any], value: dict[str, Any]) -> None:
    for name in value:
        if name == "enabled" or name.startswith("_"):
            continue
        if name not in definitions:
            raise InvalidFlags(f"flag {flag!r}: attribute {name!r} is not defined for the flag")
    for name, definition in definitions.items():
        constraints = definition.get("constraints", {})
        if name not in value:
            if constraints.get("required"):
                raise InvalidFlags(f"flag {flag!r}: required attribute {name!r} has no value")
            continue
        _check_constraints(f"flag {flag!r} attribute {name!r}", constraints, value[name])


def _check_constraints(where: str, constraints: dict[str, Any], actual: Any) -> None:
    kind = constraints.get("type")
    if kind in _VALUE_TYPES:
        ok = isinstance(actual, _VALUE_TYPES[kind]) and not (kind == "number" and isinstance(actual, bool))
        if ok and kind.endswith("[]"):
            item_type = str if kind == "string[]" else (int, float)
            ok = all(isinstance(item, item_type) and not isinstance(item, bool) for item in actual)
        if not ok:
            raise InvalidFlags(f"{where}: {actual!r} is not of type {kind}")
    if "enum" in constraints and actual not in constraints["enum"]:
        raise InvalidFlags(f"{where}: {actual!r} is not one of {constraints['enum']}")
    if "pattern" in constraints and not re.search(constraints["pattern"], str(actual)):
        raise InvalidFlags(f"{where}: {actual!r} does not match {constraints['pattern']}")
    if "minimum" in constraints and actual < constraints["minimum"]:
        raise InvalidFlags(f"{where}: {actual!r} is below the minimum {constraints['minimum']}")
    if "maximum" in constraints and actual > constraints["maximum"]:
        raise InvalidFlags(f"{where}: {actual!r} is above the maximum {constraints['maximum']}")
