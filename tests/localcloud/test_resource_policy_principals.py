"""How a resource policy names its caller, and what that grants a role of the same account: one rule
(:func:`localcloud.core.iam.principal_naming`) for every resource policy the local cloud reads.

IAM's single-account evaluation: "If either the identity-based policy or the resource-based policy
within the same account allows the request and the other doesn't, the request is still allowed",
where the resource policy names the role or its session; one naming the account ("AWS account
principals") hands the decision to the account's identity policies. A Deny with ``NotPrincipal``
applies to every principal it does not except."""

from __future__ import annotations

import json

import pytest

from localcloud.core.iam import (
    ACCOUNT,
    DIRECT,
    EVERYONE,
    RESOURCE_DENY,
    PolicyEngine,
    excepted,
    principal_naming,
)

pytestmark = pytest.mark.localcloud

ACCOUNT_ID = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/fn"
SESSION = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/fn/fn"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/other"
QUEUE = f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:orders"
NO_ALLOW = "because no identity-based policy allows the sqs:SendMessage action"


# ------------------------------------------------------------------------------ principal_naming


@pytest.mark.parametrize(
    ("element", "caller", "session", "naming"),
    [
        ("*", ROLE, None, EVERYONE),
        ({"AWS": "*"}, ROLE, None, EVERYONE),
        ({"AWS": [OTHER_ROLE, "*"]}, ROLE, None, EVERYONE),
        ("*", "anonymous", None, EVERYONE),
        ({"AWS": "*"}, "sns.amazonaws.com", None, EVERYONE),
        ({"AWS": ROLE}, ROLE, SESSION, DIRECT),
        ({"AWS": [OTHER_ROLE, ROLE]}, ROLE, None, DIRECT),
        ({"AWS": SESSION}, ROLE, SESSION, DIRECT),
        ({"AWS": SESSION}, ROLE, None, None),
        ({"AWS": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/fn/other"}, ROLE, SESSION, None),
        ({"AWS": ACCOUNT_ID}, ROLE, SESSION, ACCOUNT),
        ({"AWS": ROOT}, ROLE, None, ACCOUNT),
        ({"AWS": ROOT}, SESSION, None, ACCOUNT),
        ({"AWS": ACCOUNT_ID}, ROOT, None, ACCOUNT),
        ({"AWS": ROOT}, ROOT, None, DIRECT),
        ({"AWS": "arn:aws-cn:iam::123456789012:root"}, "arn:aws-cn:iam::123456789012:role/fn", None, ACCOUNT),
        ({"AWS": ROOT}, "arn:aws-cn:iam::123456789012:role/fn", None, None),
        ({"AWS": OTHER_ROLE}, ROLE, SESSION, None),
        ({"AWS": "999999999999"}, ROLE, None, None),
        ({"AWS": "arn:aws:iam::999999999999:root"}, ROLE, None, None),
        ({"Service": "sns.amazonaws.com"}, ROLE, None, None),
        ({"Service": "sns.amazonaws.com"}, "sns.amazonaws.com", None, DIRECT),
        ({"Service": ["events.amazonaws.com", "sns.amazonaws.com"]}, "sns.amazonaws.com", None, DIRECT),
        ({"Service": "sns.amazonaws.com"}, "events.amazonaws.com", None, None),
        ({"AWS": ACCOUNT_ID}, "sns.amazonaws.com", None, None),
        ({"AWS": ROOT}, "anonymous", None, None),
        ({"Service": "*"}, "sns.amazonaws.com", None, None),
        (None, ROLE, None, None),
        ("arn:aws:iam::123456789012:role/service-role/fn", ROLE, None, None),
    ],
)
def test_how_a_principal_element_names_a_caller(element, caller, session, naming):
    assert principal_naming(element, caller, session) == naming


@pytest.mark.parametrize(
    ("listed", "caller", "session", "is_excepted"),
    [
        ([SESSION, ROLE, ROOT], ROLE, SESSION, True),
        ([SESSION, ROLE, ACCOUNT_ID], ROLE, SESSION, True),
        ([ROLE, ROOT], ROLE, None, True),
        ([ROLE, ROOT], ROLE, SESSION, False),
        ([SESSION, ROOT], ROLE, SESSION, False),
        ([SESSION, ROLE], ROLE, SESSION, False),
        ([ROOT], ROLE, SESSION, False),
        ([OTHER_ROLE, ROOT], ROLE, None, False),
    ],
)
def test_not_principal_excepts_a_role_session_only_if_it_lists_account_role_and_session(
    listed, caller, session, is_excepted
):
    assert excepted({"AWS": listed}, caller, session) is is_excepted


def test_not_principal_excepts_a_service_principal_it_lists():
    assert excepted({"Service": "sns.amazonaws.com"}, "sns.amazonaws.com")
    assert not excepted({"Service": "sns.amazonaws.com"}, "events.amazonaws.com")


# --------------------------------------------------------------------- a role's call: grants


def engine_with(
    resource_statements: list[dict], *identity: dict, policies: dict[str, str] | None = None
) -> PolicyEngine:
    """A role with the ``identity`` statements, and a queue with ``resource_statements``, read from
    ``policies`` (queue ARN -> policy text) as a service reads the policy it holds now."""
    engine = PolicyEngine()
    engine.add_identity_policy(ROLE, {"Statement": list(identity)}, "identity")
    policies = {} if policies is None else policies
    policies[QUEUE] = json.dumps({"Statement": resource_statements})
    engine.resource_policy_of = lambda arn: engine.held_policy(arn, policies.get(arn))
    return engine


def statement(principal, effect: str = "Allow", action: str = "sqs:SendMessage", **more) -> dict:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": QUEUE, **more}


@pytest.mark.parametrize("principal", [{"AWS": ROLE}, {"AWS": [OTHER_ROLE, SESSION]}, "*", {"AWS": "*"}])
def test_an_allow_naming_the_role_its_session_or_everyone_grants_without_an_identity_allow(principal):
    engine = engine_with([statement(principal)])
    decision = engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION)
    assert decision.allowed and decision.reason == QUEUE, "the queue's policy is what allows it"


@pytest.mark.parametrize("principal", [{"AWS": ROOT}, {"AWS": ACCOUNT_ID}])
def test_an_allow_naming_only_the_account_needs_the_identity_policy_to_allow_too(principal):
    engine = engine_with([statement(principal)])
    refused = engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION)
    assert not refused.allowed and refused.reason == NO_ALLOW
    granted = engine_with(
        [statement(principal)], {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}
    )
    assert granted.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION).allowed


