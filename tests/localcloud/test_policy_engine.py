"""The IAM evaluator on its own: AWS's matching rules and each service's resource naming, no cloud.

A call is named the way ``LocalCloud`` names it (botocore's operation, :func:`iam_action`, then
:func:`call_authorizations`), and decided by :class:`PolicyEngine` against a one-statement policy.
"""

from __future__ import annotations

from functools import cache

import botocore.session
import pytest

from localcloud.core.iam import PolicyEngine, call_authorizations, iam_action
from localcloud.core.kernel import Registry
from localcloud.services import SERVICES

pytestmark = pytest.mark.localcloud

ROLE = "arn:aws:iam::123456789012:role/fn"
WHERE = ("aws", "eu-west-1", "123456789012")
ARN = "arn:aws:{service}:eu-west-1:123456789012:{resource}"
#: How each service names the resource of its calls, as the cloud's registry holds it.
NAMERS = Registry(SERVICES).iam_resources


def engine(*statements: dict) -> PolicyEngine:
    policy = PolicyEngine()
    policy.add_identity_policy(ROLE, {"Statement": list(statements)}, "test-policy")
    return policy


def allow(action: str | list[str], resource: str | list[str]) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@cache
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


def calls(service: str, operation: str, **params) -> list[tuple[str, str]]:
    """The (action, resource) pairs of an SDK call, as the local cloud checks it."""
    prefix, action = iam_action(service_model(service), operation)
    return call_authorizations(prefix, action, params, WHERE, NAMERS)


def call(service: str, operation: str, **params) -> tuple[str, str]:
    [checked] = calls(service, operation, **params)
    return checked


def allowed(policy: PolicyEngine, service: str, operation: str, **params) -> bool:
    return all(policy.decide(ROLE, *checked).allowed for checked in calls(service, operation, **params))


TABLE = ARN.format(service="dynamodb", resource="table/Orders")


# ------------------------------------------------------------------------------- matching rules


def test_action_names_match_whatever_their_case():
    """IAM action names are case-insensitive: a policy's ``DynamoDB:getitem`` allows GetItem."""
    policy = engine(allow("DynamoDB:getitem", TABLE))
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert policy.decide(ROLE, "dynamodb:GETITEM", TABLE).allowed
    assert not policy.decide(ROLE, "dynamodb:PutItem", TABLE).allowed


def test_action_wildcards_match_whatever_their_case():
    policy = engine(allow("dynamodb:get*", TABLE))
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert not policy.decide(ROLE, "dynamodb:Query", TABLE).allowed


def test_resource_arns_are_case_sensitive():
    """A grant on table ``Orders`` does not reach ``orders``: ARNs compare case-sensitively."""
    policy = engine(allow("dynamodb:GetItem", TABLE))
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert not policy.decide(ROLE, "dynamodb:GetItem", TABLE.replace("Orders", "orders")).allowed
    wildcard = engine(allow("s3:GetObject", "arn:aws:s3:::bucket/Reports/*"))
    assert wildcard.decide(ROLE, "s3:GetObject", "arn:aws:s3:::bucket/Reports/q1.csv").allowed
    assert not wildcard.decide(ROLE, "s3:GetObject", "arn:aws:s3:::bucket/reports/q1.csv").allowed


def test_not_resource_allows_everything_but_the_listed_resources():
    other = TABLE.replace("Orders", "Audit")
    policy = engine({"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": other})
    assert policy.decide(ROLE, "dynamodb:GetItem", TABLE).allowed
    assert not policy.decide(ROLE, "dynamodb:GetItem", other).allowed


def test_a_deny_with_not_resource_protects_only_what_it_leaves_out():
    """The classic guard: deny every resource but one, which an allow then grants."""
    policy = engine(
        allow("dynamodb:*", "*"),
        {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "NotResource": TABLE},
    )
    assert policy.decide(ROLE, "dynamodb:DeleteTable", TABLE).allowed
    denied = policy.decide(ROLE, "dynamodb:DeleteTable", TABLE.replace("Orders", "Audit"))
    assert not denied.allowed
    assert "explicit deny" in denied.reason


