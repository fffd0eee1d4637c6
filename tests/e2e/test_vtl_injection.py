"""No request value can change the structure of an integration request that a VTL template builds.

Every request template of every synthesized stack that splices request values (``$input.params``,
``$input.body``, ``$input.json``, ``$input.path``) is found from the templates themselves, so a new
template is covered without editing this file. Each is rendered by the local cloud's VTL engine
(whose ``$util.escapeJavaScript`` is Apache Commons', as AWS's is) once with a plain marker and then
with structure-breaking values in each spliced input: path parameter, query string, header and body.
The output is parsed (JSON, or a form for query-protocol services), and every string that held JSON
in the plain rendering (Step Functions' ``input``, EventBridge's ``Detail``, a stored body) is parsed
too, at each level. The hostile rendering must have exactly the plain one's structure, with the
value intact where the marker was: nothing added, nothing renamed, no operation changed.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import pytest

from localcloud.services.apigateway.vtl import TemplateFailed, render
from patterns.defaults import vtl_json_string

pytestmark = pytest.mark.e2e

MARKER = "zq9Marker"
#: What the inputs not under test carry, so only one input holds the marker at a time.
OTHER = "otherValue"
HOSTILE = (
    '"',
    "\\",
    '"}',
    '\\"',
    "\\'",
    "'",
    "\u0000",
    "\n\r\t\b\f",
    "\u2028\u2029",
    "caf\u00e9 \u20ac \U0001f600",
    "\ud800",
    "</script>",
    '","method":"DELETE',
    '\\",\\"method\\":\\"DELETE',
    '"}, "Action": "DeleteMessage", "x": {"',
    "$context.requestId #set($x = 1)",
    "%22&Action=DeleteQueue&x=",
)
#: Where a template reads request values; the name in ``$input.params('name')`` decides the kind.
_SPLICES = re.compile(r"\$input\.(?:params|body|json|path)\b|\$util\.parseJson\(\$input")
_PARAM = re.compile(r"""\$input\.params\(\s*['"]([^'"]+)['"]\s*\)""")


@dataclass
class SplicingTemplate:
    stack: str
    method: str
    path: str
    content_type: str
    template: str
    integration_content_type: str
    params: dict[str, str]
    """Each ``$input.params('name')`` the template reads, and its kind: path, querystring or header."""
    reads_body: bool

    @property
    def label(self) -> str:
        return f"{self.stack} {self.method} {self.path} ({self.content_type})"


def _text(value: Any) -> str:
    """A template string with its intrinsics (ARNs, names) replaced by plain placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_text(part) for part in parts)
    return "resolved-by-cloudformation"


def _resource_path(resources: dict[str, Any], ref: Any) -> str:
    if not (isinstance(ref, dict) and "Ref" in ref and ref["Ref"] in resources):
        return ""  # the API's root resource
    resource = resources[ref["Ref"]]["Properties"]
    return f"{_resource_path(resources, resource['ParentId'])}/{resource['PathPart']}"


def splicing_templates(stack: str, template: dict[str, Any]) -> list[SplicingTemplate]:
    resources = template["Resources"]
    found = []
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        properties = resource["Properties"]
        integration = properties.get("Integration", {})
        if integration.get("Type") not in ("AWS", "HTTP", "MOCK"):
            continue
        path = _resource_path(resources, properties["ResourceId"]) or "/"
        declared = {
            key.rsplit(".", 1)[-1]: key.split(".")[2] for key in properties.get("RequestParameters", {})
        }
        headers = integration.get("RequestParameters", {})
        integration_type = _text(headers.get("integration.request.header.Content-Type", "'application/json'"))
        for content_type, raw in integration.get("RequestTemplates", {}).items():
            text = _text(raw)
            if not _SPLICES.search(text):
                continue
            params = {
                name: "path" if f"{{{name}}}" in path else declared.get(name, "querystring")
                for name in _PARAM.findall(text)
            }
            found.append(
                SplicingTemplate(
                    stack=stack,
                    method=properties["HttpMethod"],
                    path=path,
                    content_type=content_type,
                    template=text,
                    integration_content_type=integration_type.strip("'"),
                    params=params,
                    reads_body=bool(re.search(r"\$input\.(?:body|json|path)\b", text)),
                )
            )
    return found


