"""IAM offline: every AWS call a function makes is checked against its role's policies.

The check runs in botocore (``before-parameter-build``), so it sees the call's parameters and can
name the resource the way AWS does. Resource-level checks cover the services the patterns use
(each service's ``iam_resources``); for any other service the action alone is checked, and the report says so.
One evaluator decides for identity policies (a role's calls) and resource policies (a service
principal delivering, a function permission, a key policy, the policy on a role's call's resource):
an explicit deny wins, else an allow is needed; :func:`principal_naming` is how every resource
policy names its caller. Conditions are evaluated for the keys in :data:`CONDITION_KEYS` with the
operators in :data:`CONDITION_OPERATORS` and ``Null``, with IAM's rules for a key the request does not carry. A
condition on any other key or operator is decided against the request, never kinder than AWS: it is
not met in an Allow (the statement grants nothing) and met in a Deny (the deny applies). Each such
condition is listed in :attr:`PolicyEngine.unevaluated_conditions` and logged once as a warning on
the ``localcloud.iam`` logger.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from localcloud.core.decision_cache import DecisionCache
from localcloud.errors import LocalCloudError, Unsupported

ResourceNamer = Callable[[dict[str, Any], tuple[str, str, str]], "str | None"]
"""The ARN a call names, from its parameters and ``(partition, region, account)``."""

#: IAM's service prefix where it differs from botocore's signing name.
SERVICE_PREFIX = {"appconfigdata": "appconfig", "monitoring": "cloudwatch", "email": "ses"}

#: API operations whose permission is another action's (batch calls use the single call's action).
ACTION_OF_OPERATION = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "s3:ListParts": "s3:ListMultipartUploadParts",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
}

#: S3 actions whose call on one version of an object (``VersionId``) needs another action.
VERSION_ACTIONS = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion"}


#: Services whose IAM actions are the HTTP method of the call, not the operation: API Gateway's
#: management API (``apigateway:GET`` for GetRestApis, ``apigateway:POST`` for CreateRestApi...).
HTTP_METHOD_ACTIONS = frozenset({"apigateway"})

#: The condition keys the evaluator reads from a request (lower case, as IAM compares them), and
#: where each comes from. A request without a key fails a test on it, unless the operator is negated,
#: ``...IfExists`` or ``Null`` (see :meth:`Statement.conditions_hold`).
CONDITION_KEYS = {
    "aws:securetransport": "every call is made over TLS, as the SDKs and AWS's services make them",
    "aws:principalarn": "the role making an SDK call",
    "aws:sourcearn": "the resource a service principal acts for: a rule, topic, bucket, distribution...",
    "aws:sourceaccount": "the account of that resource",
    "aws:sourceowner": "read as aws:SourceAccount, the key AWS introduced to replace it (moto's default topic policy names it)",
    "kms:viaservice": "the service using a KMS key for a delivery to the resource it encrypts",
    "aws:sourceip": "the client's address, for a request to a REST API (none through a VPC endpoint)",
    "aws:sourcevpce": "the VPC endpoint a request to a REST API came through",
    "aws:sourcevpc": "the VPC of that endpoint",
}
#: Legacy condition keys, and the key whose value each is read with.
KEY_ALIASES = {"aws:sourceowner": "aws:sourceaccount"}
#: Keys of where a request came from on the network: known only for requests that carry them (a call
#: to a REST API); an SDK call's network origin is not modelled, so a condition on one stays unevaluated.
NETWORK_KEYS = frozenset({"aws:sourceip", "aws:sourcevpce", "aws:sourcevpc"})
#: Condition operators the evaluator applies (also as ``...IfExists``, and negated with ``Not``).
CONDITION_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": fnmatch.fnmatchcase,
    "ArnEquals": lambda actual, expected: _arn_like(actual, expected),
    "ArnLike": lambda actual, expected: _arn_like(actual, expected),
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
    "IpAddress": lambda actual, expected: _in_network(actual, expected),
}

#: A condition key the request does not carry, in a remembered decision's key.
_ABSENT = object()

#: Error codes AWS answers with when a call is denied, by service.
DENIED_CODE = {
    "sqs": "AccessDenied",
    "s3": "AccessDenied",
    "sns": "AuthorizationError",
    "sts": "AccessDenied",
    "iam": "AccessDenied",
}
#: HTTP statuses of those answers where not 403: DynamoDB answers every 4xx with 400 (developer
#: guide, "Error handling with DynamoDB": AccessDeniedException under HTTP status code 400).
DENIED_STATUS = {"dynamodb": 400}

#: The set operators' qualifiers: with a single-valued key each reads as the plain operator, but a
#: request without the key satisfies ``ForAllValues`` and fails ``ForAnyValue``.
SET_QUALIFIERS = ("ForAllValues", "ForAnyValue")

log = logging.getLogger("localcloud.iam")


@dataclass(frozen=True)
class ConditionTest:
    """One operator of a statement's ``Condition``, read: ``StringNotLikeIfExists`` under
    ``ForAnyValue`` is the qualifier ``ForAnyValue``, the base ``StringNotLike`` (negated, with the
    test of ``StringLike``) and ``if_exists``; ``known`` says whether the evaluator applies it."""

    operator: str
    qualifier: str
    if_exists: bool
    base: str
    negated: bool
    test: Callable[[str, str], bool] | None
    known: bool
    keys: tuple[tuple[str, str, tuple[str, ...]], ...]
    """Each key as written, in lower case, and its expected values as strings."""


@dataclass
class Statement:
    effect: str
    actions: list[str]
    resources: list[str]
    not_actions: list[str] = field(default_factory=list)
    not_resources: list[str] = field(default_factory=list)
    condition: dict[str, Any] = field(default_factory=dict)
    principal: Any = None
    not_principal: Any = None
    source: str = ""
    used: set[str] = field(default_factory=set)
    """Which of ``actions`` some call needed."""

    def covers_action(self, action: str) -> str | None:
        """The pattern in this statement that covers ``action``, if any."""
        if self.not_actions:
            return None if any(_match(p, action) for p in self.not_actions) else "NotAction"
        return next((p for p in self.actions if _match(p, action)), None)

    def covers_resource(self, resource: str) -> bool:
        if self.not_resources:
            return not any(_match(p, resource, case=True) for p in self.not_resources)
        return any(_match(p, resource, case=True) for p in self.resources)

    def conditions_hold(self, context: dict[str, str], note: Callable[[str, str], None]) -> bool:
        """Whether every condition of this statement holds for a request carrying ``context``.

        A key the request lacks follows IAM: a negated operator (``StringNotEquals``...) and any
        ``...IfExists`` hold, ``Null`` tests presence, others fail. A condition the evaluator cannot
        test is passed to ``note`` and decided against the request: unmet in an Allow, met in a Deny.
        """
        networked: bool | None = None
        for test in self.condition_tests:
            for key, name, values in test.keys:
                if not test.known or name not in CONDITION_KEYS:
                    unevaluated = True
                elif name in NETWORK_KEYS:
                    if networked is None:
                        networked = any(key in context for key in NETWORK_KEYS)
                    unevaluated = not networked
                else:
                    unevaluated = False
                if unevaluated:
                    note(f"{self.source}: {test.operator} {key}", self.effect)
                    if self.effect != "Deny":
                        return False
                    continue
                actual = context.get(KEY_ALIASES.get(name, name))
                if test.base == "Null":
                    if not any((value.lower() == "true") == (actual is None) for value in values):
                        return False
                elif actual is None:
                    if not (
                        test.if_exists
                        or test.qualifier == "ForAllValues"
                        or (test.negated and test.qualifier != "ForAnyValue")
                    ):
                        return False
                elif any(test.test(actual, value) for value in values) == test.negated:  # type: ignore[misc]
                    return False
        return True

    @functools.cached_property
    def condition_tests(self) -> tuple[ConditionTest, ...]:
        """``condition`` read once (a statement is never edited in place): each operator's parts
        and each key's name in lower case, as IAM compares them, with its values as strings."""
        tests = []
        for operator, keys in self.condition.items():
            qualifier, _, name = operator.rpartition(":")
            base = name.removesuffix("IfExists")
            test = CONDITION_OPERATORS.get(base.replace("Not", "", 1))
            tests.append(
                ConditionTest(
                    operator=operator,
                    qualifier=qualifier,
                    if_exists=name.endswith("IfExists"),
                    base=base,
                    negated="Not" in base,
                    test=test,
                    known=(test is not None or base == "Null") and qualifier in ("", *SET_QUALIFIERS),
                    keys=tuple(
                        (
                            key,
                            key.lower(),
                            tuple(
                                str(value)
                                for value in (expected if isinstance(expected, list) else [expected])
                            ),
                        )
                        for key, expected in keys.items()
                    ),
                )
            )
        return tuple(tests)

    @functools.cached_property
    def condition_keys(self) -> frozenset[str]:
        """The request's condition keys (lower case) a decision on this statement may read:
        every key its conditions name, and where one is a network key, whether the request
        carries any network key."""
        names = {KEY_ALIASES.get(name, name) for test in self.condition_tests for _, name, _ in test.keys}
        return frozenset(names | NETWORK_KEYS if names & NETWORK_KEYS else names)

    def names(self, principal: str, session: str | None = None) -> bool:
        """Whether this resource-policy statement applies to ``principal`` (a service principal such
        as ``events.amazonaws.com``, an IAM ARN or account id, or ``anonymous``; ``session``, the
        ARN of the role session making the call, if any): see :meth:`naming`."""
        return self.naming(principal, session) is not None

    def naming(self, principal: str, session: str | None = None) -> str | None:
        """How this statement's ``Principal`` names the caller (:func:`principal_naming`). A
        ``NotPrincipal`` statement names every caller it does not except (:func:`excepted`) as
        :data:`EVERYONE` if it is a Deny; with Allow, which IAM does not support, it names none."""
        if self.not_principal is not None:
            if self.effect != "Deny" or excepted(self.not_principal, principal, session):
                return None
            return EVERYONE
        return principal_naming(self.principal, principal, session)


