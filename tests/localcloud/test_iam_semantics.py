"""The IAM evaluator's remaining rules, no cloud: who a resource policy names, how a denied call is
worded per service, which action an API operation needs, how a role's policies are replaced while
the cloud runs, AWS managed policies, and what ``make grants`` reads as unused.

Complements ``test_policy_engine.py`` (matching, resource naming, conditions)."""

from __future__ import annotations

from functools import cache

import botocore.session
import pytest

from localcloud.core.iam import (
    PolicyEngine,
    Statement,
    access_denied,
    call_authorizations,
    call_resources,
    iam_action,
    managed_policy_document,
)
from localcloud.core.kernel import Registry
from localcloud.errors import LocalCloudError, Unsupported
from localcloud.services import SERVICES

pytestmark = pytest.mark.localcloud

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn"
QUEUE = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders"
FUNCTION = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:worker"
WHERE = ("aws", "eu-west-1", ACCOUNT)
NAMERS = Registry(SERVICES).iam_resources


@cache
def operation_action(service: str, operation: str) -> tuple[str, str]:
    return iam_action(botocore.session.get_session().get_service_model(service), operation)


def statement(principal: object) -> Statement:
    return Statement("Allow", ["sqs:SendMessage"], [QUEUE], principal=principal)


# ------------------------------------------------------------------------------------ principals


@pytest.mark.parametrize(
    ("principal", "named", "not_named"),
    [
        ("*", ["events.amazonaws.com", ROLE, "anonymous"], []),
        ({"AWS": "*"}, [ROLE, "anonymous"], []),
        ({"AWS": ROLE}, [ROLE], [f"arn:aws:iam::{ACCOUNT}:role/other", "events.amazonaws.com"]),
        ({"AWS": [ACCOUNT, ROLE]}, [ACCOUNT, ROLE], ["999999999999"]),
        ({"Service": "events.amazonaws.com"}, ["events.amazonaws.com"], ["sns.amazonaws.com", ROLE]),
        ({"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]}, ["s3.amazonaws.com"], ["sqs.amazonaws.com"]),
        (None, [], ["events.amazonaws.com", "anonymous"]),
        ("events.amazonaws.com", [], ["events.amazonaws.com"]),
    ],
)
def test_a_resource_policy_statement_names_exactly_its_principals(principal, named, not_named):
    """``"*"`` and ``{"AWS": "*"}`` name everyone; a service or an IAM principal names only itself; an
    identity-policy statement (no ``Principal``) names no one in a resource policy."""
    for who in named:
        assert statement(principal).names(who), who
    for who in not_named:
        assert not statement(principal).names(who), who


def test_a_resource_policy_lets_in_only_the_principal_it_names_and_says_why():
    policy = PolicyEngine()
    policy.add_resource_policy(
        QUEUE,
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
            }
        },
        "queue-policy",
    )
    statements = policy.resource[QUEUE]
    assert policy.resource_decision(statements, "sns.amazonaws.com", "sqs:SendMessage", QUEUE, {}).reason == (
        "queue-policy"
    )
    refused = policy.resource_decision(statements, "events.amazonaws.com", "sqs:SendMessage", QUEUE, {})
    assert (refused.allowed, refused.reason) == (False, "no statement allows it")
    assert not policy.allows(statements, "sns.amazonaws.com", "sqs:DeleteMessage", QUEUE, {})
    assert not policy.allows(statements, "sns.amazonaws.com", "sqs:SendMessage", QUEUE + "-dlq", {})
    assert policy.allows(statements, "sns.amazonaws.com", "sqs:SendMessage", None, {}), (
        "a resource that cannot be named is decided on the action alone"
    )


def test_a_deny_in_a_resource_policy_wins_over_an_allow_before_it():
    policy = PolicyEngine()
    everyone = {"Principal": "*", "Action": "sqs:SendMessage", "Resource": QUEUE}
    policy.add_resource_policy(QUEUE, {"Statement": [{"Effect": "Allow", **everyone}]}, "allow-all")
    policy.add_resource_policy(QUEUE, {"Statement": [{"Effect": "Deny", **everyone}]}, "deny-all")
    decision = policy.resource_decision(
        policy.resource[QUEUE], "sns.amazonaws.com", "sqs:SendMessage", QUEUE, {}
    )
    assert (decision.allowed, decision.reason) == (False, "explicit deny in deny-all")


