"""AWS WAF (v2) web ACLs associated with API Gateway stages, evaluated before API Gateway routes.

A web ACL is read from the template when it is provisioned: its rules, in priority order, each a
statement and an action, and its default action. Only what is modelled here is accepted; any
other statement, field, transformation or action stops the stack from starting with an error
naming it, so an ACL is never evaluated as "allow" because part of it was not understood.

Modelled: ``ByteMatchStatement`` on ``UriPath`` (the path as the client sent it, stage included)
with text transformations ``NONE``, ``URL_DECODE`` and ``LOWERCASE`` applied in priority order
and positional constraints ``EXACTLY``, ``STARTS_WITH``, ``ENDS_WITH`` and ``CONTAINS``;
``AndStatement``, ``OrStatement``, ``NotStatement``; rule actions ``Block`` (API Gateway's
``WAF_FILTERED`` answer: 403 ``{"message":"Forbidden"}``), ``Allow`` and ``Count`` (noted, and
evaluation goes on); default actions ``Allow`` and ``Block``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

Match = Callable[[bytes], bool]
"""A compiled statement: does it match the request's URI path (raw bytes)?"""

TRANSFORMATIONS: dict[str, Callable[[bytes], bytes]] = {
    "NONE": lambda value: value,
    "URL_DECODE": unquote_to_bytes,
    "LOWERCASE": bytes.lower,
}
POSITIONS: dict[str, Callable[[bytes, bytes], bool]] = {
    "EXACTLY": lambda value, text: value == text,
    "STARTS_WITH": bytes.startswith,
    "ENDS_WITH": bytes.endswith,
    "CONTAINS": lambda value, text: text in value,
}
ACTIONS = ("Allow", "Block", "Count")


class UnsupportedWafConfiguration(LocalCloudError):
    """A part of a web ACL the local cloud does not evaluate: refused rather than allowed."""

    def __init__(self, web_acl: str, where: str, what: str) -> None:
        super().__init__(
            f"{web_acl}: {where}: {what} is not supported offline (the local cloud evaluates "
            "ByteMatchStatement on UriPath, AndStatement, OrStatement and NotStatement)"
        )


@dataclass(frozen=True)
class Rule:
    name: str
    priority: int
    action: str
    matches: Match


@dataclass
class WebAcl:
    name: str
    arn: str
    default_action: str
    rules: list[Rule]
    counted: dict[str, int] = field(default_factory=dict)
    """How many requests each ``Count`` rule matched."""

    def evaluate(self, uri_path: bytes) -> tuple[str, str | None]:
        """``(action, rule name)`` for a request: the first terminating rule that matches, else the default."""
        for rule in self.rules:
            if not rule.matches(uri_path):
                continue
            if rule.action == "Count":
                self.counted[rule.name] = self.counted.get(rule.name, 0) + 1
                continue
            return rule.action, rule.name
        return self.default_action, None


@dataclass
class Waf:
    """The cloud's web ACLs by ARN, and which ACL each API Gateway stage is associated with."""

    acls: dict[str, WebAcl] = field(default_factory=dict)
    stages: dict[tuple[str, str], WebAcl] = field(default_factory=dict)
    """``(api id, stage name)`` -> its web ACL."""

    def for_stage(self, api_id: str, stage: str) -> WebAcl | None:
        return self.stages.get((api_id, stage))


def waf(cloud: Kernel) -> Waf:
    """WAF's state in this cloud (its service's ``state``)."""
    return cloud.service("wafv2")


def web_acl(name: str, arn: str, props: dict[str, Any]) -> WebAcl:
    """The ACL ``props`` (CloudFormation's ``AWS::WAFv2::WebACL``) describe, compiled; ``name`` is
    its logical id, what errors and the trace call it."""
    if props.get("Scope") != "REGIONAL":
        raise UnsupportedWafConfiguration(
            name, "Scope", f"{props.get('Scope')!r} (API Gateway takes REGIONAL)"
        )
    for key in ("CustomResponseBodies", "CaptchaConfig", "ChallengeConfig", "TokenDomains"):
        if key in props:
            raise UnsupportedWafConfiguration(name, key, key)
    rules = []
    for rule in props.get("Rules", []):
        where = f"rule {rule.get('Name')}"
        if "OverrideAction" in rule or "Action" not in rule:
            raise UnsupportedWafConfiguration(name, where, "a rule without Action (OverrideAction)")
        rules.append(
            Rule(
                rule["Name"],
                int(rule["Priority"]),
                _action(name, where, rule["Action"], ACTIONS),
                _statement(name, where, rule["Statement"]),
            )
        )
    if len({rule.priority for rule in rules}) != len(rules):
        raise UnsupportedWafConfiguration(name, "Rules", "two rules with one priority (AWS refuses it)")
    default = _action(name, "DefaultAction", props.get("DefaultAction", {}), ("Allow", "Block"))
    return WebAcl(name, arn, default, sorted(rules, key=lambda rule: rule.priority))