#: How a policy's ``Principal`` names a caller (:func:`principal_naming`): everyone; the caller
#: itself (its role's ARN, its session's ARN, its service principal); or its account (the account's
#: root ARN or id), which names every principal of the account but grants nothing by itself within
#: it: the account's identity policies decide (IAM User Guide, "AWS account principals").
EVERYONE, DIRECT, ACCOUNT = "everyone", "direct", "account"


def principal_naming(element: Any, caller: str, session: str | None = None) -> str | None:
    """How a statement's ``Principal`` element names ``caller``: :data:`EVERYONE` (``"*"`` or
    ``{"AWS": "*"}``, which IAM reads alike), :data:`DIRECT` (``caller`` itself under ``AWS`` or
    ``Service``, or ``session``, the assumed-role session ARN a role's call is made as),
    :data:`ACCOUNT` (the caller's account, as its root ARN or its 12-digit id), or None. The one rule
    every resource policy is read with: queues, topics, buckets, keys, REST APIs, functions."""
    if element == "*":
        return EVERYONE
    if not isinstance(element, dict):
        return None
    aws = _list(element.get("AWS"))
    if "*" in aws:
        return EVERYONE
    if caller in aws or caller in _list(element.get("Service")) or (session is not None and session in aws):
        return DIRECT
    account = account_of(caller)
    if account is not None and (account in aws or account_root(caller, account) in aws):
        return ACCOUNT
    return None