def test_a_context_that_cannot_be_remembered_is_still_decided():
    """A condition value that is a list (not hashable), in a key a condition reads, is decided each
    time, the same way; where no condition reads it, it is not part of what is remembered."""
    policy = PolicyEngine()
    present = {"Null": {"aws:SourceArn": "false"}}
    allow = {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*", "Condition": present}
    policy.add_resource_policy(QUEUE, {"Statement": [allow]}, "p")
    context = {"aws:sourcearn": ["a", "b"]}
    assert policy.allows(policy.resource[QUEUE], "anonymous", "sqs:SendMessage", QUEUE, context)  # type: ignore[arg-type]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
    policy.add_resource_policy(QUEUE, {"Statement": [deny]}, "d")
    assert not policy.allows(policy.resource[QUEUE], "anonymous", "sqs:SendMessage", QUEUE, context)  # type: ignore[arg-type]
    assert policy.decisions.misses == 0, "nothing was remembered"
    unread = {"aws:sourcearn": "a", "aws:userid": ["a", "b"]}
    assert not policy.allows(policy.resource[QUEUE], "anonymous", "sqs:SendMessage", QUEUE, unread)  # type: ignore[arg-type]
    assert not policy.allows(policy.resource[QUEUE], "anonymous", "sqs:SendMessage", QUEUE, unread)  # type: ignore[arg-type]
    assert (policy.decisions.misses, policy.decisions.hits) == (1, 1)


@pytest.mark.parametrize(
    ("props", "admitted", "refused"),
    [
        (
            {"Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::uploads"},
            ("s3.amazonaws.com", {"aws:sourcearn": "arn:aws:s3:::uploads"}),
            ("s3.amazonaws.com", {"aws:sourcearn": "arn:aws:s3:::other"}),
        ),
        (
            {"Principal": "events.amazonaws.com"},
            ("events.amazonaws.com", {}),
            ("sns.amazonaws.com", {}),
        ),
        ({"Principal": ACCOUNT}, (ACCOUNT, {}), ("999999999999", {})),
    ],
)
def test_a_function_permission_admits_its_principal_for_its_source_only(props, admitted, refused):
    """AddPermission: a service principal (``*.amazonaws.com``) or an account, and with a
    ``SourceArn`` only for that source (``ArnLike`` on ``aws:SourceArn``)."""
    policy = PolicyEngine()
    policy.add_function_permission(FUNCTION, {"Action": "lambda:InvokeFunction", **props}, "permission")
    statements = policy.resource[FUNCTION]
    assert policy.allows(statements, admitted[0], "lambda:InvokeFunction", FUNCTION, admitted[1])
    assert not policy.allows(statements, refused[0], "lambda:InvokeFunction", FUNCTION, refused[1])
    assert not policy.allows(statements, admitted[0], "lambda:InvokeFunction", FUNCTION + "-2", admitted[1])


def test_a_function_permission_for_any_principal_admits_everyone():
    """``Principal: "*"`` (a function URL open to all) is IAM's wildcard, not a service's name."""
    policy = PolicyEngine()
    policy.add_function_permission(
        FUNCTION, {"Action": "lambda:InvokeFunctionUrl", "Principal": "*"}, "public"
    )
    statements = policy.resource[FUNCTION]
    assert policy.allows(statements, "anonymous", "lambda:InvokeFunctionUrl", FUNCTION, {})
    assert policy.allows(statements, ACCOUNT, "lambda:InvokeFunctionUrl", FUNCTION, {})
    assert not policy.allows(statements, "anonymous", "lambda:InvokeFunction", FUNCTION, {})


def test_a_held_policy_is_parsed_once_per_text():
    policy = PolicyEngine()
    text = '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]}'
    assert policy.held_policy(QUEUE, None) == [] and policy.held_policy(QUEUE, "") == []
    first = policy.held_policy(QUEUE, text)
    assert [s.resources for s in first] == [["*"]], "a statement without Resource covers every resource"
    assert policy.held_policy(QUEUE, text) is first
    changed = policy.held_policy(QUEUE, text.replace("Allow", "Deny"))
    assert changed is not first and changed[0].effect == "Deny"
    assert policy.held_policy(QUEUE + "-2", text) is not first, "held per resource"


# ------------------------------------------------------------------------------ identity decisions


def test_an_identity_decision_says_which_policy_allowed_or_denied():
    policy = PolicyEngine()
    grant = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}
    policy.add_identity_policy(ROLE, {"Statement": [grant]}, "first")
    policy.add_identity_policy(ROLE, {"Statement": [grant]}, "second")
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).reason == "first"
    refused = policy.decide(ROLE, "sqs:ReceiveMessage", QUEUE)
    assert (refused.allowed, refused.reason) == (
        False,
        "because no identity-based policy allows the sqs:ReceiveMessage action",
    )
    assert not policy.decide(f"arn:aws:iam::{ACCOUNT}:role/other", "sqs:SendMessage", QUEUE).allowed
    policy.add_identity_policy(ROLE, {"Statement": [{**grant, "Effect": "Deny"}]}, "guard")
    denied = policy.decide(ROLE, "sqs:SendMessage", QUEUE)
    assert (denied.allowed, denied.reason) == (False, "with an explicit deny in guard")


