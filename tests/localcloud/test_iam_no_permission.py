"""Calls AWS answers without asking IAM: a role with no policy, or one denying the action outright,
still learns who it is (STS API reference, GetCallerIdentity: "No permissions are required to perform
this operation ... you can still perform this operation")."""

from __future__ import annotations

import pytest
from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.localcloud


def build(stack: Stack) -> None:
    bare = iam.Role(stack, "Bare", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    denied = iam.Role(stack, "Denied", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    denied.add_to_policy(iam.PolicyStatement(effect=iam.Effect.DENY, actions=["sts:*"], resources=["*"]))
    CfnOutput(stack, "BareArn", value=bare.role_arn)
    CfnOutput(stack, "DeniedArn", value=denied.role_arn)


@pytest.fixture(scope="module")
def cloud(synth):
    with LocalCloud(synth("IamNoPermission", build), start=FIXED_START) as started:
        yield started


@pytest.mark.parametrize("role", ["Bare", "Denied"])
def test_get_caller_identity_answers_whatever_the_roles_policies_say(cloud, role):
    sts = cloud.client_as(cloud.outputs[f"{role}Arn"], "sts", "whoami")
    identity = sts.get_caller_identity()
    role_name = cloud.outputs[f"{role}Arn"].split("/")[-1]
    assert identity["Arn"] == f"arn:aws:sts::{cloud.account}:assumed-role/{role_name}/whoami"
    assert identity["Account"] == cloud.account
    role_id, session = identity["UserId"].split(":")
    assert (role_id[:4], session) == ("AROA", "whoami")


def test_other_sts_calls_still_need_their_permission(cloud):
    sts = cloud.client_as(cloud.outputs["BareArn"], "sts", "whoami")
    with pytest.raises(ClientError) as refused:
        sts.get_session_token()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