def excepted(element: Any, caller: str, session: str | None = None) -> bool:
    """Whether a Deny's ``NotPrincipal`` element excepts ``caller`` (and ``session``, the ARN of the
    role session making the call). IAM "first checks the account, then the role, and finally the
    assumed-role user", and the Deny applies at the first it does not except (IAM User Guide,
    "NotPrincipal", whose example for a role session lists the session's ARN, the role's and the
    account's): each must be listed. Never kinder than AWS: a ``NotPrincipal`` naming the role but
    not the session (or the account) does not except the session's call."""
    chain = [caller, *([session] if session is not None else [])]
    if not all(principal_naming(element, who) in (EVERYONE, DIRECT) for who in chain):
        return False
    account = account_of(caller)
    return account is None or principal_naming(element, account_root(caller, account)) is not None


def account_of(principal: str) -> str | None:
    """The account of an IAM or STS principal ARN, or of an account id; None for a service
    principal or ``anonymous``."""
    if principal.isdigit() and len(principal) == 12:
        return principal
    parts = principal.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] in ("iam", "sts") and parts[4].isdigit():
        return parts[4]
    return None


def account_root(principal: str, account: str) -> str:
    """The root ARN of ``account``, in ``principal``'s partition (``aws`` for a bare account id)."""
    partition = principal.split(":", 2)[1] if principal.startswith("arn:") else "aws"
    return f"arn:{partition}:iam::{account}:root"


def session_arn(role_arn: str, session: str) -> str:
    """The ARN of a session of ``role_arn``, as STS names it and as a policy names the caller."""
    partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
    return f"arn:{partition}:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}"


