"""Input templates: EventBridge's ``InputTransformer`` and EventBridge Pipes' ``InputTemplate``.

EventBridge names its values in ``InputPathsMap`` (``<name>``); Pipes puts JSON paths straight in
the template (``<$.body.id>``), which :func:`paths_in` turns into such a map.
"""

from __future__ import annotations

import json
import re
from typing import Any

from localcloud.lib.json_path import MISSING, select

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.$\[\]\-]+)>")
_UNESCAPED_QUOTE = re.compile(r'(?<!\\)"')


def paths_in(template: str) -> dict[str, str]:
    """The JSON paths a Pipes template uses as placeholders, each named by itself."""
    return {name: name for name in _PLACEHOLDER.findall(template) if name.startswith("$")}


def transform(
    transformer: dict[str, Any], event: dict[str, Any], predefined: dict[str, str], raw: dict[str, str]
) -> str:
    """Fill an ``InputTransformer``'s template, as EventBridge does.

    Inside a JSON string a value goes in escaped, without quotes; elsewhere in a JSON template
    (one that starts with ``{`` or ``[``) it goes in as JSON; in a plain-text template a string goes
    in as it is. A path that selects nothing gives ``null`` (an empty string inside a string).
    ``raw`` variables (the event itself) always go in as they are. Unknown placeholders are kept.
    """
    template: str = transformer["InputTemplate"]
    values = {name: select(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}
    values.update(predefined)
    json_template = template.lstrip().startswith(("{", "["))
    parts: list[str] = []
    position, in_string = 0, False
    for placeholder in _PLACEHOLDER.finditer(template):
        text = template[position : placeholder.start()]
        in_string ^= len(_UNESCAPED_QUOTE.findall(text)) % 2 == 1
        parts.append(text)
        name = placeholder[1]
        if name in raw:
            parts.append(raw[name])
        elif name in values:
            parts.append(_fill(values[name], in_string=in_string, json_template=json_template))
        else:
            parts.append(placeholder[0])
        position = placeholder.end()
    parts.append(template[position:])
    return "".join(parts)


def _fill(value: Any, *, in_string: bool, json_template: bool) -> str:
    if value is MISSING:
        return "" if in_string or not json_template else "null"
    if in_string:
        return json.dumps(value if isinstance(value, str) else json.dumps(value))[1:-1]
    if isinstance(value, str) and not json_template:
        return value
    return json.dumps(value)
