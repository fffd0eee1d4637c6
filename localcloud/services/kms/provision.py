"""KMS keys and aliases, created in moto, which holds each key's policy: the policy engine reads it
from there for a role's call on the key and for a service writing to an encrypted queue or topic
(see :mod:`localcloud.core.delivery`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Template properties passed to CreateKey under the same name.
_KEY_PROPERTIES = ("Description", "KeyUsage", "KeySpec", "MultiRegion")


@provisions("AWS::KMS::Key")
def key(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    kms = cloud.admin_client("kms")
    policy = props.get("KeyPolicy") or _default_policy(cloud)
    if isinstance(policy, str):
        policy = json.loads(policy)
    options = {name: props[name] for name in _KEY_PROPERTIES if name in props}
    metadata = kms.create_key(Policy=json.dumps(policy), **options)["KeyMetadata"]
    if str(props.get("EnableKeyRotation", "false")).lower() == "true":
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    if str(props.get("Enabled", "true")).lower() == "false":
        kms.disable_key(KeyId=metadata["KeyId"])
    return Provisioned(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})


@provisions("AWS::KMS::Alias")
def alias(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    cloud.admin_client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Provisioned(props["AliasName"])


def _default_policy(cloud: Kernel) -> dict[str, Any]:
    """The policy KMS gives a key created without one: the account's IAM policies decide."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{cloud.partition}:iam::{cloud.account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
