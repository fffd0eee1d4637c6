"""A publisher's use of an encrypted topic's key.

SNS encrypts each message published to a topic with a customer managed key using a data key it asks
KMS for on the publisher's behalf: the publisher needs ``kms:GenerateDataKey`` and ``kms:Decrypt``
on the key, from its own policies (through the key policy's grant to the account) or from the key
policy itself. Without them SNS refuses the Publish with ``KMSAccessDenied``, and nothing is
published. An AWS managed key (``alias/aws/sns``) admits the account's principals through SNS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.delivery import AWS_MANAGED_KEY, KEY_ACTIONS
from localcloud.core.hooks import PRINCIPAL
from localcloud.core.iam import session_arn

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

PUBLISH_OPERATIONS = ("Publish", "PublishBatch")
#: The identities service principals act as (``localcloud.core.targets.service_role``).
SERVICE_ROLE = ":role/aws-service-principal/"


def check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """Refuse a publish whose caller may not use its topic's customer managed key, as SNS does."""
    principal = PRINCIPAL.get()
    if operation not in PUBLISH_OPERATIONS or principal is None or not kernel.enforce_iam:
        return
    if SERVICE_ROLE in principal.role_arn:
        return  # a service's delivery: its use of the key is checked with the delivery
    topic_arn = params.get("TopicArn") or params.get("TargetArn") or ""
    key = topic_key(kernel, topic_arn)
    if not key or AWS_MANAGED_KEY.search(key):
        return
    from moto.kms.models import kms_backends

    try:
        found = kms_backends[kernel.account][kernel.region].describe_key(key)
    except (KeyError, AttributeError):
        raise _refused("KMSNotFound", f"Invalid keyId {key}", operation) from None
    if found.key_state != "Enabled":
        raise _refused("KMSDisabled", f"{found.arn} is {found.key_state}.", operation)
    for action in KEY_ACTIONS:
        reason = _key_use_refusal(kernel, principal, action, found.arn)
        if reason:
            role = principal.role_arn.rsplit("/", 1)[-1]
            caller = f"arn:aws:sts::{kernel.account}:assumed-role/{role}/{principal.session}"
            raise _refused(
                "KMSAccessDenied",
                f"User: {caller} is not authorized to perform: {action} on resource: {found.arn} {reason} "
                "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)",
                operation,
            )


def topic_key(kernel: Kernel, arn: str) -> str | None:
    """The KMS key a topic of this cloud encrypts with, as moto keeps it."""
    from moto.sns.models import sns_backends

    topic = sns_backends[kernel.account][kernel.region].topics.get(arn)
    return getattr(topic, "kms_master_key_id", None) or None


def _key_use_refusal(kernel: Kernel, principal: Any, action: str, key_arn: str) -> str | None:
    """Why the publisher may not ``action`` with the key through SNS, as IAM decides a role's call
    on a key (the key policy must allow it, or allow the account and the role's own policies do)."""
    decision = kernel.iam.decide(
        principal.role_arn,
        action,
        key_arn,
        session=session_arn(principal.role_arn, principal.session),
        context={"kms:viaservice": f"sns.{kernel.region}.amazonaws.com"},
    )
    return None if decision.allowed else decision.reason


def _refused(code: str, message: str, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )
