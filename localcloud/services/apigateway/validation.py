"""Request validators: required parameters, and bodies against the method's JSON-schema model.

A method's validator (``RequestValidatorId``) says what to check. Missing required parameters
answer 400 ``Missing required request parameters: [a, b]``; a body that is not JSON or breaks the
model (chosen by the request's ``Content-Type``, ``application/json`` when there is none, else the
``$default`` model) answers 400 ``Invalid request body``; so does ``NaN`` or ``Infinity``, which
Python's ``json`` would read but JSON does not have. Models are JSON schema draft 4 and may
``$ref`` the API's other models by their API Gateway URL.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from localcloud.services.apigateway.responses import GatewayError
from localcloud.services.apigateway.routing import methods_of

if TYPE_CHECKING:
    from localcloud.services.apigateway.call import Call
    from localcloud.services.apigateway.model import RestApi

#: Models every API has without defining them (CDK's ``Model.EMPTY_MODEL`` and ``ERROR_MODEL``).
BUILT_IN_MODELS: dict[str, Any] = {
    "Empty": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Empty Schema",
        "type": "object",
    },
    "Error": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Error Schema",
        "type": "object",
        "properties": {"message": {"type": "string"}},
    },
}
DEFAULT_CONTENT_TYPE = "application/json"


def validate(call: Call) -> None:
    """Raise the 400 :class:`GatewayError` API Gateway answers when the request breaks its method's validator."""
    method = call.method
    assert method is not None
    validator = call.api.validators.get(method.validator_id or "")
    if validator is None:
        return
    if validator.parameters:
        missing = [
            name for name, required in method.request_parameters.items() if required and _absent(call, name)
        ]
        if missing:
            names = ", ".join(name.rsplit(".", 1)[-1] for name in missing)
            raise GatewayError(
                "BAD_REQUEST_PARAMETERS",
                f"missing required request parameters {names}",
                message=f"Missing required request parameters: [{names}]",
                validation_errors=[f"Missing required request parameters: [{names}]"],
            )
    if validator.body:
        model = _model_name(call)
        if model is not None:
            problems = _body_problems(call, model)
            if problems:
                raise GatewayError(
                    "BAD_REQUEST_BODY",
                    f"body breaks model {model}: {'; '.join(problems)}",
                    validation_errors=problems,
                )


def _absent(call: Call, name: str) -> bool:
    kind, _, key = name.removeprefix("method.request.").partition(".")
    if kind in ("header", "multivalueheader"):
        return call.header(key) is None
    if kind in ("querystring", "multivaluequerystring"):
        return not call.request.query.get(key)
    if kind == "path":
        return not call.path_parameters.get(key)
    return False


def _model_name(call: Call) -> str | None:
    assert call.method is not None
    models = call.method.request_models
    content_type = (call.header("Content-Type") or DEFAULT_CONTENT_TYPE).split(";", 1)[0].strip().lower()
    return models.get(content_type) or models.get("$default")


def _body_problems(call: Call, model: str) -> list[str]:
    """What is wrong with the body for ``model``, one problem each; empty when it fits."""
    text = call.body_text()
    depth = nesting_depth(text) if text.count("[") + text.count("{") > SHALLOW else 0
    if depth > MAX_NESTING_DEPTH:
        return [f"not JSON (nested more than {MAX_NESTING_DEPTH} levels deep)"]
    # Parsing, validating and describing a document take a Python frame per level it nests.
    with _room_for(depth):
        try:
            document = json.loads(text, parse_constant=_not_a_json_number) if text.strip() else {}
        except ValueError as error:
            return [f"not JSON ({error})"]
        validator = _validator(call.api, model)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path)))
        return [_bounded(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}") for e in errors]


#: The longest problem a refusal lists: a problem quotes the value it is about, which may be megabytes.
PROBLEM_LIMIT = 300


def _bounded(problem: str) -> str:
    """``problem`` with the middle of an overlong quoted value cut out, its start and its verdict kept."""
    if len(problem) <= PROBLEM_LIMIT:
        return problem
    return f"{problem[: PROBLEM_LIMIT - 101]}…{problem[-100:]}"


#: API Gateway's JSON parser (Jackson) refuses documents nested deeper than this.
MAX_NESTING_DEPTH = 1000
#: Fewer brackets than this cannot nest deep enough to need more stack than any call has.
SHALLOW = 100


@contextlib.contextmanager
def _room_for(depth: int) -> Iterator[None]:
    """Let the interpreter recurse ``depth`` levels more than this call's stack already has, so a
    document API Gateway parses (up to 1,000 levels) is parsed here too, not a RecursionError."""
    if depth == 0:
        yield
        return
    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, frames + 3 * depth + 200))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def nesting_depth(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest, counted without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _not_a_json_number(token: str) -> Any:
    """``NaN`` and ``Infinity`` are JavaScript, not JSON: API Gateway's parser refuses them."""
    raise ValueError(f"{token} is not a JSON number")


def model_url(api_id: str, name: str) -> str:
    return f"https://apigateway.amazonaws.com/restapis/{api_id}/models/{name}"


def prepare(apis: Iterable[RestApi]) -> None:
    """Compile the body validators of every method that validates its body, as a deployment does,
    so a request pays neither the JSON-schema import nor the compilation."""
    for api in apis:
        for method in methods_of(api.root):
            validator = api.validators.get(method.validator_id or "")
            if validator is None or not validator.body:
                continue
            for model in method.request_models.values():
                with contextlib.suppress(GatewayError):  # answered when a request needs it
                    _validator(api, model)


#: Compiled validators of each live API (by its ``id()``) by model, each with the schemas it was
#: compiled from: a change to them compiles again.
_compiled: dict[int, tuple[weakref.ref[RestApi], dict[str, tuple[dict[str, Any], Any]]]] = {}


def _validator(api: RestApi, model: str) -> Any:
    schemas = {**BUILT_IN_MODELS, **api.models}
    if model not in schemas:
        raise GatewayError("API_CONFIGURATION_ERROR", f"request model {model} is not a model of {api.name}")
    per_api = _compiled_for(api)
    known = per_api.get(model)
    if known is not None and known[0] == schemas:
        return known[1]
    validator = _compile(api, model, schemas)
    per_api[model] = (copy.deepcopy(schemas), validator)
    return validator


def _compiled_for(api: RestApi) -> dict[str, tuple[dict[str, Any], Any]]:
    key = id(api)
    entry = _compiled.get(key)
    if entry is None or entry[0]() is not api:
        entry = (weakref.ref(api, lambda _: _compiled.pop(key, None)), {})
        _compiled[key] = entry
    return entry[1]


def _compile(api: RestApi, model: str, schemas: dict[str, Any]) -> Any:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    registry = Registry().with_resources(
        (model_url(api.id, name), Resource.from_contents(schema, default_specification=DRAFT4))
        for name, schema in schemas.items()
    )
    return jsonschema.Draft4Validator(schemas[model], registry=registry)


def example(api: RestApi, model: str) -> Any:
    """A small body that fits ``model``: each required property with its ``default`` (an annotation
    in draft 4), else a value of its type."""
    schemas = {**BUILT_IN_MODELS, **api.models}
    return _example(schemas.get(model, {}), schemas, api.id)


def _example(schema: dict[str, Any], schemas: dict[str, Any], api_id: str) -> Any:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(schemas.get(name, {}), schemas, api_id)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _example(properties.get(name, {}), schemas, api_id) for name in schema.get("required", [])
        }
    if kind == "array":
        return [_example(schema.get("items", {}), schemas, api_id)] * int(schema.get("minItems", 0))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    return None