def test_api_gateway_calls_are_authorized_by_their_http_method():
    """API Gateway's management API has no per-operation actions: IAM names a call by its verb
    (``apigateway:GET`` for get-rest-apis and get-api-keys), so a role granted ``apigateway:GET``
    may read, and one granted a name AWS does not have may not."""
    assert iam_action(service_model("apigateway"), "GetRestApis") == ("apigateway", "apigateway:GET")
    assert iam_action(service_model("apigateway"), "GetApiKeys") == ("apigateway", "apigateway:GET")
    assert iam_action(service_model("apigateway"), "CreateRestApi") == ("apigateway", "apigateway:POST")
    assert iam_action(service_model("apigateway"), "UpdateStage") == ("apigateway", "apigateway:PATCH")
    assert iam_action(service_model("apigateway"), "DeleteApiKey") == ("apigateway", "apigateway:DELETE")


# ------------------------------------------------------------------------------- resource naming


def test_batch_get_and_batch_write_are_authorized_on_the_tables_of_request_items():
    policy = engine(allow(["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"], TABLE))
    read = {"Keys": [{"pk": {"S": "1"}}]}
    write = [{"PutRequest": {"Item": {"pk": {"S": "1"}}}}]
    assert call("dynamodb", "BatchGetItem", RequestItems={"Orders": read}) == ("dynamodb:BatchGetItem", TABLE)
    assert allowed(policy, "dynamodb", "BatchGetItem", RequestItems={"Orders": read})
    assert allowed(policy, "dynamodb", "BatchWriteItem", RequestItems={"Orders": write})
    assert not allowed(policy, "dynamodb", "BatchGetItem", RequestItems={"Audit": read})
    assert not allowed(policy, "dynamodb", "BatchWriteItem", RequestItems={"Audit": write})


def test_a_batch_over_several_tables_needs_the_action_on_each():
    """AWS refuses a BatchWriteItem if any one of its tables is not granted, whichever comes first."""
    write = [{"DeleteRequest": {"Key": {"pk": {"S": "1"}}}}]
    policy = engine(allow("dynamodb:BatchWriteItem", TABLE))
    assert not allowed(policy, "dynamodb", "BatchWriteItem", RequestItems={"Orders": write, "Audit": write})
    assert not allowed(policy, "dynamodb", "BatchWriteItem", RequestItems={"Audit": write, "Orders": write})
    both = engine(allow("dynamodb:BatchWriteItem", [TABLE, TABLE.replace("Orders", "Audit")]))
    assert allowed(both, "dynamodb", "BatchWriteItem", RequestItems={"Orders": write, "Audit": write})


def test_a_transaction_needs_each_items_own_action_on_its_table_and_none_of_its_own():
    """IAM has no TransactWriteItems action: each item is authorized as PutItem, UpdateItem,
    DeleteItem, ConditionCheckItem or GetItem on its table ("Using IAM with DynamoDB transactions")."""
    audit = TABLE.replace("Orders", "Audit")
    items = [
        {"Update": {"TableName": "Orders", "Key": {}, "UpdateExpression": "SET a = :a"}},
        {"ConditionCheck": {"TableName": "Audit", "Key": {}, "ConditionExpression": "attribute_exists(pk)"}},
    ]
    assert calls("dynamodb", "TransactWriteItems", TransactItems=items) == [
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:ConditionCheckItem", audit),
    ]
    both = engine(allow(["dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"], [TABLE, audit]))
    assert allowed(both, "dynamodb", "TransactWriteItems", TransactItems=items)
    assert not allowed(
        engine(allow("dynamodb:TransactWriteItems", "*")),
        "dynamodb",
        "TransactWriteItems",
        TransactItems=items,
    )
    update_only = engine(allow("dynamodb:UpdateItem", [TABLE, audit]))
    assert not allowed(update_only, "dynamodb", "TransactWriteItems", TransactItems=items)
    gets = [{"Get": {"TableName": "Orders", "Key": {}}}]
    assert calls("dynamodb", "TransactGetItems", TransactItems=gets) == [("dynamodb:GetItem", TABLE)]