def test_an_allow_naming_the_session_grants_only_that_session():
    engine = engine_with([statement({"AWS": SESSION})])
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION).allowed
    other = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/fn/other"
    assert not engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=other).allowed
    assert not engine.decide(ROLE, "sqs:SendMessage", QUEUE).allowed


def test_an_allow_grants_only_its_actions_and_resources_and_only_where_its_conditions_hold():
    engine = engine_with(
        [
            statement({"AWS": ROLE}),
            statement(
                {"AWS": ROLE},
                action="sqs:ReceiveMessage",
                Condition={"StringEquals": {"aws:PrincipalArn": OTHER_ROLE}},
            ),
        ]
    )
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert not engine.decide(ROLE, "sqs:DeleteMessage", QUEUE).allowed
    assert not engine.decide(ROLE, "sqs:ReceiveMessage", QUEUE).allowed
    assert not engine.decide(ROLE, "sqs:SendMessage", QUEUE.replace("orders", "other")).allowed


def test_an_allow_whose_condition_cannot_be_evaluated_grants_nothing_and_is_listed():
    engine = engine_with([statement("*", Condition={"StringEquals": {"aws:PrincipalTag/team": "ops"}})])
    assert not engine.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert engine.unevaluated_conditions == {f"{QUEUE}: StringEquals aws:PrincipalTag/team"}


def test_an_explicit_deny_wins_over_the_resource_policys_allow():
    identity_deny = engine_with(
        [statement({"AWS": ROLE})], {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": "*"}
    )
    assert identity_deny.decide(ROLE, "sqs:SendMessage", QUEUE).reason == "with an explicit deny in identity"
    resource_deny = engine_with([statement({"AWS": ROLE}), statement({"AWS": ROOT}, "Deny")])
    assert resource_deny.decide(ROLE, "sqs:SendMessage", QUEUE).reason == RESOURCE_DENY


# -------------------------------------------------------------------------- NotPrincipal in a Deny

ALLOWED = {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}


def not_principal_deny(*listed: str) -> dict:
    return {"Effect": "Deny", "NotPrincipal": {"AWS": list(listed)}, "Action": "sqs:*", "Resource": QUEUE}


def test_a_deny_with_not_principal_refuses_every_principal_it_does_not_list():
    engine = engine_with([not_principal_deny(OTHER_ROLE, ROOT)], ALLOWED)
    decision = engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION)
    assert not decision.allowed and decision.reason == RESOURCE_DENY


def test_a_deny_with_not_principal_spares_the_session_it_lists_with_its_role_and_account():
    engine = engine_with([not_principal_deny(SESSION, ROLE, ROOT)], ALLOWED)
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION).allowed
    other = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/fn/other"
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=other).reason == RESOURCE_DENY