#: The reason a role's call is refused by a resource policy's explicit deny, as AWS words it.
RESOURCE_DENY = "with an explicit deny in a resource-based policy"
#: Services whose resource policy must allow a role's call even within the account: an identity
#: policy's allow counts only where the resource policy hands the decision to the account. KMS:
#: "Unless the key policy explicitly allows it, you cannot use IAM policies to allow access to a KMS
#: key" (KMS developer guide, "Key policies"); the default key policy allows the account's root.
RESOURCE_POLICY_REQUIRED = frozenset({"kms"})


@dataclass
class Decision:
    allowed: bool
    reason: str


class PolicyEngine:
    def __init__(self) -> None:
        self.identity: dict[str, list[Statement]] = {}
        self.resource: dict[str, list[Statement]] = {}
        self.action_only_services: set[str] = set()
        self.unevaluated_conditions: set[str] = set()
        self.decisions = DecisionCache()
        """Decisions kept while their statements are unchanged (:mod:`localcloud.core.decision_cache`)."""
        self._held: dict[tuple[str, str], list[Statement]] = {}
        self._named: dict[tuple[str, str], list[Statement]] = {}
        """A role's policies by name (an inline policy's name, a managed policy's ARN)."""
        self.resource_policy_of: Callable[[str], list[Statement]] = lambda resource: []
        """The statements of the resource policy on a resource ARN a role's call names, as its
        service holds them now (the kernel installs the services' readers), which :meth:`decide`
        reads with the role's own policies."""

    # ------------------------------------------------------------------------------------ loading

    def add_identity_policy(
        self, role_arn: str, document: dict[str, Any], source: str, *, name: str | None = None
    ) -> None:
        """Give ``role_arn`` the statements of ``document``; ``name`` (an inline policy's name, a
        managed policy's ARN) lets a later :meth:`put_role_policy` of that name replace them."""
        if name is not None:
            self.put_role_policy(role_arn, name, document, source)
            return
        self.identity.setdefault(role_arn, []).extend(_statements(document, source))

    def put_role_policy(self, role_arn: str, name: str, document: dict[str, Any] | None, source: str) -> None:
        """Replace the role's policy ``name`` with ``document`` (None: remove it), as IAM's
        PutRolePolicy, DeleteRolePolicy, AttachRolePolicy and DetachRolePolicy do while the cloud
        runs. The role gets a new list, so decisions remembered on the old one are made again."""
        old = self._named.pop((role_arn, name), [])
        kept = [s for s in self.identity.get(role_arn, []) if not any(s is o for o in old)]
        added = [] if document is None else _statements(document, source)
        if added:
            self._named[(role_arn, name)] = added
        self.identity[role_arn] = [*kept, *added]

    def add_managed_policy(self, role_arn: str, policy_arn: str, source: str) -> None:
        managed = managed_policy_document(policy_arn)
        if managed is None and AWS_MANAGED in policy_arn:
            # IAM's own answer to attaching it, which fails the deployment on AWS too.
            raise LocalCloudError(f"{source}: Policy {policy_arn} does not exist or is not attachable.")
        if managed is None:
            raise Unsupported(source, f"managed policy {policy_arn}, which is not an AWS managed policy,")
        self.add_identity_policy(role_arn, managed, f"{source}/{policy_arn}", name=policy_arn)

    def add_resource_policy(self, resource_arn: str, document: dict[str, Any], source: str) -> None:
        self.resource.setdefault(resource_arn, []).extend(_statements(document, source))

    def held_policy(self, resource_arn: str, document: str | None) -> list[Statement]:
        """The statements of a policy a service holds as JSON text (a queue's or a topic's), read
        when it delivers: parsed once per text, so while the text is unchanged the same statements
        come back and the decisions remembered on them hold; a changed text is parsed anew."""
        if not document:
            return []
        statements = self._held.get((resource_arn, document))
        if statements is None:
            statements = self._held[(resource_arn, document)] = _statements(
                json.loads(document), resource_arn
            )
        return statements

    def add_function_permission(self, function_arn: str, props: dict[str, Any], source: str) -> None:
        principal = props["Principal"]
        key = "Service" if principal.endswith(".amazonaws.com") else "AWS"
        self.add_resource_policy(
            function_arn,
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {key: principal},
                        "Action": props["Action"],
                        "Resource": function_arn,
                        **(
                            {"Condition": {"ArnLike": {"AWS:SourceArn": props["SourceArn"]}}}
                            if "SourceArn" in props
                            else {}
                        ),
                    }
                ]
            },
            source,
        )

    # ------------------------------------------------------------------------------------ decisions

    def decide(
        self,
        role_arn: str,
        action: str,
        resource: str | None,
        *,
        session: str | None = None,
        resource_policy: list[Statement] | None = None,
        context: dict[str, str] | None = None,
    ) -> Decision:
        """A role's call in this account, as IAM's single-account evaluation decides it: an explicit
        deny in its identity policies or in the resource's policy wins ("an explicit deny in any of
        the policies overrides the allow"); else an allow in either grants. The resource policy's
        allow grants only where it names the role's ARN, the session's (``session``, the ARN the call
        is made as) or everyone; one naming the account hands the decision to the identity policies.

        ``resource_policy`` is the resource's policy where the caller holds it (an API's), else the
        one its service holds now (:attr:`resource_policy_of`). ``context`` adds request keys (a
        client's address) to those of the role's call. ``resource`` None means the call's resource
        cannot be named offline: the action alone decides, on the identity policies.
        """
        identity = self._identity_decision(role_arn, action, resource)
        if identity.reason.startswith("with an explicit deny") or resource is None:
            return identity
        statements = resource_policy
        if statements is None:
            statements = self.resource_policy_of(resource) if resource.startswith("arn:") else []
        if not statements:
            return identity
        if resource.split(":", 3)[2] in RESOURCE_POLICY_REQUIRED:
            return self._required_policy_decision(
                statements, identity, role_arn, session, action, resource, context or {}
            )
        verdict = self.resource_verdict(
            statements, role_arn, session, action, resource, context or {}, grants=not identity.allowed
        )
        if verdict.reason.startswith("explicit deny"):
            return Decision(False, RESOURCE_DENY)
        return verdict if verdict.allowed and not identity.allowed else identity

    def lacking(self, role_arn: str, actions: Iterable[str], resource: str = "*") -> list[str]:
        """Which of ``actions`` the role may not call on ``resource``: what a service checks of a
        role before it acts for it (Lambda's network interfaces, Step Functions' log delivery)."""
        return [action for action in actions if not self.decide(role_arn, action, resource).allowed]

    def _required_policy_decision(
        self,
        statements: list[Statement],
        identity: Decision,
        role_arn: str,
        session: str | None,
        action: str,
        resource: str,
        context: dict[str, str],
    ) -> Decision:
        """A role's call on a resource whose policy must allow it (:data:`RESOURCE_POLICY_REQUIRED`):
        an explicit deny wins; then the policy must allow the role (or its session, or everyone), or
        allow the account, which hands the decision to the identity policies."""

        def verdict(account_grants: bool) -> Decision:
            return self.resource_verdict(
                statements,
                role_arn,
                session,
                action,
                resource,
                context,
                grants=True,
                account_grants=account_grants,
            )

        through_account = verdict(True)
        if through_account.reason.startswith("explicit deny"):
            return Decision(False, RESOURCE_DENY)
        if not through_account.allowed:
            return Decision(False, f"because no resource-based policy allows the {action} action")
        if identity.allowed:
            return identity
        direct = verdict(False)
        return direct if direct.allowed else identity

    def resource_verdict(
        self,
        statements: list[Statement],
        role_arn: str,
        session: str | None,
        action: str,
        resource: str,
        context: dict[str, str],
        *,
        grants: bool,
        account_grants: bool = False,
    ) -> Decision:
        """What a resource policy says to a role's call: ``explicit deny in ...`` where a Deny
        applies to it (naming everyone, the role, its session or its account, or a ``NotPrincipal``
        not excepting it); else, if ``grants`` (no identity policy allows the call), allowed by an
        Allow naming the role, its session or everyone, or also its account if ``account_grants``
        (the identity policies allow a call the resource policy must allow too). Allow statements are
        read only then, so their conditions are not reported as unevaluated for a call the identity
        policies decide."""
        keys = {**context, "aws:securetransport": "true", "aws:principalarn": role_arn}

        def applies(statement: Statement, note: Callable[[str, str], None]) -> bool:
            if statement.effect != "Deny" and not grants:
                return False
            naming = statement.naming(role_arn, session)
            if naming is None or (statement.effect != "Deny" and naming == ACCOUNT and not account_grants):
                return False
            return (
                statement.covers_action(action)
                and statement.covers_resource(resource)
                and statement.conditions_hold(keys, note)
            )

        def evaluate(note: Callable[[str, str], None], used: list[tuple[Statement, str]]) -> Decision:
            return _deny_wins(statements, lambda statement: applies(statement, note))

        try:
            key = (
                "role in resource policy",
                id(statements),
                role_arn,
                session,
                action,
                resource,
                grants,
                account_grants,
                tuple(sorted(context.items())),
            )
            hash(key)
        except TypeError:  # a context value that cannot be a key: decide without remembering
            return evaluate(self._unevaluated, [])
        return self.decisions.decide(key, statements, self._unevaluated, evaluate)

    def _identity_decision(self, role_arn: str, action: str, resource: str | None) -> Decision:
        statements = self.identity.get(role_arn, [])

        def evaluate(note: Callable[[str, str], None], used: list[tuple[Statement, str]]) -> Decision:
            context = {"aws:securetransport": "true", "aws:principalarn": role_arn}
            allowing = []
            for statement in statements:
                pattern = statement.covers_action(action)
                if pattern is None:
                    continue
                if resource is not None and not statement.covers_resource(resource):
                    continue
                if not statement.conditions_hold(context, note):
                    continue
                if statement.effect == "Deny":
                    return Decision(False, f"with an explicit deny in {statement.source}")
                allowing.append((statement, pattern))
            used.extend(allowing)
            if allowing:
                return Decision(True, allowing[0][0].source)
            return Decision(False, f"because no identity-based policy allows the {action} action")

        return self.decisions.decide(
            ("identity", role_arn, action, resource), statements, self._unevaluated, evaluate
        )

    def allows(
        self, statements: list[Statement], principal: str, action: str, resource: str, context: dict[str, str]
    ) -> bool:
        """Resource-policy evaluation for a service principal (or ``anonymous``): an allow is needed,
        and a deny wins. ``context`` holds the request's condition keys, in lower case."""
        return self.resource_decision(statements, principal, action, resource, context).allowed

    def resource_decision(
        self,
        statements: list[Statement],
        principal: str,
        action: str,
        resource: str | None,
        context: dict[str, str],
    ) -> Decision:
        """:meth:`allows`, saying why: ``explicit deny`` (in which statement's source), else whether
        one allowed. A call whose resource cannot be named (None) is decided on its action alone.

        Which statements name the principal and cover the action and the resource is worked out
        once per statements; a decision is remembered for the values of the condition keys those
        statements read, so a key no condition reads does not make it anew. A key a condition reads
        (an API's ``aws:SourceArn``, which carries the request's path) still does: only the
        conditions are evaluated again then."""

        def candidates() -> tuple[list[Statement], tuple[str, ...]]:
            named = [
                statement
                for statement in statements
                if statement.names(principal)
                and statement.covers_action(action)
                and (resource is None or statement.covers_resource(resource))
            ]
            return named, tuple(sorted(frozenset().union(*(statement.condition_keys for statement in named))))

        applying, read = self.decisions.kept(
            ("resource statements", id(statements), principal, action, resource), statements, candidates
        )

        def evaluate(note: Callable[[str, str], None], used: list[tuple[Statement, str]]) -> Decision:
            return _deny_wins(applying, lambda statement: statement.conditions_hold(context, note))

        try:
            values = tuple(context.get(name, _ABSENT) for name in read)
            key = ("resource", id(statements), principal, action, resource, values)
            hash(key)
        except TypeError:  # a context value that cannot be a key: decide without remembering
            return evaluate(self._unevaluated, [])
        return self.decisions.decide(key, statements, self._unevaluated, evaluate)

    def _unevaluated(self, condition: str, effect: str) -> None:
        if condition in self.unevaluated_conditions:
            return
        self.unevaluated_conditions.add(condition)
        outcome = "the deny applies" if effect == "Deny" else "the statement grants nothing"
        log.warning("IAM condition %s is not evaluated offline: %s", condition, outcome)

    def unused_grants(self, roles: list[str] | None = None) -> list[str]:
        """``role: action on resources (policy)`` for every allowed action no call has needed."""
        unused = []
        for role_arn, statements in self.identity.items():
            if roles is not None and role_arn not in roles:
                continue
            for statement in statements:
                if statement.effect != "Allow":
                    continue
                for action in statement.actions:
                    if action not in statement.used:
                        resources = ", ".join(statement.resources)
                        unused.append(
                            f"{role_arn.rsplit('/', 1)[-1]}: {action} on {resources} ({statement.source})"
                        )
        return unused


