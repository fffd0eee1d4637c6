"""S3: buckets in moto; the local cloud delivers their event notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Service
from localcloud.services.s3 import observe, provision

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    bucket = params.get("Bucket")
    if bucket is None:
        return None
    key = params.get("Key")
    return f"arn:{where[0]}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _role_call_policy(kernel: Kernel, arn: str) -> list[Any]:
    """The policy of the bucket of ``arn`` (a bucket's or an object's) as moto holds it now, for a
    role's call: moto's copy lacks only the TLS-only denials, which refuse no call here (see
    :func:`provision.bucket_policy`)."""
    from moto.s3.models import s3_backends

    name = arn.split(":::", 1)[1].split("/", 1)[0]
    bucket = s3_backends[kernel.account][kernel.partition].buckets.get(name)
    policy = None if bucket is None else bucket.policy
    bucket_arn = f"arn:{kernel.partition}:s3:::{name}"
    return kernel.iam.held_policy(bucket_arn, policy.decode() if isinstance(policy, bytes) else policy)


SERVICE = Service.of(
    "s3",
    provision,
    observe,
    state=observe.Buckets,
    iam_resources={"s3": _iam_resource},
    resource_policies={"s3": _role_call_policy},
)