def test_secrets_are_named_by_arn_or_by_name_followed_by_a_wildcard():
    secret = ARN.format(service="secretsmanager", resource="secret:db-password-AbCdEf")
    assert call("secretsmanager", "GetSecretValue", SecretId=secret) == (
        "secretsmanager:GetSecretValue",
        secret,
    )
    by_arn = engine(allow("secretsmanager:GetSecretValue", secret))
    assert allowed(by_arn, "secretsmanager", "GetSecretValue", SecretId=secret)
    assert not allowed(by_arn, "secretsmanager", "GetSecretValue", SecretId=secret.replace("db", "api"))
    by_name = engine(
        allow(
            "secretsmanager:GetSecretValue",
            ARN.format(service="secretsmanager", resource="secret:db-password*"),
        )
    )
    assert allowed(by_name, "secretsmanager", "GetSecretValue", SecretId="db-password")
    assert not allowed(by_name, "secretsmanager", "GetSecretValue", SecretId="api-key")


def test_ssm_parameters_are_named_without_doubling_the_leading_slash():
    """``/app/flags`` and ``plain`` are ``parameter/app/flags`` and ``parameter/plain`` in their ARNs."""
    hierarchy = ARN.format(service="ssm", resource="parameter/app/flags")
    assert call("ssm", "GetParameter", Name="/app/flags") == ("ssm:GetParameter", hierarchy)
    assert call("ssm", "GetParameter", Name="plain") == (
        "ssm:GetParameter",
        ARN.format(service="ssm", resource="parameter/plain"),
    )
    policy = engine(
        allow(
            ["ssm:GetParameter", "ssm:GetParametersByPath"],
            ARN.format(service="ssm", resource="parameter/app/*"),
        )
    )
    assert allowed(policy, "ssm", "GetParameter", Name="/app/flags")
    assert allowed(policy, "ssm", "GetParametersByPath", Path="/app/")
    assert not allowed(policy, "ssm", "GetParameter", Name="/other/flags")


@pytest.mark.parametrize(
    ("operation", "params", "resource"),
    [
        ("GetApplication", {"ApplicationId": "app1"}, "application/app1"),
        (
            "GetEnvironment",
            {"ApplicationId": "app1", "EnvironmentId": "env1"},
            "application/app1/environment/env1",
        ),
        (
            "GetConfigurationProfile",
            {"ApplicationId": "app1", "ConfigurationProfileId": "prof1"},
            "application/app1/configurationprofile/prof1",
        ),
        (
            "GetDeployment",
            {"ApplicationId": "app1", "EnvironmentId": "env1", "DeploymentNumber": 0},
            "application/app1/environment/env1/deployment/0",
        ),
        ("GetDeploymentStrategy", {"DeploymentStrategyId": "strat1"}, "deploymentstrategy/strat1"),
    ],
)
def test_appconfig_resources_are_named_as_its_arn_formats(operation, params, resource):
    action, named = call("appconfig", operation, **params)
    assert (action, named) == (f"appconfig:{operation}", ARN.format(service="appconfig", resource=resource))
    policy = engine(allow(action, named))
    assert allowed(policy, "appconfig", operation, **params)
    assert not allowed(policy, "appconfig", operation, **{**params, next(iter(params)): "other"})


# ---------------------------------------------------------------------------------------- conditions

QUEUE = ARN.format(service="sqs", resource="orders")
RULE = ARN.format(service="events", resource="rule/orders")


def conditional(effect: str, condition: dict, principal: object = None) -> dict:
    statement = {"Effect": effect, "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": condition}
    return statement if principal is None else {**statement, "Principal": principal}


def resource_engine(*statements: dict) -> PolicyEngine:
    policy = PolicyEngine()
    policy.add_resource_policy(QUEUE, {"Statement": list(statements)}, "queue-policy")
    return policy


