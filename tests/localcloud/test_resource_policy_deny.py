"""A resource policy decides a role's call of the same account alongside the role's own policies
(IAM User Guide, "Policy evaluation for requests within a single account"): "an explicit deny in any
of the policies overrides the allow", worded as AWS words it ("... with an explicit deny in a
resource-based policy"), also for a Deny with ``NotPrincipal``; and an Allow naming the role grants
the call without an identity-policy allow, while one naming only the account does not.

The TLS-only statements every secure default carries (Deny when ``aws:SecureTransport`` is false)
never refuse: calls in the cloud stand for AWS's HTTPS calls."""

from __future__ import annotations

import json

import pytest
from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START
from localcloud.core.iam import PolicyEngine

pytestmark = pytest.mark.localcloud

EXPLICIT = "with an explicit deny in a resource-based policy"


def build(stack: Stack) -> None:
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    stranger = iam.Role(stack, "Stranger", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    shared = sqs.Queue(stack, "Shared", enforce_ssl=True)
    shared.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ArnPrincipal(stranger.role_arn)],
            actions=["sqs:SendMessage"],
            resources=[shared.queue_arn],
        )
    )
    shared.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.AccountRootPrincipal()],
            actions=["sqs:GetQueueAttributes"],
            resources=[shared.queue_arn],
        )
    )
    members_only = sns.Topic(stack, "MembersOnly")
    members_only.grant_publish(reader)
    members_only.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            not_principals=[iam.ArnPrincipal(reader.role_arn), iam.AccountRootPrincipal()],
            actions=["sns:Publish"],
            resources=[members_only.topic_arn],
        )
    )
    guarded = sqs.Queue(stack, "Guarded", enforce_ssl=True)
    open_queue = sqs.Queue(stack, "Open", enforce_ssl=True)
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True, removal_policy=RemovalPolicy.DESTROY)
    for role in (writer, reader):
        guarded.grant_send_messages(role)
        open_queue.grant_send_messages(role)
        topic.grant_publish(role)
        bucket.grant_read_write(role)
    guarded.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.ArnPrincipal(writer.role_arn)],
            actions=["sqs:SendMessage"],
            resources=[guarded.queue_arn],
        )
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnEquals": {"aws:PrincipalArn": writer.role_arn}},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AccountRootPrincipal()],
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects("locked/*")],
        )
    )
    for name, value in {
        "WriterArn": writer.role_arn,
        "ReaderArn": reader.role_arn,
        "StrangerArn": stranger.role_arn,
        "SharedUrl": shared.queue_url,
        "SharedArn": shared.queue_arn,
        "MembersOnlyArn": members_only.topic_arn,
        "GuardedUrl": guarded.queue_url,
        "OpenUrl": open_queue.queue_url,
        "OpenArn": open_queue.queue_arn,
        "TopicArn": topic.topic_arn,
        "BucketName": bucket.bucket_name,
    }.items():
        CfnOutput(stack, name, value=value)


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("ResourcePolicyDeny", build), start=FIXED_START) as started:
        yield started


def refusal(call) -> ClientError | None:
    try:
        call()
    except ClientError as error:
        return error
    return None


def sender(cloud: LocalCloud, role: str, queue: str):
    client = cloud.client_as(cloud.outputs[f"{role}Arn"], "sqs", "sender")
    return lambda: client.send_message(QueueUrl=cloud.outputs[f"{queue}Url"], MessageBody="{}")


def test_a_queue_policys_deny_refuses_the_role_it_names_though_its_own_policy_allows(cloud):
    send = sender(cloud, "Writer", "Guarded")
    for _ in range(2):  # the second decision is the remembered one
        error = refusal(send)
        assert error is not None and error.response["Error"]["Code"] == "AccessDenied"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert error.response["Error"]["Message"].endswith(EXPLICIT)
        assert "sqs:SendMessage on resource: arn:aws:sqs:" in error.response["Error"]["Message"]


def test_a_deny_naming_another_role_and_the_tls_only_deny_refuse_nobody_else(cloud):
    assert refusal(sender(cloud, "Reader", "Guarded")) is None
    assert refusal(sender(cloud, "Writer", "Open")) is None


def test_a_topic_policys_deny_on_the_principal_arn_refuses_that_role_only(cloud):
    def publish(role: str):
        client = cloud.client_as(cloud.outputs[f"{role}Arn"], "sns", "publisher")
        return lambda: client.publish(TopicArn=cloud.outputs["TopicArn"], Message="hello")

    error = refusal(publish("Writer"))
    assert error is not None and error.response["Error"]["Code"] == "AuthorizationError"
    assert error.response["Error"]["Message"].endswith(EXPLICIT)
    assert refusal(publish("Reader")) is None


