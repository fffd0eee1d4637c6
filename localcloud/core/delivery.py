"""The deliveries SNS and S3 make: once each, as their service principal, and refused when the target
does not let them in.

The call itself is :func:`localcloud.core.targets.call`'s (the target's resource policy is checked, and
the call runs as the service, so the trace and the target's observers see who sent it). On top,
an encrypted target needs its KMS key to admit the service too: a queue or topic encrypted with an
AWS managed key (``alias/aws/sqs``), or with a customer managed key whose policy does not name the
service, refuses SNS and S3, as in AWS. Neither service retries a refused delivery: SNS moves it to
the subscription's dead-letter queue, S3 drops it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.core import targets
from localcloud.errors import FunctionNotFound

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

#: What a service principal needs of a KMS key to write to a target it encrypts.
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
#: An AWS managed key, by alias name or alias ARN.
AWS_MANAGED_KEY = re.compile(r"(^|:)alias/aws/")


def service_sender(cloud: Kernel, service: str, resource_arn: str) -> targets.Sender:
    """The sender for a service (``sns``) acting for one of its resources (a topic's ARN)."""
    name = resource_arn.rsplit(":", 1)[-1]
    return targets.Sender(f"{service}.amazonaws.com", resource_arn, f"{service}:{name}")


def deliver(
    cloud: Kernel,
    sender: targets.Sender,
    target_arn: str,
    body: str,
    *,
    cause: int | None,
    detail: str = "",
    kind: str = "deliver",
    **options: Any,
) -> Span:
    """Deliver ``body`` to a queue, function, topic or event bus, with the call's other ``options``.

    The span's outcome is ``refused`` when the target did not take it, with the reason in its detail
    and in ``data["reason"]``; ``data["retryable"]`` is true for a server-side error (a throttle, an
    internal error) that the service would try again.
    """
    span = cloud.trace.record(
        kind, sender.label, targets.label(target_arn), detail, at=cloud.clock.elapsed(), parent=cause
    )
    via = f"{targets.service_of(target_arn)}.{cloud.region}.amazonaws.com"
    reason = key_refusal(cloud, sender, _encryption_key(cloud, target_arn), via=via)
    if reason is None:
        try:
            targets.call(cloud, sender, target_arn, body, span=span.id, **options)
        except targets.DeliveryError as error:
            reason = str(error)
            span.data["retryable"] = error.retryable
    if reason:
        span.outcome = "refused"
        span.detail = f"{detail} ({reason})".strip()
        span.data["reason"] = reason
    return span


def function_refusal(cloud: Kernel, sender: targets.Sender, function_arn: str) -> str | None:
    """Why ``sender`` may not invoke a function: it does not exist, or no permission lets it."""
    try:
        targets.check_resource_policy(cloud, sender, function_arn)
    except FunctionNotFound:
        return "the function does not exist"
    except targets.DeliveryError as error:
        return str(error)
    return None


def key_refusal(
    cloud: Kernel, sender: targets.Sender, key: str | None, *, via: str | None = None
) -> str | None:
    """Why ``sender`` may not use the KMS key that encrypts its target; None if there is none or it may.

    An AWS managed key admits calls made through its own service by the account's principals only,
    never another service: AWS asks for a customer managed key here. ``via`` is the service that uses
    the key for the delivery (``sqs.us-east-1.amazonaws.com``), the key policy's ``kms:ViaService``.
    """
    if not key:
        return None
    if AWS_MANAGED_KEY.search(key):
        return f"{key} is an AWS managed key, which {sender.principal} cannot use"
    from moto.kms.models import kms_backends

    try:
        found = kms_backends[cloud.account][cloud.region].describe_key(key)
    except (KeyError, AttributeError):
        return f"KMS key {key} does not exist"
    if found.key_state != "Enabled":
        return f"KMS key {key} is {found.key_state}"
    context = {
        "aws:sourcearn": sender.source_arn,
        "aws:sourceaccount": cloud.account,
        "aws:securetransport": "true",
        **({"kms:viaservice": via} if via else {}),
    }
    statements = cloud.iam.resource_policy_of(found.arn)
    for action in KEY_ACTIONS:
        if not cloud.iam.allows(statements, sender.principal, action, found.arn, context):
            return f"the policy of KMS key {found.arn} does not let {sender.principal} {action}"
    return None


def timestamp(cloud: Kernel) -> str:
    """Now, as AWS writes event times: ``2026-01-01T00:00:00.000Z``."""
    now = cloud.clock.now()
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def _encryption_key(cloud: Kernel, arn: str) -> str | None:
    """The KMS key a target encrypts with, as its service's adapter reads it from moto's state."""
    target = cloud.target(targets.service_of(arn))
    if target is None or target.encryption_key is None:
        return None
    return target.encryption_key(cloud, arn)