def access_denied(
    service: str, operation: str, role_arn: str, session: str, action: str, resource: str, reason: str
) -> ClientError:
    """The error AWS returns for a denied call, worded as AWS words it."""
    principal = session_arn(role_arn, session)
    message = f"User: {principal} is not authorized to perform: {action} on resource: {resource} {reason}"
    code = DENIED_CODE.get(service, "AccessDeniedException")
    status = DENIED_STATUS.get(service, 403)
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def iam_action(service_model: Any, operation_name: str) -> tuple[str, str]:
    """(IAM service prefix, ``prefix:Operation``) for a botocore operation; ``prefix:VERB`` where
    IAM names a service's calls by their HTTP method."""
    signing = service_model.signing_name or service_model.endpoint_prefix
    prefix = SERVICE_PREFIX.get(signing, signing)
    if prefix in HTTP_METHOD_ACTIONS:
        return prefix, f"{prefix}:{service_model.operation_model(operation_name).http['method']}"
    action = f"{prefix}:{operation_name}"
    return prefix, ACTION_OF_OPERATION.get(action, action)


# ---------------------------------------------------------------------------------------- resources


def resource_arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def arn_or_named(name: str, where: tuple[str, str, str], service: str, resource: str) -> str:
    """``name`` if a call gave an ARN, else the ARN of ``resource`` (the name in its service's form):
    calls take either, and a policy names the ARN."""
    if name.startswith("arn:"):
        return name
    partition, region, account = where
    return resource_arn(partition, service, region, account, resource)