def test_a_bucket_policys_deny_on_the_account_refuses_every_role_of_it_on_those_keys_only(cloud):
    bucket = cloud.outputs["BucketName"]
    for role in ("Writer", "Reader"):
        client = cloud.client_as(cloud.outputs[f"{role}Arn"], "s3", "uploader")
        error = refusal(lambda client=client: client.put_object(Bucket=bucket, Key="locked/a", Body=b"x"))
        assert error is not None and error.response["Error"]["Code"] == "AccessDenied"
        assert error.response["Error"]["Message"].endswith(EXPLICIT)
        assert (
            refusal(lambda client=client: client.put_object(Bucket=bucket, Key="open/a", Body=b"x")) is None
        )
        assert refusal(lambda client=client: client.get_object(Bucket=bucket, Key="open/a")) is None


def test_a_copy_is_decided_as_a_read_of_its_source_and_a_write_of_its_copy(cloud):
    """CopyObject needs s3:GetObject on the source and s3:PutObject on the destination, each with
    the bucket's policy: the grant_read_write role copies within the bucket, but not into the keys
    the bucket policy denies writing, and a role with no grant is refused reading the source."""
    bucket = cloud.outputs["BucketName"]
    writer = cloud.client_as(cloud.outputs["WriterArn"], "s3", "copier")
    writer.put_object(Bucket=bucket, Key="open/source", Body=b"x")
    source = {"Bucket": bucket, "Key": "open/source"}
    assert refusal(lambda: writer.copy_object(Bucket=bucket, Key="open/copy", CopySource=source)) is None
    assert writer.get_object(Bucket=bucket, Key="open/copy")["Body"].read() == b"x"
    locked = refusal(lambda: writer.copy_object(Bucket=bucket, Key="locked/copy", CopySource=source))
    assert locked is not None and locked.response["Error"]["Message"].endswith(EXPLICIT)
    assert (
        f"s3:PutObject on resource: arn:aws:s3:::{bucket}/locked/copy" in locked.response["Error"]["Message"]
    )
    stranger = cloud.client_as(cloud.outputs["StrangerArn"], "s3", "copier")
    refused = refusal(lambda: stranger.copy_object(Bucket=bucket, Key="open/other", CopySource=source))
    assert refused is not None
    assert (
        f"s3:GetObject on resource: arn:aws:s3:::{bucket}/open/source" in refused.response["Error"]["Message"]
    )


def test_a_deny_put_on_a_queue_while_the_cloud_runs_applies_from_the_next_call_until_removed(cloud):
    send = sender(cloud, "Reader", "Open")
    sqs_admin = cloud.client("sqs")
    url = cloud.outputs["OpenUrl"]
    before = sqs_admin.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": cloud.outputs["ReaderArn"]},
        "Action": "sqs:*",
        "Resource": cloud.outputs["OpenArn"],
    }
    policy = json.loads(before)
    policy["Statement"].append(deny)
    assert refusal(send) is None
    sqs_admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    try:
        error = refusal(send)
        assert error is not None and error.response["Error"]["Message"].endswith(EXPLICIT)
    finally:
        sqs_admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": before})
    assert refusal(send) is None


def test_the_tls_only_statements_leave_no_condition_unevaluated(cloud):
    assert refusal(sender(cloud, "Reader", "Open")) is None
    assert not any("SecureTransport" in c for c in cloud.iam.unevaluated_conditions)


def test_a_queue_policys_allow_naming_the_role_grants_the_call_its_own_policies_do_not(cloud):
    send = sender(cloud, "Stranger", "Shared")
    assert refusal(send) is None
    assert refusal(sender(cloud, "Stranger", "Open")) is not None, "no policy of that queue names it"


def test_an_allow_naming_the_account_leaves_the_decision_to_the_roles_own_policies(cloud):
    client = cloud.client_as(cloud.outputs["StrangerArn"], "sqs", "sender")
    error = refusal(lambda: client.get_queue_attributes(QueueUrl=cloud.outputs["SharedUrl"]))
    assert error is not None and error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["Error"]["Message"].endswith(
        "because no identity-based policy allows the sqs:GetQueueAttributes action"
    )


def test_an_allow_removed_while_the_cloud_runs_grants_nothing_from_the_next_call(cloud):
    send = sender(cloud, "Stranger", "Shared")
    sqs_admin = cloud.client("sqs")
    url = cloud.outputs["SharedUrl"]
    before = sqs_admin.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    policy = json.loads(before)
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Action") != "sqs:SendMessage"]
    assert refusal(send) is None
    sqs_admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    try:
        error = refusal(send)
        assert error is not None
        assert error.response["Error"]["Message"].endswith(
            "because no identity-based policy allows the sqs:SendMessage action"
        )
    finally:
        sqs_admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": before})
    assert refusal(send) is None