def test_not_action_allows_every_action_but_those_it_lists():
    policy = PolicyEngine()
    policy.add_identity_policy(
        ROLE, {"Statement": [{"Effect": "Allow", "NotAction": "sqs:Delete*", "Resource": QUEUE}]}, "p"
    )
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert not policy.decide(ROLE, "sqs:DeleteMessage", QUEUE).allowed
    assert not policy.decide(ROLE, "sqs:SendMessage", QUEUE + "-dlq").allowed


def test_a_named_policy_is_replaced_and_removed_as_iam_does_while_the_cloud_runs():
    """PutRolePolicy replaces the inline policy of that name only; DeleteRolePolicy removes it."""
    policy = PolicyEngine()
    send = {"Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}]}
    receive = {"Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": QUEUE}]}
    policy.add_identity_policy(ROLE, receive, "template")
    policy.add_identity_policy(ROLE, send, "inline", name="Send")
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    policy.put_role_policy(ROLE, "Send", receive, "put")
    assert not policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert policy.decide(ROLE, "sqs:ReceiveMessage", QUEUE).reason == "template"
    policy.put_role_policy(ROLE, "Send", None, "delete")
    assert [s.source for s in policy.identity[ROLE]] == ["template"]
    policy.put_role_policy(ROLE, "Send", None, "delete again")
    assert [s.source for s in policy.identity[ROLE]] == ["template"]
    policy.put_role_policy(ROLE, "Send", send, "put")
    policy.put_role_policy(ROLE, "Other", {"Statement": []}, "empty")
    assert [s.source for s in policy.identity[ROLE]] == ["template", "put"]
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed


def test_an_aws_managed_policy_is_attached_as_aws_publishes_it():
    policy = PolicyEngine()
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    policy.add_managed_policy(ROLE, basic, "Role")
    logs = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/fn:*"
    assert policy.decide(ROLE, "logs:PutLogEvents", logs).reason == f"Role/{basic}"
    assert not policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    policy.put_role_policy(ROLE, basic, None, "DetachRolePolicy")
    assert not policy.decide(ROLE, "logs:PutLogEvents", logs).allowed


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole",  # at the wrong path
        "arn:aws:iam::aws:policy/service-role/NoSuchPolicy",
    ],
)
def test_an_aws_managed_policy_aws_does_not_have_fails_the_deployment(arn):
    assert managed_policy_document(arn) is None
    with pytest.raises(LocalCloudError, match=f"Role: Policy {arn} does not exist or is not attachable."):
        PolicyEngine().add_managed_policy(ROLE, arn, "Role")


def test_a_customer_managed_policy_arn_is_not_supported():
    arn = f"arn:aws:iam::{ACCOUNT}:policy/mine"
    assert managed_policy_document(arn) is None
    with pytest.raises(Unsupported, match=f"Role: managed policy {arn}, which is not an AWS managed policy,"):
        PolicyEngine().add_managed_policy(ROLE, arn, "Role")