def _body(value: str) -> dict[str, Any]:
    """A body carrying ``value`` in a string field, a nested one and a key, whatever the model is."""
    return {
        "type": "order.placed",
        "name": value,
        "price": 1,
        "payload": {"note": value, value: [value]},
        "records": [{"partitionKey": value, "data": {"note": value}}],
    }


#: A body whose JSON value is followed by text that would add a key if spliced as JSON text.
FIRST_VALUE = '{"type": "order.placed", "name": "n", "price": 1, "payload": {}}'
TRAILING_TEXT = ', "request_id": "x", "zq9": {"a": 1}'


def _render(spliced: SplicingTemplate, value: str, where: str, body: str | None = None) -> str:
    params: dict[str, dict[str, str]] = {"path": {}, "querystring": {}, "header": {}}
    for name, kind in spliced.params.items():
        params[kind][name] = value if where == name else OTHER
    body = json.dumps(_body(value if where == "body" else OTHER)) if body is None else body
    context = {
        "httpMethod": spliced.method,
        "requestId": "11111111-2222-3333-4444-555555555555",
        "requestTimeEpoch": 1767225600000,
        "requestTime": "01/Jan/2026:00:00:00 +0000",
        "resourcePath": spliced.path,
        "stage": "prod",
        "apiId": "abc123",
        "accountId": "123456789012",
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "test"},
        "requestOverride": {"header": {}, "querystring": {}, "path": {}},
        "responseOverride": {"header": {}, "status": None},
    }
    return render(spliced.template, body=body, params=params, context=context, stage_variables={})


def _parse(spliced: SplicingTemplate, text: str) -> Any:
    if spliced.integration_content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"a form key repeated: {keys}"
        return dict(pairs)
    return _loads(text)


