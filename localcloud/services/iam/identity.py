"""Who a role's caller is, as STS tells it. moto answers GetCallerIdentity with its own default user;
on AWS a function learns its role session (``assumed-role/<role>/<session>``) and the role's id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.hooks import principal
from localcloud.core.iam import session_arn

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.service import AwsCall


def caller_identity(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """The acting role session's identity; None (moto's answer) for a call made as no role."""
    acting = principal()
    if acting is None:
        return None
    from moto.iam.models import iam_backends

    roles = iam_backends[kernel.account][kernel.partition].get_roles()
    role = next((role for role in roles if role.arn == acting.role_arn), None)
    # A session outlives its role's deletion on AWS; its id is then the role's name here.
    role_id = role.id if role is not None else acting.role_arn.rsplit("/", 1)[-1]
    return 200, {
        "UserId": f"{role_id}:{acting.session}",
        "Account": acting.role_arn.split(":")[4],
        "Arn": session_arn(acting.role_arn, acting.session),
    }