def test_read_only_access_at_the_root_path_is_found():
    document = managed_policy_document("arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert document is not None and document["Statement"]


def test_unused_grants_lists_each_allowed_action_no_call_needed():
    """What ``make grants`` reads: per role, each Allow pattern no decision used; denies are no grants."""
    policy = PolicyEngine()
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    policy.add_identity_policy(
        ROLE,
        {
            "Statement": [
                {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:Get*"], "Resource": [QUEUE, "*"]},
                {"Effect": "Deny", "Action": "sqs:PurgeQueue", "Resource": QUEUE},
            ]
        },
        "FnPolicy",
    )
    policy.add_identity_policy(
        other, {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, "O"
    )
    assert policy.decide(ROLE, "sqs:GetQueueUrl", QUEUE).allowed
    assert policy.unused_grants() == [
        f"fn: sqs:SendMessage on {QUEUE}, * (FnPolicy)",
        "other: s3:* on * (O)",
    ]
    assert policy.unused_grants([other]) == ["other: s3:* on * (O)"]
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert policy.unused_grants([ROLE]) == []


# ------------------------------------------------------------------------------ calls and errors


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("sqs", "AccessDenied", 403),
        ("s3", "AccessDenied", 403),
        ("sns", "AuthorizationError", 403),
        # DynamoDB answers every 4xx with 400, AccessDeniedException included (developer guide,
        # "Error handling with DynamoDB": HTTP status code 400, AccessDeniedException).
        ("dynamodb", "AccessDeniedException", 400),
        ("lambda", "AccessDeniedException", 403),
    ],
)
def test_a_denied_call_is_worded_as_aws_words_it(service, code, status):
    error = access_denied(
        service, "DoIt", ROLE, "fn-session", f"{service}:DoIt", "arn:x", "because no reason"
    )
    assert error.response["Error"] == {
        "Code": code,
        "Message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/fn/fn-session is not authorized to perform: "
        f"{service}:DoIt on resource: arn:x because no reason",
    }
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error.operation_name == "DoIt"


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("sqs", "SendMessageBatch", ("sqs", "sqs:SendMessage")),
        ("sqs", "DeleteMessageBatch", ("sqs", "sqs:DeleteMessage")),
        ("sqs", "ChangeMessageVisibilityBatch", ("sqs", "sqs:ChangeMessageVisibility")),
        ("sns", "PublishBatch", ("sns", "sns:Publish")),
        ("lambda", "Invoke", ("lambda", "lambda:InvokeFunction")),
        ("lambda", "InvokeWithResponseStream", ("lambda", "lambda:InvokeFunction")),
        ("s3", "HeadObject", ("s3", "s3:GetObject")),
        ("s3", "HeadBucket", ("s3", "s3:ListBucket")),
        ("s3", "ListObjectsV2", ("s3", "s3:ListBucket")),
        ("s3", "ListObjects", ("s3", "s3:ListBucket")),
        ("s3", "ListBuckets", ("s3", "s3:ListAllMyBuckets")),
        ("s3", "ListObjectVersions", ("s3", "s3:ListBucketVersions")),
        ("s3", "ListMultipartUploads", ("s3", "s3:ListBucketMultipartUploads")),
        ("s3", "ListParts", ("s3", "s3:ListMultipartUploadParts")),
        ("s3", "CreateMultipartUpload", ("s3", "s3:PutObject")),
        ("s3", "UploadPart", ("s3", "s3:PutObject")),
        ("s3", "CompleteMultipartUpload", ("s3", "s3:PutObject")),
        ("s3", "DeleteObjects", ("s3", "s3:DeleteObject")),
        ("s3", "PutBucketNotificationConfiguration", ("s3", "s3:PutBucketNotification")),
        ("s3", "GetBucketNotificationConfiguration", ("s3", "s3:GetBucketNotification")),
        ("cloudwatch", "PutMetricData", ("cloudwatch", "cloudwatch:PutMetricData")),
        ("appconfigdata", "GetLatestConfiguration", ("appconfig", "appconfig:GetLatestConfiguration")),
        ("ses", "SendEmail", ("ses", "ses:SendEmail")),
        ("sqs", "SendMessage", ("sqs", "sqs:SendMessage")),
    ],
)
def test_an_operation_needs_the_action_iam_names_for_it(service, operation, expected):
    """Batch calls need the single call's action; IAM's prefix where botocore signs another name."""
    assert operation_action(service, operation) == expected


def test_a_service_no_one_names_resources_for_is_checked_on_the_action_alone():
    namers = {"sqs": lambda params, where: f"arn:aws:sqs:{where[1]}:{where[2]}:{params.get('QueueName', '')}"}
    assert call_resources("kinesis", {"StreamName": "s"}, WHERE, namers) is None
    assert call_authorizations("kinesis", "kinesis:PutRecord", {}, WHERE, namers) is None
    assert call_resources("sqs", {"QueueName": "orders"}, WHERE, namers) == [QUEUE]
    assert call_resources("sqs", {}, WHERE, {"sqs": lambda params, where: None}) == ["*"]


def test_a_dynamodb_batch_over_one_table_is_named_by_its_own_params():
    seen = []

    def namer(params, where):
        seen.append(params)
        return "arn:table"

    params = {"RequestItems": {"Orders": {"Keys": []}}}
    assert call_resources("dynamodb", params, WHERE, {"dynamodb": namer}) == ["arn:table"]
    assert seen == [params]
    assert call_resources("sqs", {"RequestItems": {"a": 1, "b": 2}}, WHERE, {"sqs": namer}) == [
        "arn:table"
    ], "only DynamoDB's RequestItems name tables"