@pytest.mark.parametrize("listed", [(ROLE, ROOT), (SESSION, ROOT), (SESSION, ROLE)])
def test_a_not_principal_missing_the_account_the_role_or_the_session_still_denies_the_session(listed):
    engine = engine_with([not_principal_deny(*listed)], ALLOWED)
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION).reason == RESOURCE_DENY


def test_an_allow_with_not_principal_grants_nothing():
    allow = {"Effect": "Allow", "NotPrincipal": {"AWS": OTHER_ROLE}, "Action": "sqs:*", "Resource": QUEUE}
    engine = engine_with([allow])
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION).reason == NO_ALLOW


def test_a_not_principal_deny_on_a_service_principals_delivery():
    allow = {"Effect": "Allow", "Principal": {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}}
    deny = {"Effect": "Deny", "NotPrincipal": {"Service": "sns.amazonaws.com"}}
    statements = PolicyEngine().held_policy(
        QUEUE,
        json.dumps(
            {
                "Statement": [
                    {**allow, "Action": "sqs:SendMessage", "Resource": QUEUE},
                    {**deny, "Action": "sqs:*", "Resource": QUEUE},
                ]
            }
        ),
    )
    engine = PolicyEngine()
    assert engine.allows(statements, "sns.amazonaws.com", "sqs:SendMessage", QUEUE, {})
    refused = engine.resource_decision(statements, "events.amazonaws.com", "sqs:SendMessage", QUEUE, {})
    assert not refused.allowed and refused.reason.startswith("explicit deny")


# ----------------------------------------------------------------------------- remembered decisions


def test_a_policy_changed_while_the_cloud_runs_decides_the_next_call_and_decisions_are_remembered():
    policies: dict[str, str] = {}
    engine = engine_with([statement({"AWS": ROOT})], policies=policies)

    def decide():
        return engine.decide(ROLE, "sqs:SendMessage", QUEUE, session=SESSION)

    assert not decide().allowed
    hits = engine.decisions.hits
    assert not decide().allowed and engine.decisions.hits > hits, "an unchanged policy's decision is kept"
    policies[QUEUE] = json.dumps({"Statement": [statement({"AWS": ROLE})]})
    assert decide().allowed
    policies[QUEUE] = json.dumps({"Statement": [statement({"AWS": ROLE}), not_principal_deny(ROOT)]})
    assert decide().reason == RESOURCE_DENY
    policies[QUEUE] = json.dumps({"Statement": [statement({"AWS": ROOT})]})
    assert decide().reason == NO_ALLOW


def test_a_policy_that_filters_rather_than_grants_lets_principals_of_the_account_it_names_through():
    """A VPC endpoint's policy (read with :meth:`PolicyEngine.resource_decision`) admits whom it
    names: naming the account admits its roles; naming another role admits none of them."""
    engine = PolicyEngine()
    account_wide = engine.held_policy(QUEUE, json.dumps({"Statement": [statement({"AWS": ACCOUNT_ID})]}))
    assert engine.allows(account_wide, ROLE, "sqs:SendMessage", QUEUE, {})
    other = engine.held_policy(QUEUE, json.dumps({"Statement": [statement({"AWS": OTHER_ROLE})]}))
    assert not engine.allows(other, ROLE, "sqs:SendMessage", QUEUE, {})


# ----------------------------------------------------------------------------- SNS's default topic policy


def test_the_default_topic_policy_admits_a_service_acting_for_the_account_and_grants_a_role_nothing():
    """moto's default topic policy (SNS's own) allows everyone on condition ``AWS:SourceOwner`` is
    the topic owner's account. The key is read as ``aws:SourceAccount``, which AWS introduced to
    replace it: a service acting for a resource of the account is admitted, one acting for another
    account is not, and a role's own call carries no source, so the policy grants it nothing and its
    own policies decide. Nothing is left unevaluated."""
    from moto.sns.models import Topic, sns_backends

    topic = Topic("alerts", sns_backends[ACCOUNT_ID]["eu-west-1"])
    topic_arn = topic.arn
    engine = PolicyEngine()
    engine.resource_policy_of = lambda arn: engine.held_policy(arn, topic.policy)
    alarm = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT_ID}:alarm:high"
    mine = {"aws:sourcearn": alarm, "aws:sourceaccount": ACCOUNT_ID}
    statements = engine.resource_policy_of(topic_arn)
    assert engine.allows(statements, "cloudwatch.amazonaws.com", "sns:Publish", topic_arn, mine)
    theirs = {**mine, "aws:sourceaccount": "210987654321"}
    assert not engine.allows(statements, "cloudwatch.amazonaws.com", "sns:Publish", topic_arn, theirs)
    refused = engine.decide(ROLE, "sns:Publish", topic_arn, session=SESSION)
    assert (refused.allowed, refused.reason) == (
        False,
        "because no identity-based policy allows the sns:Publish action",
    )
    assert engine.unevaluated_conditions == set()