def call_resources(
    prefix: str, params: dict[str, Any], where: tuple[str, str, str], namers: dict[str, ResourceNamer]
) -> list[str] | None:
    """Every resource a call is authorized on, ``["*"]`` if it names none, None if it cannot be named
    offline (no service declares how: ``namers`` are the services' ``iam_resources``). A DynamoDB batch
    call needs the action on each table of its ``RequestItems``, as in AWS."""
    extract = namers.get(prefix)
    if extract is None:
        return None
    tables = params.get("RequestItems") or {}
    if prefix == "dynamodb" and len(tables) > 1:
        return [extract({"RequestItems": {table: None}}, where) or "*" for table in tables]
    return [extract(params, where) or "*"]


#: A DynamoDB transaction's item kinds, and the action each is authorized as: a transaction has no
#: action of its own in IAM ("Using IAM with DynamoDB transactions").
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def call_authorizations(
    prefix: str,
    action: str,
    params: dict[str, Any],
    where: tuple[str, str, str],
    namers: dict[str, ResourceNamer],
) -> list[tuple[str, str | None]] | None:
    """Each (action, resource) a call needs allowed: the call's action on each of its resources, or,
    for a DynamoDB transaction, each item's own action on its table. None where the resource cannot
    be named offline (see :func:`call_resources`)."""
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        extract = namers.get(prefix)
        needed: list[tuple[str, str | None]] = []
        for item in params.get("TransactItems") or []:
            for kind, request in item.items():
                if kind in TRANSACTION_ITEM_ACTIONS and isinstance(request, dict):
                    table = {"TableName": request.get("TableName", "")}
                    named = extract(table, where) if extract is not None else None
                    needed.append((TRANSACTION_ITEM_ACTIONS[kind], named or "*"))
        return list(dict.fromkeys(needed)) or [(action, "*")]
    if action == "s3:DeleteObject" and "Delete" in params and namers.get(prefix) is not None:
        # DeleteObjects: each key is a DeleteObject on that object, as AWS authorizes it.
        extract = namers[prefix]
        objects = [o for o in (params.get("Delete") or {}).get("Objects") or [] if isinstance(o, dict)]
        named = [
            (_versioned(action, o), extract({"Bucket": params.get("Bucket"), "Key": o.get("Key")}, where))
            for o in objects
        ]
        return list(dict.fromkeys((needed, resource or "*") for needed, resource in named)) or [(action, "*")]
    if action in COPY_ACTIONS and namers.get(prefix) is not None:
        # No IAM action of its own: s3:GetObject (of the version copied) on the source object, and
        # s3:PutObject on the destination (S3 API reference, CopyObject, "Permissions").
        source = copy_source(params.get("CopySource"))
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
        return [
            (read, namers[prefix](source, where) or "*"),
            ("s3:PutObject", namers[prefix](params, where) or "*"),
        ]
    resources = call_resources(prefix, params, where, namers)
    return None if resources is None else [(_versioned(action, params), resource) for resource in resources]


