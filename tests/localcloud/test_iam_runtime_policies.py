"""A role's policies changed while the cloud runs are enforced on its next call, as IAM enforces
them, though its earlier decisions were remembered (the policy engine's decision cache)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    with LocalCloud(
        load_stack(cloud_assembly.directory, "SimpleWebServiceStack"), start=FIXED_START
    ) as started:
        yield started


@pytest.fixture(scope="module")
def role(cloud):
    """The items function's role: its name and ARN, and the template's policy on it."""
    iam = cloud.client("iam")
    (found,) = [r for r in iam.list_roles()["Roles"] if "ItemsFunction" in r["RoleName"]]
    (template_policy,) = iam.list_role_policies(RoleName=found["RoleName"])["PolicyNames"]
    return found["RoleName"], found["Arn"], template_policy


def document(effect: str, action: str, resource: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}
    )


def allowed(cloud, role_arn: str, call) -> bool:
    """Whether ``call(client)`` as the role gets past IAM (decided twice: the second is remembered)."""
    client = cloud.client_as(role_arn, "dynamodb", "items")
    outcomes = []
    for _ in range(2):
        try:
            call(client)
            outcomes.append(True)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "AccessDeniedException"
            outcomes.append(False)
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def describe(table: str):
    return lambda client: client.describe_table(TableName=table)


def put(table: str):
    return lambda client: client.put_item(TableName=table, Item={"id": {"S": "runtime-policy"}})


def test_an_inline_policy_put_then_deleted_at_runtime_is_enforced_on_the_next_call(cloud, role):
    name, arn, _ = role
    table = cloud.outputs["TableName"]
    iam = cloud.client("iam")
    assert not allowed(cloud, arn, describe(table)), "the template does not grant DescribeTable"
    iam.put_role_policy(
        RoleName=name, PolicyName="Describe", PolicyDocument=document("Allow", "dynamodb:DescribeTable", "*")
    )
    assert allowed(cloud, arn, describe(table))
    iam.put_role_policy(
        RoleName=name,
        PolicyName="Describe",
        PolicyDocument=document("Allow", "dynamodb:DescribeTable", "arn:aws:dynamodb:*:*:table/other"),
    )
    assert not allowed(cloud, arn, describe(table)), "a policy of the same name is replaced, not added to"
    iam.put_role_policy(
        RoleName=name, PolicyName="Describe", PolicyDocument=document("Allow", "dynamodb:DescribeTable", "*")
    )
    iam.delete_role_policy(RoleName=name, PolicyName="Describe")
    assert not allowed(cloud, arn, describe(table))


def test_a_deny_put_at_runtime_wins_over_the_templates_grant_until_deleted(cloud, role):
    name, arn, _ = role
    table = cloud.outputs["TableName"]
    iam = cloud.client("iam")
    assert allowed(cloud, arn, put(table))
    iam.put_role_policy(
        RoleName=name, PolicyName="NoWrites", PolicyDocument=document("Deny", "dynamodb:PutItem", "*")
    )
    assert not allowed(cloud, arn, put(table))
    iam.delete_role_policy(RoleName=name, PolicyName="NoWrites")
    assert allowed(cloud, arn, put(table))


def test_the_templates_policy_replaced_at_runtime_loses_its_grants(cloud, role):
    name, arn, template_policy = role
    table = cloud.outputs["TableName"]
    iam = cloud.client("iam")
    before = iam.get_role_policy(RoleName=name, PolicyName=template_policy)["PolicyDocument"]
    iam.put_role_policy(
        RoleName=name, PolicyName=template_policy, PolicyDocument=document("Allow", "dynamodb:GetItem", "*")
    )
    try:
        assert not allowed(cloud, arn, put(table)), "PutItem was granted only by the replaced policy"
    finally:
        iam.put_role_policy(RoleName=name, PolicyName=template_policy, PolicyDocument=json.dumps(before))
    assert allowed(cloud, arn, put(table))


def test_a_customer_managed_policy_attached_then_detached_at_runtime_is_enforced(cloud, role):
    name, arn, _ = role
    table = cloud.outputs["TableName"]
    iam = cloud.client("iam")
    managed = iam.create_policy(
        PolicyName="DescribeTables", PolicyDocument=document("Allow", "dynamodb:DescribeTable", "*")
    )["Policy"]["Arn"]
    assert not allowed(cloud, arn, describe(table))
    iam.attach_role_policy(RoleName=name, PolicyArn=managed)
    assert allowed(cloud, arn, describe(table))
    iam.detach_role_policy(RoleName=name, PolicyArn=managed)
    assert not allowed(cloud, arn, describe(table))