def _loads(text: str) -> Any:
    """JSON, refusing a repeated key: the service would read one of the two, an injected one maybe."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"a JSON key repeated: {keys}"
        return dict(pairs)

    return json.loads(text, object_pairs_hook=unique)


def _unfold(tree: Any, shape: Any, opaque: str | None = None) -> Any:
    """``tree`` with every string parsed as JSON where ``shape`` (the expected rendering) holds JSON;
    a string equal to ``opaque`` (the raw body, stored as text) stands for what the shape expects."""
    if isinstance(shape, dict):
        assert isinstance(tree, dict) and tree.keys() == shape.keys(), f"keys {list(tree)} != {list(shape)}"
        return {key: _unfold(tree[key], shape[key], opaque) for key in shape}
    if isinstance(shape, list):
        assert isinstance(tree, list) and len(tree) == len(shape)
        return [_unfold(item, model, opaque) for item, model in zip(tree, shape, strict=True)]
    if isinstance(shape, _Encoded):
        assert isinstance(tree, str), f"expected base64, got {tree!r}"
        return _unfold(base64.b64decode(tree, validate=True).decode(), shape.value, opaque)
    if isinstance(shape, _Nested):
        assert isinstance(tree, str), f"expected JSON text, got {tree!r}"
        if tree == opaque:
            return _plain(shape.value)
        return _unfold(_loads(tree), shape.value, opaque)
    return tree


class _Nested:
    """A string of the plain rendering that holds a JSON object or array."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _Encoded:
    """A string of the plain rendering that is base64 (a blob, such as Kinesis's ``Data``) of text
    holding a request value: the value is checked inside the decoded text."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _decoded(text: str) -> str | None:
    if len(text) < 8 or len(text) % 4 or not _BASE64.fullmatch(text):
        return None
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except ValueError:
        return None
    return decoded if MARKER in decoded or OTHER in decoded else None


_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _shape(tree: Any) -> Any:
    if isinstance(tree, str) and (decoded := _decoded(tree)) is not None:
        return _Encoded(_shape(decoded))
    if isinstance(tree, dict):
        return {key: _shape(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_shape(item) for item in tree]
    if isinstance(tree, str) and tree[:1] in "{[":
        try:
            parsed = json.loads(tree)
        except ValueError:
            return tree
        if isinstance(parsed, dict | list):
            return _Nested(_shape(parsed))
    return tree


def _plain(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {key: _plain(value) for key, value in shape.items()}
    if isinstance(shape, list):
        return [_plain(item) for item in shape]
    if isinstance(shape, _Nested | _Encoded):
        return _plain(shape.value)
    return shape


def _with(tree: Any, value: str) -> Any:
    """``tree`` with the marker replaced by ``value``, in keys and strings."""
    if isinstance(tree, dict):
        return {_with(key, value): _with(item, value) for key, item in tree.items()}
    if isinstance(tree, list):
        return [_with(item, value) for item in tree]
    if isinstance(tree, _Nested):
        return _Nested(_with(tree.value, value))
    if isinstance(tree, _Encoded):
        return _Encoded(_with(tree.value, value))
    if isinstance(tree, str):
        return tree.replace(MARKER, value)
    return tree


def _depth(shape: Any, found: int = 0) -> int:
    """How many JSON strings deep the marker sits, at the deepest."""
    if isinstance(shape, dict):
        return max([_depth(v, found) for v in shape.values()] + [_depth(k, found) for k in shape], default=-1)
    if isinstance(shape, list):
        return max((_depth(item, found) for item in shape), default=-1)
    if isinstance(shape, _Nested):
        return _depth(shape.value, found + 1)
    if isinstance(shape, _Encoded):
        return _depth(shape.value, found)
    return found if isinstance(shape, str) and MARKER in shape else -1


def check(spliced: SplicingTemplate) -> list[str]:
    """Every way a hostile value changed the structure of what ``spliced`` renders."""
    problems = []
    inputs = [*spliced.params, *(["body"] if spliced.reads_body else [])]
    for where in inputs:
        shape = _shape(_parse(spliced, _render(spliced, MARKER, where)))
        if _depth(shape) < 0:
            problems.append(f"{spliced.label}: {where} does not reach the integration request")
            continue
        for value in HOSTILE:
            expected = _with(shape, value)
            try:
                rendered = _render(spliced, value, where)
                got = _unfold(_parse(spliced, rendered), expected)
            except (AssertionError, ValueError, TemplateFailed) as error:
                problems.append(f"{spliced.label}: {where}={value!r} broke the request: {error}")
                continue
            if got != _plain(expected):
                problems.append(f"{spliced.label}: {where}={value!r} changed it to {got!r}")
    return problems


def check_trailing_text(spliced: SplicingTemplate) -> list[str]:
    """Whether text after the body's JSON value changes what ``spliced`` renders.

    API Gateway does not document whether its validator refuses such a body (the local cloud's
    does), so a template must be safe either way: it may fail to render (nothing is sent), keep the
    raw body as an opaque string, or read the first value only; it may not add or replace a key."""
    if not spliced.reads_body:
        return []
    expected = _shape(_parse(spliced, _render(spliced, OTHER, "body", body=FIRST_VALUE)))
    raw = FIRST_VALUE + TRAILING_TEXT
    try:
        rendered = _render(spliced, OTHER, "body", body=raw)
    except TemplateFailed:
        return []
    try:
        got = _unfold(_parse(spliced, rendered), expected, opaque=raw)
    except (AssertionError, ValueError) as error:
        return [f"{spliced.label}: trailing text broke the request: {error}"]
    return [] if got == _plain(expected) else [f"{spliced.label}: trailing text changed it to {got!r}"]


@pytest.fixture(scope="module")
def spliced_templates(cloud_assembly) -> list[SplicingTemplate]:
    """From every stack the app synthesizes: each pattern's, and each of its variants'."""
    return [
        found
        for stack in cloud_assembly.stacks
        for found in splicing_templates(stack.stack_name, stack.template)
    ]


def test_the_search_finds_the_templates_that_splice_request_values(spliced_templates):
    labels = {(t.stack, t.method, t.path) for t in spliced_templates}
    assert {("SfnCrudStack", verb, "/items/{id}") for verb in ("GET", "PUT", "DELETE")} <= labels
    assert {"StorageFirstStack", "StorageFirstDynamodbStack", "StorageFirstEventbridgeStack"} <= {
        stack for stack, method, path in labels if (method, path) == ("POST", "/requests")
    }
    by_method = {(t.stack, t.method): t for t in spliced_templates}
    assert by_method["SfnCrudStack", "GET"].params == {"id": "path"}
    assert by_method["SfnCrudStack", "PUT"].reads_body


def test_no_request_value_changes_the_structure_of_any_integration_request(spliced_templates):
    problems = [problem for spliced in spliced_templates for problem in check(spliced)]
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} in all)"


def test_text_after_the_bodys_json_value_cannot_add_or_replace_a_key(spliced_templates):
    problems = [problem for spliced in spliced_templates for problem in check_trailing_text(spliced)]
    assert not problems, "\n".join(problems)


def test_the_trailing_text_check_catches_a_raw_body_spliced_as_json_text():
    body = vtl_json_string("$input.body", 1)
    raw = SplicingTemplate(
        stack="Example",
        method="POST",
        path="/requests",
        content_type="application/json",
        template=f'{{"Detail": "{{\\"request_id\\": \\"$context.requestId\\", \\"body\\": {body}}}"}}',
        integration_content_type="application/json",
        params={},
        reads_body=True,
    )
    [problem] = check_trailing_text(raw)
    assert "repeated" in problem, problem
    assert (
        check_trailing_text(replace(raw, template=raw.template.replace("$input.body", "$input.json('$')")))
        == []
    )


def test_the_local_clouds_validator_refuses_text_after_the_bodys_json_value(local_cloud):
    """What the local cloud does; AWS does not document it, so the templates do not rely on it."""
    cloud = local_cloud("storage_first", variant="eventbridge")
    answer = cloud.api().post(
        "/requests", body=FIRST_VALUE + TRAILING_TEXT, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert cloud.trace.find("integrate") == []


def test_the_check_catches_a_value_escaped_once_where_it_sits_two_strings_deep():
    once = SplicingTemplate(
        stack="Example",
        method="GET",
        path="/items/{id}",
        content_type="application/json",
        template='{"input": "{\\"method\\": \\"GET\\", '
        '\\"id\\": \\"$util.escapeJavaScript($input.params(\'id\')).replaceAll("\\\\\'", "\'")\\"}"}',
        integration_content_type="application/json",
        params={"id": "path"},
        reads_body=False,
    )
    problems = check(once)
    assert any('\'","method":"DELETE\'' in problem for problem in problems), problems


def test_query_strings_and_headers_are_checked_at_each_level_too():
    """No template reads them yet; the check covers them for the first one that does."""
    query, header = vtl_json_string("$input.params('q')", 1), vtl_json_string("$input.params('X-Trace')", 2)
    template = '{"q": "%s", "input": "{\\"trace\\": \\"%s\\"}"}'
    safe = SplicingTemplate(
        stack="Example",
        method="POST",
        path="/things",
        content_type="application/json",
        template=template % (query, header),
        integration_content_type="application/json",
        params={"q": "querystring", "X-Trace": "header"},
        reads_body=False,
    )
    assert check(safe) == []
    escaped_once = replace(safe, template=template % (query, vtl_json_string("$input.params('X-Trace')", 1)))
    problems = check(escaped_once)
    assert problems and all("X-Trace=" in problem for problem in problems), problems