#: S3 calls that copy an object (whole, or as a part of a multipart upload).
COPY_ACTIONS = frozenset({"s3:CopyObject", "s3:UploadPartCopy"})


def copy_source(value: Any) -> dict[str, str]:
    """``Bucket``, ``Key`` and ``VersionId`` of a ``CopySource``, given as boto3 takes it: a dict, or
    ``bucket/key`` (URL-encoded, optionally with ``?versionId=``)."""
    if isinstance(value, dict):
        return {name: str(value[name]) for name in ("Bucket", "Key", "VersionId") if value.get(name)}
    if not isinstance(value, str) or "/" not in value.lstrip("/"):
        return {}
    path, _, query = value.lstrip("/").partition("?")
    bucket, _, key = path.partition("/")
    version = urllib.parse.parse_qs(query).get("versionId", [""])[0]
    return {"Bucket": bucket, "Key": urllib.parse.unquote(key), **({"VersionId": version} if version else {})}


def _versioned(action: str, params: dict[str, Any]) -> str:
    return VERSION_ACTIONS.get(action, action) if params.get("VersionId") else action


#: The account part of an AWS managed policy's ARN (``arn:aws:iam::aws:policy/<path><name>``).
AWS_MANAGED = ":iam::aws:policy/"


def managed_policy_document(policy_arn: str) -> dict[str, Any] | None:
    """The document of an AWS managed policy, by ARN, as AWS publishes it (moto ships about 1,580);
    None for a name AWS does not have at that path."""
    if AWS_MANAGED not in policy_arn:
        return None
    path, _, name = ("/" + policy_arn.split(AWS_MANAGED, 1)[1]).rpartition("/")
    known = _aws_managed_policies().get(name)
    if known is None or known.get("Path", "/") != path + "/":
        return None
    return known["Document"]


