"""SNS topics, subscriptions and topic policies.

Topics are created in moto; their subscriptions are kept by the local cloud, which delivers them
(see :mod:`localcloud.services.sns.observe` for why moto must not).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import LocalCloudError
from localcloud.lib.event_patterns import InvalidEventPattern, compile_pattern
from localcloud.services.sns.observe import Subscription, Topic, topics

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@provisions("AWS::SNS::Topic")
def topic(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    fifo = _true(props.get("FifoTopic"))
    name = props.get("TopicName") or cloud.physical_name(logical_id, 251 if fifo else 256)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    # moto reads any value given for these two as true: only pass them when they are.
    attributes = {"FifoTopic": "true"} if fifo else {}
    if _true(props.get("ContentBasedDeduplication")):
        attributes["ContentBasedDeduplication"] = "true"
    for key in ("DisplayName", "KmsMasterKeyId"):
        if key in props:
            attributes[key] = str(props[key])
    arn = cloud.admin_client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    created = Topic(arn, name, fifo=fifo, content_deduplication="ContentBasedDeduplication" in attributes)
    topics(cloud)[arn] = created
    for index, inline in enumerate(props.get("Subscription", [])):
        _subscribe(cloud, created, f"{logical_id}/Subscription{index}", inline)
    return Provisioned(arn, {"TopicArn": arn, "TopicName": name})


@provisions("AWS::SNS::Subscription")
def subscription(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    target = topics(cloud).get(props["TopicArn"])
    if target is None:
        raise LocalCloudError(f"{logical_id}: topic {props['TopicArn']} is not a topic of this stack")
    return Provisioned(_subscribe(cloud, target, logical_id, props).arn)


@provisions("AWS::SNS::TopicPolicy")
def topic_policy(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    for topic_arn in props["Topics"]:
        cloud.admin_client("sns").set_topic_attributes(
            TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
        )
        cloud.iam.add_resource_policy(topic_arn, props["PolicyDocument"], logical_id)
    return Provisioned(cloud.physical_name(logical_id, 128))


def _subscribe(cloud: Kernel, target: Topic, logical_id: str, props: dict[str, Any]) -> Subscription:
    protocol, endpoint = props["Protocol"], props["Endpoint"]
    if protocol == "sqs" and endpoint.endswith(".fifo") and not target.fifo:
        raise LocalCloudError(
            f"{logical_id}: FIFO queue {endpoint} cannot subscribe to the standard topic {target.arn}"
        )
    scope = props.get("FilterPolicyScope", "MessageAttributes")
    if scope not in ("MessageAttributes", "MessageBody"):
        raise LocalCloudError(
            f"{logical_id}: FilterPolicyScope {scope!r} is not MessageAttributes or MessageBody"
        )
    policy = props.get("FilterPolicy")
    created = Subscription(
        arn=f"{target.arn}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{cloud.stack_name}/{logical_id}')}",
        protocol=protocol,
        endpoint=endpoint,
        filter_policy=_filter_policy(policy, scope, logical_id),
        filter_on_body=scope == "MessageBody",
        raw=_true(props.get("RawMessageDelivery")),
        dead_letter=_redrive_target(props.get("RedrivePolicy")),
    )
    target.subscriptions.append(created)
    return created


def _filter_policy(policy: Any, scope: str, logical_id: str) -> dict[str, Any] | None:
    """The subscription's filter policy, refused as SNS refuses it when the subscription is made:
    Event Ruler's syntax, without ``wildcard``, and nested keys only on the message body."""
    if policy is None:
        return None

    def refused(reason: str) -> LocalCloudError:
        return LocalCloudError(f"{logical_id}.FilterPolicy: Invalid parameter: {reason}")

    try:
        parsed = json.loads(policy) if isinstance(policy, str) else policy
        compile_pattern(parsed)
    except InvalidEventPattern as error:
        raise refused(f"FilterPolicy: {error.reason}") from None
    except ValueError as error:
        raise refused(f"FilterPolicy: {error}") from None
    if _uses_wildcard(parsed):
        raise refused("FilterPolicy: Unrecognized match type wildcard")
    if scope == "MessageAttributes" and _nested(parsed):
        raise refused("Filter policy scope MessageAttributes does not support nested filter policy")
    return parsed


def _nested(policy: dict[str, Any]) -> bool:
    """Whether a key of ``policy`` (or of one of its ``$or`` branches) holds an object, not a list."""
    for key, value in policy.items():
        if key == "$or":
            if any(_nested(branch) for branch in value):
                return True
        elif isinstance(value, dict):
            return True
    return False


def _uses_wildcard(policy: dict[str, Any]) -> bool:
    """Whether a match expression of ``policy`` (an object in one of its lists) is or excludes a wildcard."""
    for key, value in policy.items():
        if key == "$or":
            if any(_uses_wildcard(branch) for branch in value):
                return True
        elif isinstance(value, dict):
            if _uses_wildcard(value):
                return True
        else:
            for expression in value:
                excluded = expression.get("anything-but") if isinstance(expression, dict) else None
                if isinstance(expression, dict) and (
                    "wildcard" in expression or (isinstance(excluded, dict) and "wildcard" in excluded)
                ):
                    return True
    return False


def _redrive_target(policy: Any) -> str | None:
    if isinstance(policy, str):
        policy = json.loads(policy)
    return policy.get("deadLetterTargetArn") if policy else None


def _true(value: Any) -> bool:
    return str(value).lower() == "true"