def test_a_transaction_skips_what_is_not_an_item_and_names_each_pair_once():
    tables = {
        "dynamodb": lambda params, where: f"table/{params['TableName']}" if params["TableName"] else None
    }
    items = [
        {"Put": {"TableName": "A"}},
        {"Put": {"TableName": "A"}},
        {"Unknown": {"TableName": "B"}},
        {"Delete": "not a request"},
        {"Get": {}},
    ]
    assert call_authorizations(
        "dynamodb", "dynamodb:TransactWriteItems", {"TransactItems": items}, WHERE, tables
    ) == [
        ("dynamodb:PutItem", "table/A"),
        ("dynamodb:GetItem", "*"),
    ]
    assert call_authorizations("dynamodb", "dynamodb:TransactGetItems", {}, WHERE, tables) == [
        ("dynamodb:TransactGetItems", "*")
    ]
    assert call_authorizations(
        "dynamodb", "dynamodb:TransactGetItems", {"TransactItems": items[:1]}, WHERE, {}
    ) == [("dynamodb:PutItem", "*")]


# ------------------------------------------------------------------------------------ conditions


def source_ip_engine(operator: str, value: object) -> PolicyEngine:
    policy = PolicyEngine()
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": "*",
        "Condition": {operator: {"aws:SourceIp": value}},
    }
    policy.add_resource_policy("api", {"Statement": [statement]}, "api-policy")
    return policy


def invokes(policy: PolicyEngine, context: dict[str, str]) -> bool:
    return policy.allows(policy.resource["api"], "anonymous", "execute-api:Invoke", "arn:api", context)


def test_ip_address_tests_the_client_address_against_a_block_or_one_address():
    block = source_ip_engine("IpAddress", ["10.0.0.0/8", "192.0.2.7"])
    assert invokes(block, {"aws:sourceip": "10.1.2.3"})
    assert invokes(block, {"aws:sourceip": "192.0.2.7"})
    assert not invokes(block, {"aws:sourceip": "192.0.2.8"})
    assert not invokes(block, {"aws:sourceip": "not-an-address"})
    written_loosely = source_ip_engine("IpAddress", "10.1.2.3/8")
    assert invokes(written_loosely, {"aws:sourceip": "10.200.0.1"}), "bits past the mask are ignored"
    outside = source_ip_engine("NotIpAddress", "10.0.0.0/8")
    assert invokes(outside, {"aws:sourceip": "172.16.0.1"})
    assert not invokes(outside, {"aws:sourceip": "10.0.0.1"})
    assert block.unevaluated_conditions == set()


def test_a_network_key_is_not_evaluated_for_a_request_whose_network_origin_is_unknown():
    """An SDK call carries no client address offline: a condition on one grants nothing."""
    block = source_ip_engine("IpAddress", "10.0.0.0/8")
    assert not invokes(block, {"aws:sourcearn": "arn:x"})
    assert block.unevaluated_conditions == {"api-policy: IpAddress aws:SourceIp"}
    vpce = source_ip_engine("StringEquals", "vpce-1")
    vpce.resource["api"][0].condition = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    assert invokes(vpce, {"aws:sourcevpce": "vpce-1"})
    assert not invokes(vpce, {"aws:sourcevpce": "vpce-2"})