@functools.cache
def _aws_managed_policies() -> dict[str, dict[str, Any]]:
    """moto's copy of AWS's managed policies, decoded once per process (about 25 ms)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def _statements(document: dict[str, Any], source: str) -> list[Statement]:
    raw = document.get("Statement", [])
    return [
        Statement(
            effect=s["Effect"],
            actions=_list(s.get("Action")),
            resources=_list(s.get("Resource", "*")),
            not_actions=_list(s.get("NotAction")),
            not_resources=_list(s.get("NotResource")),
            condition=s.get("Condition", {}),
            principal=s.get("Principal"),
            not_principal=s.get("NotPrincipal"),
            source=source,
        )
        for s in ([raw] if isinstance(raw, dict) else raw)
    ]


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _deny_wins(statements: list[Statement], applies: Callable[[Statement], bool]) -> Decision:
    """A resource policy's answer from the statements that apply, read in order: the first Deny
    decides at once; else the first Allow allows; else nothing does."""
    allowed: Statement | None = None
    for statement in statements:
        if not applies(statement):
            continue
        if statement.effect == "Deny":
            return Decision(False, f"explicit deny in {statement.source}")
        allowed = allowed or statement
    if allowed is not None:
        return Decision(True, allowed.source)
    return Decision(False, "no statement allows it")


def _in_network(address: str, network: str) -> bool:
    """IAM's ``IpAddress``: ``address`` within the CIDR block (or the one address) ``network``."""
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _arn_like(actual: str, expected: str) -> bool:
    """IAM's ``ArnEquals``/``ArnLike`` (which behave identically): each of the six colon-delimited
    parts matched on its own, case-sensitively, with ``*`` and ``?``; a wildcard never spans a colon
    into the next part. A value that is no ARN (an account id under ``aws:SourceAccount``) is
    matched whole."""
    parts = actual.split(":", 5)
    if len(parts) != 6:
        return fnmatch.fnmatchcase(actual, expected)
    matchers = _arn_part_matchers(expected)
    return matchers is not None and all(
        match(part) is not None for match, part in zip(matchers, parts, strict=True)
    )


@functools.lru_cache(maxsize=4096)
def _arn_part_matchers(expected: str) -> tuple[Callable[[str], Any], ...] | None:
    """The six parts of an ARN pattern, each as :func:`fnmatch.fnmatchcase` matches it (its
    :func:`fnmatch.translate`, compiled); None if it has fewer parts."""
    patterns = expected.split(":", 5)
    if len(patterns) != 6:
        return None
    return tuple(re.compile(fnmatch.translate(pattern)).match for pattern in patterns)


def _match(pattern: str, value: str, *, case: bool = False) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)