def associate(cloud: Kernel, logical_id: str, resource_arn: str, web_acl_arn: str) -> None:
    """Associate the ACL with an API Gateway stage (``arn:...:apigateway:{region}::/restapis/{id}/stages/{name}``)."""
    state = waf(cloud)
    acl = state.acls.get(web_acl_arn)
    if acl is None:
        raise LocalCloudError(
            f"{logical_id}: web ACL {web_acl_arn} is not a web ACL of this stack; the local cloud evaluates "
            "only the web ACLs its template defines"
        )
    _, _, rest = resource_arn.partition(":apigateway:")
    parts = rest.split("/")
    if not rest or len(parts) != 5 or parts[1] != "restapis" or parts[3] != "stages":
        raise LocalCloudError(
            f"{logical_id}: {resource_arn} is not an API Gateway REST API stage, the only resource a web ACL "
            "is associated with offline"
        )
    state.stages[(parts[2], parts[4])] = acl


def _action(acl: str, where: str, action: dict[str, Any], allowed: tuple[str, ...]) -> str:
    if len(action) != 1 or next(iter(action)) not in allowed:
        raise UnsupportedWafConfiguration(acl, where, f"action {sorted(action)}")
    name, settings = next(iter(action.items()))
    if settings:
        raise UnsupportedWafConfiguration(acl, where, f"{name} with {sorted(settings)}")
    return name


def _statement(acl: str, where: str, statement: dict[str, Any]) -> Match:
    if len(statement) != 1:
        raise UnsupportedWafConfiguration(acl, where, f"a statement of {sorted(statement) or 'nothing'}")
    kind, body = next(iter(statement.items()))
    if kind in ("AndStatement", "OrStatement"):
        parts = [_statement(acl, f"{where} {kind}", s) for s in body["Statements"]]
        if len(parts) < 2:
            raise UnsupportedWafConfiguration(
                acl, where, f"{kind} with fewer than 2 statements (AWS refuses it)"
            )
        if kind == "AndStatement":
            return lambda value: all(part(value) for part in parts)
        return lambda value: any(part(value) for part in parts)
    if kind == "NotStatement":
        inner = _statement(acl, f"{where} NotStatement", body["Statement"])
        return lambda value: not inner(value)
    if kind == "ByteMatchStatement":
        return _byte_match(acl, where, body)
    raise UnsupportedWafConfiguration(acl, where, kind)


def _byte_match(acl: str, where: str, body: dict[str, Any]) -> Match:
    field_to_match = body.get("FieldToMatch", {})
    if list(field_to_match) != ["UriPath"]:
        raise UnsupportedWafConfiguration(acl, where, f"ByteMatchStatement on {sorted(field_to_match)}")
    position = POSITIONS.get(body.get("PositionalConstraint", ""))
    if position is None:
        raise UnsupportedWafConfiguration(
            acl, where, f"PositionalConstraint {body.get('PositionalConstraint')}"
        )
    if "SearchStringBase64" in body:
        text = base64.b64decode(body["SearchStringBase64"])
    else:
        text = str(body["SearchString"]).encode()
    steps = []
    for transformation in sorted(body.get("TextTransformations", []), key=lambda t: int(t["Priority"])):
        step = TRANSFORMATIONS.get(transformation["Type"])
        if step is None:
            raise UnsupportedWafConfiguration(acl, where, f"text transformation {transformation['Type']}")
        steps.append(step)

    def matches(value: bytes) -> bool:
        for step in steps:
            value = step(value)
        return position(value, text)

    return matches