@pytest.mark.parametrize(
    ("operator", "actual", "expected", "holds"),
    [
        ("StringEqualsIgnoreCase", "Orders", "ORDERS", True),
        ("StringEqualsIgnoreCase", "Orders", "Refunds", False),
        ("StringEquals", "Orders", "ORDERS", False),
        ("Bool", "True", "true", True),
        ("Bool", "true", "false", False),
        ("ArnEquals", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:eu-west-1:1:t", True),
        # IAM: "The ArnEquals and ArnLike condition operators behave identically": each of the six
        # colon-delimited parts is matched on its own, with * and ?, case-sensitively.
        ("ArnEquals", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:eu-west-1:1:*", True),
        ("ArnLike", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:*:1:?", True),
        ("ArnLike", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:eu-west-1:1:T", False),
        ("ArnEquals", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:eu-west-1:1", False),
        ("ArnLike", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:*", False),
        # IAM's own example: StringLike's first * would take "us-east-2:999999999999:store/abc:";
        # ArnLike's takes only the region, so the account part fails.
        (
            "ArnLike",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
            "arn:aws:someservice:*:111122223333:finance/*",
            False,
        ),
        (
            "StringLike",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
            "arn:aws:someservice:*:111122223333:finance/*",
            True,
        ),
        ("ArnNotEquals", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sns:eu-west-1:1:*", False),
        ("ArnLike", "arn:aws:s3:::uploads/a:b", "arn:aws:s3:::uploads/*", True),
        ("StringLike", "orders-1", "orders-?", True),
    ],
)
def test_each_condition_operator_compares_as_iam_does(operator, actual, expected, holds):
    policy = PolicyEngine()
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {operator: {"aws:SourceArn": expected}},
    }
    policy.add_resource_policy(QUEUE, {"Statement": [statement]}, "p")
    assert (
        policy.allows(
            policy.resource[QUEUE], "anonymous", "sqs:SendMessage", QUEUE, {"aws:sourcearn": actual}
        )
        is holds
    )


# ------------------------------------------------------------------------ every service's naming

R = f"eu-west-1:{ACCOUNT}"
#: One call per service that names its resources, and the ARN AWS authorizes it on ("Actions,
#: resources, and condition keys" of each service); ``"*"`` where the call names none.
NAMED = [
    ("sqs", "SendMessage", {"QueueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/orders/"}, QUEUE),
    ("sqs", "GetQueueUrl", {"QueueName": "orders"}, QUEUE),
    ("sqs", "ListQueues", {}, "*"),
    ("sns", "Publish", {"TopicArn": f"arn:aws:sns:{R}:alarms"}, f"arn:aws:sns:{R}:alarms"),
    ("sns", "Publish", {"TargetArn": f"arn:aws:sns:{R}:endpoint"}, f"arn:aws:sns:{R}:endpoint"),
    ("lambda", "Invoke", {"FunctionName": "worker"}, FUNCTION),
    ("lambda", "Invoke", {"FunctionName": "worker", "Qualifier": "live"}, f"{FUNCTION}:live"),
    ("lambda", "GetFunction", {"FunctionName": FUNCTION}, FUNCTION),
    ("lambda", "GetEventSourceMapping", {"UUID": "u-1"}, f"arn:aws:lambda:{R}:event-source-mapping:u-1"),
    ("lambda", "ListFunctions", {}, "*"),
    ("s3", "PutObject", {"Bucket": "uploads", "Key": "a/b.txt"}, "arn:aws:s3:::uploads/a/b.txt"),
    ("s3", "ListObjectsV2", {"Bucket": "uploads"}, "arn:aws:s3:::uploads"),
    ("s3", "ListBuckets", {}, "*"),
    (
        "events",
        "PutEvents",
        {"Entries": [{"EventBusName": "orders"}]},
        f"arn:aws:events:{R}:event-bus/orders",
    ),
    ("events", "PutEvents", {"Entries": [{"Detail": "{}"}]}, f"arn:aws:events:{R}:event-bus/default"),
    ("events", "DescribeEventBus", {"EventBusName": "orders"}, f"arn:aws:events:{R}:event-bus/orders"),
    (
        "stepfunctions",
        "StartExecution",
        {"stateMachineArn": f"arn:aws:states:{R}:stateMachine:m"},
        f"arn:aws:states:{R}:stateMachine:m",
    ),
    (
        "stepfunctions",
        "DescribeExecution",
        {"executionArn": f"arn:aws:states:{R}:execution:m:e"},
        f"arn:aws:states:{R}:execution:m:e",
    ),
    ("kinesis", "PutRecord", {"StreamName": "clicks"}, f"arn:aws:kinesis:{R}:stream/clicks"),
    (
        "kinesis",
        "PutRecord",
        {"StreamARN": f"arn:aws:kinesis:{R}:stream/other"},
        f"arn:aws:kinesis:{R}:stream/other",
    ),
    (
        "firehose",
        "PutRecord",
        {"DeliveryStreamName": "archive"},
        f"arn:aws:firehose:{R}:deliverystream/archive",
    ),
    ("logs", "CreateLogGroup", {"logGroupName": "/app"}, f"arn:aws:logs:{R}:log-group:/app"),
    (
        "logs",
        "PutLogEvents",
        {"logGroupName": "/app", "logStreamName": "s"},
        f"arn:aws:logs:{R}:log-group:/app:log-stream:s",
    ),
    ("cloudwatch", "PutMetricData", {"Namespace": "App"}, "*"),
    ("cloudwatch", "DescribeAlarms", {"AlarmNames": ["high"]}, f"arn:aws:cloudwatch:{R}:alarm:high"),
    ("cloudwatch", "DescribeAlarms", {"AlarmNames": ["high", "low"]}, "*"),
    ("cloudwatch", "SetAlarmState", {"AlarmName": "low"}, f"arn:aws:cloudwatch:{R}:alarm:low"),
    (
        "cognito-idp",
        "AdminGetUser",
        {"UserPoolId": "eu-west-1_abc"},
        f"arn:aws:cognito-idp:{R}:userpool/eu-west-1_abc",
    ),
    (
        "cognito-identity",
        "GetId",
        {"IdentityPoolId": "eu-west-1:1"},
        f"arn:aws:cognito-identity:{R}:identitypool/eu-west-1:1",
    ),
    ("pipes", "DescribePipe", {"Name": "p"}, f"arn:aws:pipes:{R}:pipe/p"),
    (
        "rds-data",
        "ExecuteStatement",
        {"resourceArn": f"arn:aws:rds:{R}:cluster:db"},
        f"arn:aws:rds:{R}:cluster:db",
    ),
    (
        "cloudfront",
        "CreateInvalidation",
        {"DistributionId": "E1"},
        f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1",
    ),
    (
        "dynamodb",
        "Query",
        {"TableName": "Orders", "IndexName": "byDate"},
        f"arn:aws:dynamodb:{R}:table/Orders/index/byDate",
    ),
    (
        "dynamodbstreams",
        "GetShardIterator",
        {"StreamArn": f"arn:aws:dynamodb:{R}:table/Orders/stream/1"},
        f"arn:aws:dynamodb:{R}:table/Orders/stream/1",
    ),
    ("secretsmanager", "GetSecretValue", {"SecretId": "db"}, f"arn:aws:secretsmanager:{R}:secret:db*"),
    ("ssm", "GetParametersByPath", {"Path": "/app/"}, f"arn:aws:ssm:{R}:parameter/app/"),
    (
        "appconfig",
        "GetDeploymentStrategy",
        {"DeploymentStrategyId": "s"},
        f"arn:aws:appconfig:{R}:deploymentstrategy/s",
    ),
    ("appconfig", "ListApplications", {}, "*"),
    ("kms", "Encrypt", {"KeyId": "1234abcd"}, f"arn:aws:kms:{R}:key/1234abcd"),
    ("kms", "Encrypt", {"KeyId": "alias/none"}, f"arn:aws:kms:{R}:alias/none"),
    ("kms", "Decrypt", {"KeyId": f"arn:aws:kms:{R}:key/1"}, f"arn:aws:kms:{R}:key/1"),
    ("kms", "ListKeys", {}, "*"),
]


@pytest.mark.parametrize(("service", "operation", "params", "resource"), NAMED)
def test_each_service_names_the_resource_of_its_calls_as_aws_does(service, operation, params, resource):
    prefix, action = operation_action(service, operation)
    assert call_authorizations(prefix, action, params, WHERE, NAMERS) == [(action, resource)]


def test_every_service_that_names_resources_is_in_the_table():
    assert {operation_action(service, operation)[0] for service, operation, *_ in NAMED} == set(NAMERS)


def test_not_resource_compares_arns_case_sensitively():
    """A deny on every table but ``Orders`` still covers ``orders``: ARNs are case-sensitive."""
    table = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Orders"
    policy = PolicyEngine()
    policy.add_identity_policy(
        ROLE,
        {
            "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "NotResource": table},
            ]
        },
        "p",
    )
    assert policy.decide(ROLE, "dynamodb:DeleteItem", table).allowed
    assert not policy.decide(ROLE, "dynamodb:DeleteItem", table.replace("Orders", "orders")).allowed


@pytest.mark.parametrize(
    "operator",
    ["StringNotNotEquals", "ForSomeValues:StringEquals", "StringEqualsIgnoreCaseIfExist"],
)
def test_an_operator_iam_does_not_define_is_not_evaluated(operator):
    """Only IAM's operators, with IAM's qualifiers, are applied; any other grants nothing."""
    policy = PolicyEngine()
    condition = {operator: {"aws:PrincipalArn": ROLE}}
    statement = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": condition}
    policy.add_identity_policy(ROLE, {"Statement": [statement]}, "p")
    assert not policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert policy.unevaluated_conditions == {f"p: {operator} aws:PrincipalArn"}


@pytest.mark.parametrize(
    ("effect", "outcome"), [("Allow", "the statement grants nothing"), ("Deny", "the deny applies")]
)
def test_the_warning_for_an_unevaluated_condition_says_what_it_decided(effect, outcome, caplog):
    policy = PolicyEngine()
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}
    statement = {"Effect": effect, "Action": "sqs:SendMessage", "Resource": QUEUE, "Condition": condition}
    policy.add_identity_policy(ROLE, {"Statement": [statement]}, "p")
    with caplog.at_level("WARNING", logger="localcloud.iam"):
        policy.decide(ROLE, "sqs:SendMessage", QUEUE)
    assert [r.getMessage() for r in caplog.records if r.name == "localcloud.iam"] == [
        f"IAM condition p: StringEquals aws:PrincipalOrgID is not evaluated offline: {outcome}"
    ]


def test_a_not_action_statement_lists_no_action_as_unused():
    """``make grants`` removes granted actions one by one: a NotAction statement names none."""
    policy = PolicyEngine()
    policy.add_identity_policy(
        ROLE, {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}, "p"
    )
    assert policy.unused_grants() == []
    assert policy.decide(ROLE, "sqs:SendMessage", QUEUE).allowed


def test_delete_objects_needs_delete_object_on_each_key_it_names():
    """S3 authorizes a multi-object delete key by key, as s3:DeleteObject on each object."""
    params = {
        "Bucket": "uploads",
        "Delete": {"Objects": [{"Key": "a.txt"}, {"Key": "b/c.txt"}, {"Key": "a.txt"}]},
    }
    assert call_authorizations("s3", "s3:DeleteObject", params, WHERE, NAMERS) == [
        ("s3:DeleteObject", "arn:aws:s3:::uploads/a.txt"),
        ("s3:DeleteObject", "arn:aws:s3:::uploads/b/c.txt"),
    ]
    empty = {"Bucket": "uploads", "Delete": {"Objects": []}}
    assert call_authorizations("s3", "s3:DeleteObject", empty, WHERE, NAMERS) == [("s3:DeleteObject", "*")]
    single = {"Bucket": "uploads", "Key": "a.txt"}
    assert call_authorizations("s3", "s3:DeleteObject", single, WHERE, NAMERS) == [
        ("s3:DeleteObject", "arn:aws:s3:::uploads/a.txt")
    ]


@pytest.mark.parametrize("operation", ["CopyObject", "UploadPartCopy"])
def test_a_copy_needs_get_object_on_the_source_and_put_object_on_the_destination(operation):
    """CopyObject has no IAM action of its own (S3 API reference, CopyObject, "Permissions"):
    s3:GetObject on the source object (s3:GetObjectVersion for a version) and s3:PutObject on the
    destination; the source as boto3 takes it, a dict or a URL-encoded ``bucket/key``."""
    prefix, action = operation_action("s3", operation)
    destination = ("s3:PutObject", "arn:aws:s3:::archive/2024/a b.txt")
    for source in (
        {"Bucket": "uploads", "Key": "in/a b.txt"},
        "uploads/in/a%20b.txt",
        "/uploads/in/a%20b.txt",
    ):
        params = {"Bucket": "archive", "Key": "2024/a b.txt", "CopySource": source}
        assert call_authorizations(prefix, action, params, WHERE, NAMERS) == [
            ("s3:GetObject", "arn:aws:s3:::uploads/in/a b.txt"),
            destination,
        ]
    for source in ({"Bucket": "uploads", "Key": "in/a", "VersionId": "v1"}, "uploads/in/a?versionId=v1"):
        params = {"Bucket": "archive", "Key": "2024/a b.txt", "CopySource": source}
        assert call_authorizations(prefix, action, params, WHERE, NAMERS) == [
            ("s3:GetObjectVersion", "arn:aws:s3:::uploads/in/a"),
            destination,
        ]


def test_a_call_on_one_version_of_an_object_needs_the_version_action():
    """S3: reading or deleting a specific version (``VersionId``) needs ``s3:GetObjectVersion`` or
    ``s3:DeleteObjectVersion``; a multi-object delete needs it for each entry naming a version."""
    params = {
        "Bucket": "uploads",
        "Delete": {"Objects": [{"Key": "a.txt", "VersionId": "v1"}, {"Key": "b.txt"}]},
    }
    assert call_authorizations("s3", "s3:DeleteObject", params, WHERE, NAMERS) == [
        ("s3:DeleteObjectVersion", "arn:aws:s3:::uploads/a.txt"),
        ("s3:DeleteObject", "arn:aws:s3:::uploads/b.txt"),
    ]
    for operation, action in (
        ("DeleteObject", "s3:DeleteObjectVersion"),
        ("GetObject", "s3:GetObjectVersion"),
    ):
        prefix, plain = operation_action("s3", operation)
        one = {"Bucket": "uploads", "Key": "a.txt", "VersionId": "v1"}
        assert call_authorizations(prefix, plain, one, WHERE, NAMERS) == [
            (action, "arn:aws:s3:::uploads/a.txt")
        ]
    head = operation_action("s3", "HeadObject")
    assert call_authorizations(*head, {"Bucket": "uploads", "Key": "a", "VersionId": "v"}, WHERE, NAMERS) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::uploads/a")
    ]