def delivered(policy: PolicyEngine, context: dict[str, str]) -> bool:
    statements = policy.resource[QUEUE]
    return policy.allows(statements, "events.amazonaws.com", "sqs:SendMessage", QUEUE, context)


def test_an_identity_policy_conditioned_on_the_principal_arn_lets_only_that_role_in():
    other = "arn:aws:iam::123456789012:role/other"
    only_fn = conditional("Allow", {"StringEquals": {"aws:PrincipalArn": ROLE}})
    policy = engine(only_fn)
    policy.add_identity_policy(other, {"Statement": [only_fn]}, "test-policy")
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert not policy.decide(other, "sqs:SendMessage", QUEUE).allowed
    assert policy.unevaluated_conditions == set()


def test_a_tls_only_deny_never_applies_to_calls_which_all_use_tls():
    tls_only = conditional("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    policy = engine(allow("sqs:SendMessage", QUEUE), tls_only)
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    insecure_too = conditional("Deny", {"Bool": {"aws:SecureTransport": ["false", "true"]}})
    assert (
        not engine(allow("sqs:SendMessage", QUEUE), insecure_too)
        .decide(ROLE, "sqs:SendMessage", QUEUE)
        .allowed
    )


def test_a_service_principal_is_let_in_for_the_source_its_statement_names():
    service = {"Service": "events.amazonaws.com"}
    policy = resource_engine(
        conditional("Allow", {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/ord*"}}, service)
    )
    assert delivered(policy, {"aws:sourcearn": RULE})
    assert not delivered(policy, {"aws:sourcearn": RULE.replace("orders", "refunds")})
    assert not delivered(policy, {}), "a request without the key fails the test"


def test_if_exists_and_not_operators_follow_iam():
    service = {"Service": "events.amazonaws.com"}
    if_exists = resource_engine(
        conditional("Allow", {"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}, service)
    )
    assert delivered(if_exists, {})
    assert not delivered(if_exists, {"aws:sourceaccount": "999999999999"})
    foreign_denied = resource_engine(
        conditional("Allow", {}, service),
        conditional("Deny", {"StringNotEquals": {"aws:SourceAccount": "123456789012"}}, service),
    )
    assert delivered(foreign_denied, {"aws:sourceaccount": "123456789012"})
    assert not delivered(foreign_denied, {"aws:sourceaccount": "999999999999"})


def test_a_key_policy_may_admit_a_service_only_through_another_service():
    key = ARN.format(service="kms", resource="key/1")
    policy = PolicyEngine()
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}},
    }
    policy.add_resource_policy(key, {"Statement": [statement]}, "key-policy")

    def admits(via: str) -> bool:
        context = {"kms:viaservice": via}
        return policy.allows(policy.resource[key], "sns.amazonaws.com", "kms:GenerateDataKey", key, context)

    assert admits("sqs.eu-west-1.amazonaws.com")
    assert not admits("s3.eu-west-1.amazonaws.com")


SERVICE = {"Service": "events.amazonaws.com"}


def identity_decides(condition: dict, effect: str) -> bool:
    """Whether a role's call is allowed, with the condition on an Allow, or on a Deny beside an Allow."""
    statements = [conditional(effect, condition)]
    if effect == "Deny":
        statements.append(allow("sqs:SendMessage", QUEUE))
    return engine(*statements).decide(ROLE, "sqs:SendMessage", QUEUE).allowed


def resource_decides(condition: dict, effect: str, context: dict[str, str]) -> bool:
    """Whether a service delivers, with the condition on an Allow, or on a Deny beside an Allow."""
    statements = [conditional(effect, condition, SERVICE)]
    if effect == "Deny":
        statements.append(conditional("Allow", {}, SERVICE))
    return delivered(resource_engine(*statements), context)


NEGATED = ["StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike", "StringNotEqualsIgnoreCase"]


@pytest.mark.parametrize("operator", NEGATED)
def test_a_negated_operator_on_a_key_the_request_lacks_holds(operator):
    condition = {operator: {"aws:SourceAccount": "999999999999"}}
    assert not identity_decides(condition, "Deny"), "a role's call carries no aws:SourceAccount"
    assert not resource_decides(condition, "Deny", {})
    assert resource_decides(condition, "Deny", {"aws:sourceaccount": "999999999999"})
    assert identity_decides(condition, "Allow")
    assert resource_decides(condition, "Allow", {})


@pytest.mark.parametrize("operator", ["StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool"])
def test_a_plain_operator_on_a_key_the_request_lacks_fails(operator):
    condition = {operator: {"aws:SourceArn": RULE}}
    assert not identity_decides(condition, "Allow")
    assert not resource_decides(condition, "Allow", {})
    assert identity_decides(condition, "Deny")
    assert resource_decides(condition, "Deny", {})


@pytest.mark.parametrize("operator", ["StringEqualsIfExists", "StringNotEqualsIfExists", "ArnLikeIfExists"])
def test_any_if_exists_operator_on_a_key_the_request_lacks_holds(operator):
    condition = {operator: {"aws:SourceArn": "arn:aws:events:*:*:rule/other"}}
    assert identity_decides(condition, "Allow")
    assert resource_decides(condition, "Allow", {})
    assert not identity_decides(condition, "Deny")
    assert not resource_decides(condition, "Deny", {})
    present = {"aws:sourcearn": RULE}
    assert resource_decides(condition, "Allow", present) == ("Not" in operator), "a present key is tested"


def test_null_tests_whether_the_request_carries_the_key():
    absent = {"Null": {"aws:SourceArn": "true"}}
    present = {"Null": {"aws:SourceArn": "false"}}
    assert identity_decides(absent, "Allow") and not identity_decides(present, "Allow")
    assert not identity_decides(absent, "Deny") and identity_decides(present, "Deny")
    assert resource_decides(absent, "Allow", {}) and not resource_decides(
        absent, "Allow", {"aws:sourcearn": RULE}
    )
    assert resource_decides(present, "Allow", {"aws:sourcearn": RULE}) and not resource_decides(
        present, "Allow", {}
    )


def test_set_qualifiers_follow_iam_on_a_key_the_request_lacks():
    assert resource_decides({"ForAllValues:StringEquals": {"aws:SourceAccount": "1"}}, "Allow", {})
    assert not resource_decides({"ForAnyValue:StringEquals": {"aws:SourceAccount": "1"}}, "Allow", {})
    assert not resource_decides({"ForAnyValue:StringNotEquals": {"aws:SourceAccount": "1"}}, "Allow", {})


@pytest.mark.parametrize(
    "condition",
    [{"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, {"NumericLessThan": {"aws:SourceAccount": "2"}}],
    ids=["unknown-key", "unknown-operator"],
)
def test_a_condition_the_evaluator_cannot_test_never_grants_and_always_denies(condition, caplog):
    [(operator, tests)] = condition.items()
    [key] = tests
    assert not identity_decides(condition, "Allow")
    assert not identity_decides(condition, "Deny")
    assert not resource_decides(condition, "Allow", {})
    assert not resource_decides(condition, "Deny", {})
    caplog.clear()
    policy = engine(conditional("Allow", condition))
    policy.decide(ROLE, "sqs:SendMessage", QUEUE)
    policy.decide(ROLE, "sqs:SendMessage", QUEUE)
    assert policy.unevaluated_conditions == {f"test-policy: {operator} {key}"}
    warned = [r.getMessage() for r in caplog.records if r.name == "localcloud.iam"]
    assert sum(f"test-policy: {operator} {key}" in message for message in warned) == 1, "logged once"
    resource = resource_engine(conditional("Deny", condition, SERVICE), conditional("Allow", {}, SERVICE))
    assert not delivered(resource, {})
    assert resource.unevaluated_conditions == {f"queue-policy: {operator} {key}"}


def test_a_deny_on_an_unknown_key_applies_only_if_its_other_conditions_hold():
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-1", "aws:PrincipalArn": "arn:aws:iam::1:role/x"}}
    assert identity_decides(condition, "Deny"), "the known condition fails, so the deny does not apply"
