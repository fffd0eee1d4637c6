"""An ``AWS::IAM::Policy`` is attached to the roles it names (by ``Ref`` or by name), the role's ARN
with its path; a name IAM does not know fails the deploy as IAM refuses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.localcloud

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def policy(roles: list[Any], name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": name,
            "Roles": roles,
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
            },
        },
    }


def template(*policies: list[Any]) -> dict[str, Any]:
    worker = {"RoleName": "worker", "Path": "/service/", "AssumeRolePolicyDocument": TRUST}
    resources = {"Worker": {"Type": "AWS::IAM::Role", "Properties": worker}}
    for number, roles in enumerate(policies):
        resources[f"Policy{number}"] = policy(roles, f"Policy{number}")
    return {"Resources": resources}


def test_a_policy_reaches_the_stack_s_role_under_its_path_by_ref_or_by_name() -> None:
    stack = template([{"Ref": "Worker"}], ["worker"])
    with LocalCloud(StackArtifact("PolicyRoles", stack, Path(".")), start=FIXED_START) as cloud:
        role = cloud.client("iam").get_role(RoleName="worker")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{cloud.account}:role/service/worker"
        assert cloud.kernel.iam.decide(role["Arn"], "sqs:SendMessage", "*").allowed
        assert not cloud.kernel.iam.decide(role["Arn"], "sqs:DeleteQueue", "*").allowed
        assert cloud.client("iam").list_role_policies(RoleName="worker")["PolicyNames"] == [
            "Policy0",
            "Policy1",
        ]


def test_a_policy_naming_a_role_iam_does_not_know_fails_the_deploy() -> None:
    cloud = LocalCloud(StackArtifact("PolicyNoRole", template(["nobody"]), Path(".")), start=FIXED_START)
    with pytest.raises(ClientError) as refused:
        cloud.start()
    assert refused.value.response["Error"]["Code"] == "NoSuchEntity"
    assert "nobody" in refused.value.response["Error"]["Message"]