def test_a_not_principal_deny_refuses_a_session_it_does_not_list_though_it_lists_the_role(cloud):
    topic = cloud.outputs["MembersOnlyArn"]
    reader = cloud.outputs["ReaderArn"]
    client = cloud.client_as(reader, "sns", "publisher")

    def publish():
        client.publish(TopicArn=topic, Message="hello")

    error = refusal(publish)
    assert error is not None and error.response["Error"]["Code"] == "AuthorizationError"
    assert error.response["Error"]["Message"].endswith(EXPLICIT)
    sns_admin = cloud.client("sns")
    before = sns_admin.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    policy = json.loads(before)
    session = f"arn:aws:sts::{cloud.kernel.account}:assumed-role/{reader.rsplit('/', 1)[-1]}/publisher"
    for statement in policy["Statement"]:
        if "NotPrincipal" in statement:
            statement["NotPrincipal"]["AWS"].append(session)
    sns_admin.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    try:
        assert refusal(publish) is None, "the session listed with its role and account is excepted"
        writer = cloud.client_as(cloud.outputs["WriterArn"], "sns", "publisher")
        error = refusal(lambda: writer.publish(TopicArn=topic, Message="hello"))
        assert error is not None and error.response["Error"]["Message"].endswith(EXPLICIT)
    finally:
        sns_admin.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=before)
    assert refusal(publish) is not None


# ------------------------------------------------------------------------------- the evaluator alone

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn"
QUEUE = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders"


def engine_with(resource_statements: list[dict], allowed: str = "sqs:*") -> PolicyEngine:
    """A role allowed ``allowed`` on everything, and a queue with ``resource_statements``."""
    engine = PolicyEngine()
    engine.add_identity_policy(
        ROLE, {"Statement": [{"Effect": "Allow", "Action": allowed, "Resource": "*"}]}, "identity"
    )
    engine.add_resource_policy(QUEUE, {"Statement": resource_statements}, "queue policy")
    engine.resource_policy_of = lambda arn: engine.resource.get(arn, [])
    return engine


@pytest.mark.parametrize(
    "principal",
    ["*", {"AWS": "*"}, {"AWS": ROLE}, {"AWS": ACCOUNT}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}],
)
def test_a_deny_naming_the_role_its_account_or_everyone_refuses_the_role(principal):
    engine = engine_with(
        [{"Effect": "Deny", "Principal": principal, "Action": "sqs:SendMessage", "Resource": QUEUE}]
    )
    decision = engine.decide(ROLE, "sqs:SendMessage", QUEUE)
    assert not decision.allowed and decision.reason == EXPLICIT
    assert engine.decide(ROLE, "sqs:ReceiveMessage", QUEUE).allowed


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
        {"AWS": "999999999999"},
        {"Service": "sns.amazonaws.com"},
    ],
)
def test_a_deny_naming_someone_else_leaves_the_role_allowed(principal):
    engine = engine_with([{"Effect": "Deny", "Principal": principal, "Action": "sqs:*", "Resource": QUEUE}])
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE).allowed


def test_an_identity_deny_is_reported_as_the_identity_policys():
    engine = engine_with([{"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE}])
    engine.add_identity_policy(
        ROLE, {"Statement": [{"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": "*"}]}, "no sends"
    )
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE).reason == "with an explicit deny in no sends"


def test_a_resource_deny_is_what_refuses_where_no_identity_policy_allows_either():
    """AWS names the explicit deny, not the missing allow."""
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
    engine = engine_with([deny], allowed="sqs:GetQueueUrl")
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE).reason == EXPLICIT


def test_a_deny_whose_condition_cannot_be_evaluated_applies_and_an_allows_is_not_read():
    engine = engine_with(
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
                "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:DeleteQueue",
                "Resource": QUEUE,
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ops"}},
            },
        ]
    )
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE).allowed
    assert engine.unevaluated_conditions == set(), (
        "an Allow in a resource policy does not decide a role's call"
    )
    assert engine.decide(ROLE, "sqs:DeleteQueue", QUEUE).reason == EXPLICIT
    assert engine.unevaluated_conditions == {"queue policy: StringEquals aws:PrincipalTag/team"}


def test_a_tls_only_deny_refuses_nothing_sent_over_tls():
    engine = engine_with(
        [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "sqs:*",
                "Resource": QUEUE,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    )
    assert engine.decide(ROLE, "sqs:SendMessage", QUEUE).allowed


def test_a_call_whose_resource_cannot_be_named_reads_no_resource_policy():
    engine = engine_with([{"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}])
    assert engine.decide(ROLE, "sqs:ListQueues", None).allowed
    assert engine.decide(ROLE, "sqs:ListQueues", "*").allowed
