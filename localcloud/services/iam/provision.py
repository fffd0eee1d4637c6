"""IAM roles and policies: created in moto, and given to the local cloud's policy engine."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@provisions("AWS::IAM::Role")
def role(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("RoleName") or cloud.physical_name(logical_id, 64)
    path = props.get("Path", "/")
    created = cloud.admin_client("iam").create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
    )["Role"]
    arn = created["Arn"]
    for policy in props.get("Policies", []):
        cloud.iam.add_identity_policy(
            arn, policy["PolicyDocument"], f"{logical_id}/{policy['PolicyName']}", name=policy["PolicyName"]
        )
    for managed in props.get("ManagedPolicyArns", []):
        cloud.iam.add_managed_policy(arn, managed, logical_id)
    return Provisioned(name, {"Arn": arn, "RoleId": created["RoleId"]})


@provisions("AWS::IAM::Policy")
def policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    for role_name in props.get("Roles", []):
        role_arn = cloud.role_arn(role_name)
        cloud.admin_client("iam").put_role_policy(
            RoleName=role_name,
            PolicyName=props["PolicyName"],
            PolicyDocument=json.dumps(props["PolicyDocument"]),
        )
        cloud.iam.add_identity_policy(role_arn, props["PolicyDocument"], logical_id, name=props["PolicyName"])
    return Provisioned(cloud.physical_name(logical_id, 128))
