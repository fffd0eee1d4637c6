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
