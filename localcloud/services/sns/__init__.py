"""SNS: topics in moto; the local cloud delivers their messages to subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Service, Target
from localcloud.core.targets import text
from localcloud.services.sns import keys, observe, provision

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


def _publish(
    kernel: Kernel, arn: str, body: str | bytes, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    return "publish", {"TopicArn": arn, "Message": text(body), **options}


def _policy(kernel: Kernel, arn: str) -> tuple[str, list[Any]]:
    """The topic's policy, read from moto's topic as SNS reads its own (every delivery reads it); a
    topic SNS does not have is asked for through the API, whose error the sender gets."""
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = arn.split(":", 5)
    topic = sns_backends[account][region].topics.get(arn)
    if topic is None:
        attributes = kernel.admin_client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
        return arn, kernel.iam.held_policy(arn, attributes.get("Policy"))
    return arn, kernel.iam.held_policy(arn, topic.policy)


def _role_call_policy(kernel: Kernel, arn: str) -> list[Any]:
    """The topic's policy as it is now, for a role's call on it; a topic SNS does not have has none
    (the call itself answers that it does not exist)."""
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = arn.split(":", 5)
    topic = sns_backends[account][region].topics.get(arn)
    return [] if topic is None else kernel.iam.held_policy(arn, topic.policy)


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    return params.get("TopicArn") or params.get("TargetArn")


SERVICE = Service.of(
    "sns",
    provision,
    observe,
    state=observe.Topics,
    target=Target("sns", _publish, "sns:Publish", _policy, keys.topic_key),
    checks={"sns": keys.check},
    iam_resources={"sns": _iam_resource},
    resource_policies={"sns": _role_call_policy},
)
