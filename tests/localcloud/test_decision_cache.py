"""IAM decisions are remembered, and never past a change to the statements they were made on."""

from __future__ import annotations

import json

import pytest

from localcloud.core.iam import PolicyEngine

pytestmark = pytest.mark.localcloud

ROLE = "arn:aws:iam::123456789012:role/fn"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/Items"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:items"
API = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/items"


def allow(action: str, resource: str = TABLE) -> dict:
    return {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def deny(action: str, resource: str = TABLE) -> dict:
    return {"Statement": [{"Effect": "Deny", "Action": action, "Resource": resource}]}


def test_a_policy_added_after_a_remembered_decision_is_seen():
    policy = PolicyEngine()
    assert not policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    policy.add_identity_policy(ROLE, allow("dynamodb:GetItem"), "grant")
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert policy.decisions.hits == 1, "the unchanged statements' decision is remembered"
    policy.add_identity_policy(ROLE, deny("dynamodb:GetItem"), "deny")
    refused = policy.decide(ROLE, "dynamodb:GetItem", TABLE)
    assert not refused.allowed
    assert "explicit deny in deny" in refused.reason


def test_a_policy_removed_replaced_or_reordered_after_a_remembered_decision_is_seen():
    policy = PolicyEngine()
    policy.add_identity_policy(ROLE, allow("dynamodb:GetItem"), "grant")
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    granted = policy.identity[ROLE].pop()
    assert not policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed, "removed from the role's list"
    policy.identity[ROLE] = [granted]
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed, "a new list for the role"
    other = PolicyEngine()
    other.add_identity_policy(ROLE, allow("dynamodb:PutItem"), "put only")
    policy.identity[ROLE][0] = other.identity[ROLE][0]
    assert not policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed, "a statement swapped in place"
    del policy.identity[ROLE]
    assert not policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed, "the role's policies deleted"


def test_a_function_permission_added_or_removed_after_a_remembered_decision_is_seen():
    policy = PolicyEngine()
    context = {"aws:sourcearn": API, "aws:sourceaccount": "123456789012"}

    def invocable() -> bool:
        statements = policy.resource.get(FUNCTION, [])
        return policy.allows(
            statements, "apigateway.amazonaws.com", "lambda:InvokeFunction", FUNCTION, context
        )

    assert not invocable()
    permission = {
        "Principal": "apigateway.amazonaws.com",
        "Action": "lambda:InvokeFunction",
        "SourceArn": API,
    }
    policy.add_function_permission(FUNCTION, permission, "permission")
    assert invocable() and invocable()
    other_api = {**context, "aws:sourcearn": API.replace("abc123", "zzz999")}
    statements = policy.resource[FUNCTION]
    assert not policy.allows(
        statements, "apigateway.amazonaws.com", "lambda:InvokeFunction", FUNCTION, other_api
    ), "the request's context is part of what is remembered"
    policy.resource[FUNCTION].clear()
    assert not invocable()


def test_a_source_arn_the_permissions_do_not_allow_is_refused_after_one_they_allow_was_remembered():
    """API Gateway's permission check carries the request's path in ``aws:SourceArn``: the decision
    for one path is remembered, and another path is decided on its own, by the conditions."""
    policy = PolicyEngine()
    api = API.rsplit("/", 3)[0]
    for method in ("GET", "DELETE"):
        permission = {
            "Principal": "apigateway.amazonaws.com",
            "Action": "lambda:InvokeFunction",
            "SourceArn": f"{api}/prod/{method}/items/*",
        }
        policy.add_function_permission(FUNCTION, permission, f"{method} permission")
    statements = policy.resource[FUNCTION]

    def invocable(source_arn: str, **more: str) -> bool:
        context = {"aws:sourcearn": source_arn, "aws:sourceaccount": "123456789012", **more}
        return policy.allows(
            statements, "apigateway.amazonaws.com", "lambda:InvokeFunction", FUNCTION, context
        )

    assert invocable(f"{api}/prod/GET/items/1") and invocable(f"{api}/prod/GET/items/1")
    assert policy.decisions.hits == 1
    assert not invocable(f"{api}/prod/PUT/items/1"), "no permission for PUT"
    assert not invocable(f"{api}/test-invoke-stage/GET/items/1"), "nor for another stage"
    assert not invocable(API.replace("abc123", "zzz999") + "/1"), "nor for another API"
    assert not invocable(f"{api}/prod/GET/items/1".replace(":123456789012:", ":210987654321:"))
    assert invocable(f"{api}/prod/DELETE/items/2")
    hits = policy.decisions.hits
    assert invocable(f"{api}/prod/GET/items/1", **{"aws:userid": "someone"})
    assert policy.decisions.hits == hits + 1, "a key no condition reads is not part of what is remembered"
    assert not invocable(f"{api}/prod/PUT/items/1"), "and the refusal is remembered as a refusal"


def test_a_condition_on_a_network_key_is_decided_on_whether_the_request_carries_one():
    """``aws:SourceIp`` is known only for a request that carries a network key; without one, the
    condition is unevaluated (an Allow grants nothing); with one, a request without the address
    meets a negated operator. Both are remembered apart, though neither carries the address."""
    policy = PolicyEngine()
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "192.168.0.0/16"}},
            }
        ]
    }
    policy.add_resource_policy(API, document, "api policy")
    statements = policy.resource[API]

    def allowed(context: dict[str, str]) -> bool:
        return policy.allows(statements, "anonymous", "execute-api:Invoke", API, context)

    assert allowed({"aws:sourceip": "10.1.2.3"}) and allowed({"aws:sourceip": "10.1.2.3"})
    assert not allowed({"aws:sourceip": "192.168.0.1"})
    assert not allowed({}), "no network key: the condition is not evaluated, and grants nothing"
    assert allowed({"aws:sourcevpce": "vpce-1"}), "through a VPC endpoint: no address, NotIpAddress holds"
    assert not allowed({}), "and the first stays refused"


