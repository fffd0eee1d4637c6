"""HTTP API parameter mapping: how API Gateway (v2) changes a request on its way to an integration,
and the integration's answer on its way back.

Request mapping keys are ``overwrite:``, ``append:`` or ``remove:`` then ``header.{name}`` or
``querystring.{name}``, and ``overwrite:path``; for an AWS service integration the keys are the
service call's parameter names (``QueueUrl``, ``MessageBody``...). Response mapping is by the
integration's status code, with ``overwrite:statuscode`` besides the header keys. A value is a
static string, or holds references, alone or within text (``Bearer $request.header.token``, or
``${request.header.token}``): ``$request.header.{name}`` (several values joined with commas, as
API Gateway joins them), ``$request.querystring.{name}``, ``$request.path.{name}`` (a path
parameter), ``$request.path`` (the whole path), ``$request.body`` and ``$request.body.{json path}``,
``$context.{name}``, ``$stageVariables.{name}``, and in a response ``$response.header.{name}``,
``$response.body`` and ``$response.body.{json path}``. A reference to nothing is empty.

Pure: the caller gives the request's (or response's) facts as :class:`Sources`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from localcloud.lib import json_path

ACTIONS = ("overwrite", "append", "remove")
_REFERENCE = re.compile(
    r"\$\{(?P<braced>[^}]+)\}|\$(?P<bare>(?:request|response)\.(?:header|querystring|path|body)"
    r"(?:\.[A-Za-z0-9_\-\[\]]+(?:\.[A-Za-z0-9_\-\[\]]+)*)?|context\.[A-Za-z0-9_.]+|stageVariables\.[A-Za-z0-9_]+)"
)


class MappingError(Exception):
    """A mapping the template cannot mean: an unknown action, location or reference."""


@dataclass
class Sources:
    """What a mapping value may read."""

    headers: dict[str, list[str]] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    path_parameters: dict[str, str] = field(default_factory=dict)
    path: str = ""
    body: bytes = b""
    context: dict[str, Any] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, list[str]] = field(default_factory=dict)
    response_body: bytes = b""


@dataclass
class MappedRequest:
    """The integration request a mapping changes."""

    path: str
    headers: dict[str, list[str]]
    query: dict[str, list[str]]


def value(expression: str, sources: Sources) -> str:
    """``expression`` with each reference replaced by what it names (empty when nothing)."""
    return _REFERENCE.sub(lambda match: _resolve(match["braced"] or match["bare"], sources), expression)


def map_request(mapping: dict[str, str], request: MappedRequest, sources: Sources) -> MappedRequest:
    """``request`` after the integration's ``RequestParameters``, applied in the template's order."""
    headers = {name: list(values) for name, values in request.headers.items()}
    query = {name: list(values) for name, values in request.query.items()}
    path = request.path
    for key, expression in mapping.items():
        action, _, target = key.partition(":")
        if action not in ACTIONS:
            raise MappingError(f"request parameter {key}: the action must be one of {', '.join(ACTIONS)}")
        if target == "path":
            if action != "overwrite":
                raise MappingError(f"request parameter {key}: the path can only be overwritten")
            path = value(expression, sources)
            continue
        location, _, name = target.partition(".")
        if location not in ("header", "querystring") or not name:
            raise MappingError(f"request parameter {key}: expected header.<name>, querystring.<name> or path")
        bucket = headers if location == "header" else query
        _apply(bucket, action, name, expression, sources, case_insensitive=location == "header")
    return MappedRequest(path, headers, query)


def map_response(
    mappings: dict[str, dict[str, str]], status: int, headers: dict[str, list[str]], sources: Sources
) -> tuple[int, dict[str, list[str]]]:
    """The status and headers after the ``ResponseParameters`` for ``status``, if any."""
    mapping = mappings.get(str(status))
    if not mapping:
        return status, headers
    headers = {name: list(values) for name, values in headers.items()}
    for key, expression in mapping.items():
        action, _, target = key.partition(":")
        if action not in ACTIONS:
            raise MappingError(f"response parameter {key}: the action must be one of {', '.join(ACTIONS)}")
        if target.lower() == "statuscode":
            if action != "overwrite":
                raise MappingError(f"response parameter {key}: the status code can only be overwritten")
            mapped = value(expression, sources).strip()
            if not mapped.isdigit() or not 100 <= int(mapped) <= 599:
                raise MappingError(f"response parameter {key}: {mapped!r} is not an HTTP status code")
            status = int(mapped)
            continue
        location, _, name = target.partition(".")
        if location != "header" or not name:
            raise MappingError(f"response parameter {key}: expected header.<name> or statuscode")
        _apply(headers, action, name, expression, sources, case_insensitive=True)
    return status, headers


def service_parameters(mapping: dict[str, str], sources: Sources) -> dict[str, str]:
    """An AWS service integration's parameters, by name, with what their values name (a reference to
    nothing leaves the parameter out)."""
    resolved = {}
    for name, expression in mapping.items():
        mapped = value(expression, sources)
        if mapped != "" or not _REFERENCE.search(expression):
            resolved[name] = mapped
    return resolved


# ---------------------------------------------------------------------------------------- helpers


def _apply(
    bucket: dict[str, list[str]],
    action: str,
    name: str,
    expression: str,
    sources: Sources,
    *,
    case_insensitive: bool,
) -> None:
    existing = [key for key in bucket if (key.lower() == name.lower() if case_insensitive else key == name)]
    if action == "remove":
        for key in existing:
            del bucket[key]
        return
    mapped = value(expression, sources)
    if action == "overwrite":
        for key in existing:
            del bucket[key]
        bucket[name] = [mapped]
        return
    target = existing[0] if existing else name
    bucket.setdefault(target, []).append(mapped)


def _resolve(reference: str, sources: Sources) -> str:
    kind, _, rest = reference.partition(".")
    if kind == "context":
        return _text(_dotted(sources.context, rest))
    if kind == "stageVariables":
        return sources.stage_variables.get(rest, "")
    if kind not in ("request", "response"):
        raise MappingError(f"${{{reference}}} is not a reference API Gateway knows")
    location, _, name = rest.partition(".")
    if kind == "response":
        if location == "header":
            return _joined(sources.response_headers, name)
        if location == "body":
            return _body(sources.response_body, name)
        raise MappingError(f"${reference}: a response has a header and a body")
    if location == "header":
        return _joined(sources.headers, name)
    if location == "querystring":
        return ",".join(sources.query.get(name, []))
    if location == "path":
        return sources.path_parameters.get(name, "") if name else sources.path
    if location == "body":
        return _body(sources.body, name)
    raise MappingError(f"${reference} is not a reference API Gateway knows")


def _joined(headers: dict[str, list[str]], name: str) -> str:
    return ",".join(v for key, values in headers.items() if key.lower() == name.lower() for v in values)


def _body(body: bytes, path: str) -> str:
    text = body.decode("utf-8", errors="replace")
    if not path:
        return text
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return ""
    found = json_path.select(document, f"$.{path}")
    return "" if found is json_path.MISSING else _text(found)


def _dotted(document: dict[str, Any], path: str) -> Any:
    found: Any = document
    for part in path.split("."):
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def _text(found: Any) -> str:
    if found is None:
        return ""
    if isinstance(found, str):
        return found
    if isinstance(found, bool):
        return "true" if found else "false"
    return json.dumps(found, separators=(",", ":")) if isinstance(found, dict | list) else str(found)
