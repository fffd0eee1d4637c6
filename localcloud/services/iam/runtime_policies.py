"""A role's policies changed while the cloud runs reach the policy engine, as they reach IAM.

On AWS, ``PutRolePolicy`` (a new inline policy, or one of the same name replaced),
``DeleteRolePolicy``, ``AttachRolePolicy`` and ``DetachRolePolicy`` change what the role's next
call may do. Without this the engine kept the template's policies for good and a revoked grant
still worked offline: kinder than AWS. Each successful call (a test's, a handler's, one through the
AWS endpoint) replaces or removes the policy of that name (an inline policy's name, a managed
policy's ARN) in the engine; the engine's remembered decisions are made again on the new
statements (:mod:`localcloud.core.decision_cache`).

Not modelled: IAM's eventual consistency (a change is seen by the very next call), and the
template's inline policies of a role (``AWS::IAM::Role`` ``Policies``) and its managed policies are
not in moto's IAM, so DeleteRolePolicy or DetachRolePolicy of one answers NoSuchEntity; a
PutRolePolicy of the same name still replaces it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.iam import managed_policy_document
from localcloud.core.service import observes

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _role_arn(cloud: Kernel, role_name: str) -> str:
    """The role's ARN from moto's IAM, read directly: an API call here would be checked against
    whoever made the observed call."""
    from moto.iam.models import iam_backends

    return iam_backends[cloud.account][cloud.partition].get_role(role_name).arn


def _document(cloud: Kernel, policy_arn: str) -> dict[str, Any]:
    """An AWS managed policy's document, or a customer managed policy's default version."""
    managed = managed_policy_document(policy_arn)
    if managed is not None:
        return managed
    from moto.iam.models import iam_backends

    policy = iam_backends[cloud.account][cloud.partition].get_policy(policy_arn)
    document = next(version.document for version in policy.versions if version.is_default_version)
    return json.loads(document) if isinstance(document, str) else document


@observes("iam", "PutRolePolicy")
def put_role_policy(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    role, name = params["RoleName"], params["PolicyName"]
    document = params["PolicyDocument"]
    cloud.iam.put_role_policy(
        _role_arn(cloud, role),
        name,
        json.loads(document) if isinstance(document, str) else document,
        f"{role}/{name} (PutRolePolicy)",
    )


@observes("iam", "DeleteRolePolicy")
def delete_role_policy(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    cloud.iam.put_role_policy(_role_arn(cloud, params["RoleName"]), params["PolicyName"], None, "")


@observes("iam", "AttachRolePolicy")
def attach_role_policy(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    role, policy_arn = params["RoleName"], params["PolicyArn"]
    cloud.iam.put_role_policy(
        _role_arn(cloud, role),
        policy_arn,
        _document(cloud, policy_arn),
        f"{role}/{policy_arn} (AttachRolePolicy)",
    )


@observes("iam", "DetachRolePolicy")
def detach_role_policy(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    cloud.iam.put_role_policy(_role_arn(cloud, params["RoleName"]), params["PolicyArn"], None, "")