def test_a_remembered_decision_still_records_what_it_used_and_what_it_could_not_evaluate(caplog):
    policy = PolicyEngine()
    policy.add_identity_policy(ROLE, allow("dynamodb:GetItem"), "grant")
    conditioned = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "dynamodb:PutItem",
                "Resource": TABLE,
                "Condition": {"StringEquals": {"dynamodb:LeadingKeys": "me"}},
            }
        ]
    }
    policy.add_identity_policy(ROLE, conditioned, "leading keys")
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert not policy.decide(ROLE, "dynamodb:PutItem", TABLE).allowed
    for statement in policy.identity[ROLE]:
        statement.used.clear()
    policy.unevaluated_conditions.clear()
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert not policy.decide(ROLE, "dynamodb:PutItem", TABLE).allowed
    assert policy.decisions.hits == 2
    assert [sorted(statement.used) for statement in policy.identity[ROLE]] == [["dynamodb:GetItem"], []]
    assert policy.unevaluated_conditions == {"leading keys: StringEquals dynamodb:LeadingKeys"}


def test_a_held_policy_is_parsed_once_per_text_and_a_changed_text_is_decided_anew():
    """A queue's or topic's policy is read at every delivery: the same text gives the same
    statements (so the decision on them is remembered), a new text new ones."""
    queue = "arn:aws:sqs:eu-west-1:123456789012:orders"
    sns = {"Service": "sns.amazonaws.com"}
    policy = PolicyEngine()
    letting_sns = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": sns, "Action": "sqs:SendMessage", "Resource": queue}]}
    )
    held = policy.held_policy(queue, letting_sns)
    assert policy.held_policy(queue, letting_sns) is held
    assert policy.allows(held, "sns.amazonaws.com", "sqs:SendMessage", queue, {})
    assert policy.allows(
        policy.held_policy(queue, letting_sns), "sns.amazonaws.com", "sqs:SendMessage", queue, {}
    )
    assert policy.decisions.hits == 1

    closed = json.dumps(
        {"Statement": [{"Effect": "Deny", "Principal": sns, "Action": "sqs:SendMessage", "Resource": queue}]}
    )
    assert not policy.allows(
        policy.held_policy(queue, closed), "sns.amazonaws.com", "sqs:SendMessage", queue, {}
    )
    assert policy.held_policy(queue, None) == [] and policy.held_policy(queue, "") == []
