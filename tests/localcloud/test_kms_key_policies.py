"""A role's own KMS calls (Encrypt, Decrypt, GenerateDataKey from a handler) decided with the key's
policy, as AWS decides them: "Unless the key policy explicitly allows it, you cannot use IAM policies
to allow access to a KMS key" (KMS developer guide, "Key policies"). The default key policy allows
the account's root, which hands the decision to the role's own policies; a key policy that names
only another role refuses the call whatever the role's policies say; an explicit deny in the key
policy wins. The key is the one an alias names, or the one a ciphertext was made with.

One cloud for the module, from a CloudFormation template (no synth)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.localcloud

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
_ROOT = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
_USE = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]


def _key(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::KMS::Key",
        "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": list(statements)}},
    }


def _template() -> dict[str, Any]:
    may_use_keys = {
        "PolicyName": "use-keys",
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": _USE, "Resource": "*"}],
        },
    }
    delegate_all = {"Effect": "Allow", "Principal": {"AWS": _ROOT}, "Action": "kms:*", "Resource": "*"}
    administer = {
        "Effect": "Allow",
        "Principal": {"AWS": _ROOT},
        "Action": ["kms:Describe*", "kms:Put*", "kms:Get*"],
        "Resource": "*",
    }
    named_may_use = {
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::GetAtt": ["Named", "Arn"]}},
        "Action": _USE,
        "Resource": "*",
    }
    resources = {
        "User": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": _TRUST, "Policies": [may_use_keys]},
        },
        "Named": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": _TRUST}},
        "Delegating": _key(delegate_all),
        "Locked": _key(administer, named_may_use),
        "Denying": _key(
            delegate_all,
            {
                "Effect": "Deny",
                "Principal": {"AWS": {"Fn::GetAtt": ["User", "Arn"]}},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        ),
        "LockedAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": "alias/locked", "TargetKeyId": {"Ref": "Locked"}},
        },
    }
    outputs = {
        f"{name}Arn": {"Value": {"Fn::GetAtt": [name, "Arn"]}}
        for name in ("User", "Named", "Delegating", "Locked", "Denying")
    }
    return {"Resources": resources, "Outputs": outputs}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[LocalCloud]:
    artifact = StackArtifact("KmsKeyPolicies", _template(), tmp_path_factory.mktemp("kms-key-policies"))
    with LocalCloud(artifact, start=FIXED_START) as started:
        yield started


def kms_as(cloud: LocalCloud, role: str) -> Any:
    return cloud.client_as(cloud.outputs[f"{role}Arn"], "kms", "handler")


def refusal(cloud: LocalCloud, role: str, action: str, key: str, reason: str) -> str:
    name = cloud.outputs[f"{role}Arn"].rsplit("/", 1)[1]
    caller = f"arn:aws:sts::{cloud.account}:assumed-role/{name}/handler"
    return f"User: {caller} is not authorized to perform: {action} on resource: {cloud.outputs[key]} {reason}"


def test_the_default_key_policy_hands_the_decision_to_the_roles_own_policies(cloud):
    key = cloud.outputs["DelegatingArn"]
    user = kms_as(cloud, "User")
    blob = user.encrypt(KeyId=key, Plaintext=b"card")["CiphertextBlob"]
    assert user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"card"
    assert user.generate_data_key(KeyId=key, KeySpec="AES_256")["KeyId"] == key
    with pytest.raises(ClientError) as refused:
        kms_as(cloud, "Named").encrypt(KeyId=key, Plaintext=b"card")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == refusal(
        cloud,
        "Named",
        "kms:Encrypt",
        "DelegatingArn",
        "because no identity-based policy allows the kms:Encrypt action",
    )


@pytest.mark.parametrize("key", ["LockedArn", "alias/locked"])
def test_a_key_policy_that_does_not_allow_the_role_refuses_what_its_own_policies_allow(cloud, key):
    """The role's policies allow kms:Encrypt on every key; the key policy allows only another role
    (and lets the account administer the key, not use it). An alias names its key's ARN."""
    with pytest.raises(ClientError) as refused:
        kms_as(cloud, "User").encrypt(KeyId=cloud.outputs.get(key, key), Plaintext=b"card")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == refusal(
        cloud,
        "User",
        "kms:Encrypt",
        "LockedArn",
        "because no resource-based policy allows the kms:Encrypt action",
    )


def test_a_key_policy_naming_the_role_lets_it_use_the_key_without_a_policy_of_its_own(cloud):
    named = kms_as(cloud, "Named")
    blob = named.encrypt(KeyId="alias/locked", Plaintext=b"card")["CiphertextBlob"]
    assert named.decrypt(CiphertextBlob=blob)["Plaintext"] == b"card"
    with pytest.raises(ClientError) as refused:
        kms_as(cloud, "User").decrypt(CiphertextBlob=blob)  # the key is the ciphertext's
    assert refused.value.response["Error"]["Message"] == refusal(
        cloud,
        "User",
        "kms:Decrypt",
        "LockedArn",
        "because no resource-based policy allows the kms:Decrypt action",
    )


def test_an_explicit_deny_in_the_key_policy_wins_over_the_roles_allow(cloud):
    user = kms_as(cloud, "User")
    blob = user.encrypt(KeyId=cloud.outputs["DenyingArn"], Plaintext=b"card")["CiphertextBlob"]
    with pytest.raises(ClientError) as refused:
        user.decrypt(CiphertextBlob=blob)
    assert refused.value.response["Error"]["Message"] == refusal(
        cloud, "User", "kms:Decrypt", "DenyingArn", "with an explicit deny in a resource-based policy"
    )


def test_a_key_policy_put_while_the_cloud_runs_decides_the_next_call(cloud):
    """The policy is read from KMS at each call: PutKeyPolicy delegating to the account lets the
    role's own policies decide from then on."""
    key = cloud.outputs["LockedArn"]
    kms = cloud.client("kms")
    before = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    delegate = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Principal": {{"AWS": "arn:aws:iam::{cloud.account}:root"}}, "Action": "kms:*", "Resource": "*"}}]}}'
    )
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=delegate)
    try:
        assert kms_as(cloud, "User").encrypt(KeyId=key, Plaintext=b"card")["KeyId"] == key
    finally:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=before)
    with pytest.raises(ClientError):
        kms_as(cloud, "User").encrypt(KeyId=key, Plaintext=b"card")
