"""SNS: each message published to a topic goes to every subscription whose filter policy selects it.

moto delivers SNS to SQS itself (filter policies and raw delivery included) but cannot invoke a
Lambda subscriber and never asks whether a queue's policy admits the topic. So the subscriptions of
the template stay with the local cloud, moto's topics have none (moto delivers nothing), and every
message is delivered here, once: to a queue as SNS's JSON envelope or, with raw delivery, as the
bare message with its attributes; to a function as an asynchronous invocation with the SNS event.

A delivery the endpoint refuses (its policy, its key's policy, a missing Lambda permission, a deleted
endpoint) is a client-side error: SNS does not retry it, and moves the message to the subscription's
dead-letter queue if it has one, as it would have delivered it (a raw message keeps its attributes;
SNS adds none of its own); without one, or when the dead-letter queue refuses SNS too (its policy or
its key's), the message is lost and the trace says so. A server-side error (the endpoint throttled
or failed inside) is retried on SNS's delivery policy first (:mod:`localcloud.services.sns.retries`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.core import delivery, targets
from localcloud.core.service import observes
from localcloud.errors import LocalCloudError
from localcloud.lib.event_patterns import matches
from localcloud.services.sns.retries import managed_delays

if TYPE_CHECKING:
    from collections.abc import Iterator

    from localcloud.core.kernel import Kernel
    from localcloud.core.trace import Span

#: How long a FIFO topic remembers a deduplication id: a repeat within it is accepted, not delivered.
DEDUPLICATION_INTERVAL = timedelta(minutes=5)
#: Protocols the local cloud delivers; the others are traced as not delivered offline.
DELIVERED_PROTOCOLS = ("sqs", "lambda")


@dataclass
class Subscription:
    arn: str
    protocol: str
    endpoint: str
    filter_policy: dict[str, Any] | None = None
    filter_on_body: bool = False
    """``FilterPolicyScope: MessageBody``: the policy applies to the JSON message, not its attributes."""
    raw: bool = False
    dead_letter: str | None = None


@dataclass
class Topic:
    arn: str
    name: str
    fifo: bool = False
    content_deduplication: bool = False
    subscriptions: list[Subscription] = field(default_factory=list)
    _recent: dict[str, datetime] = field(default_factory=dict)

    def is_repeat(self, dedup_id: str | None, now: datetime) -> bool:
        """Whether a FIFO message repeats one published within the deduplication interval."""
        if not dedup_id:
            return False
        self._recent = {k: t for k, t in self._recent.items() if now - t < DEDUPLICATION_INTERVAL}
        if dedup_id in self._recent:
            return True
        self._recent[dedup_id] = now
        return False


@dataclass
class Notification:
    """One published message, as SNS hands it to each subscription."""

    topic: Topic
    message_id: str
    message: str
    subject: str | None
    attributes: dict[str, dict[str, str]]
    """In SNS's own form: ``{"name": {"Type": "String", "Value": "..."}}``."""
    timestamp: str
    structure: str | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None

    def message_for(self, protocol: str) -> str:
        """The message a protocol gets: with ``MessageStructure: json``, its own or the default one."""
        if self.structure != "json":
            return self.message
        by_protocol = json.loads(self.message)
        return by_protocol.get(protocol, by_protocol["default"])


class Topics(dict[str, "Topic"]):
    """SNS's state in one cloud: the topics the local cloud delivers for, by ARN."""

    def __init__(self, cloud: Kernel) -> None:
        super().__init__()


def topics(cloud: Kernel) -> Topics:
    return cloud.service("sns")


"""The cloud's topics by ARN, with the subscriptions the local cloud delivers."""


# ---------------------------------------------------------------------------------------- publishing


@observes("sns", "Publish")
def published(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    topic = topics(cloud).get(params.get("TopicArn") or params.get("TargetArn") or "")
    if topic is None:
        return  # an SMS, a mobile endpoint, or a topic created at runtime: no subscriptions to deliver
    source, parent = cloud.caller()
    _fan_out(cloud, _notification(cloud, topic, params, parsed), source, parent)


@observes("sns", "PublishBatch")
def published_batch(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    topic = topics(cloud).get(params["TopicArn"])
    if topic is None:
        return
    source, parent = cloud.caller()
    accepted = {entry["Id"]: entry for entry in parsed.get("Successful", [])}
    for entry in params["PublishBatchRequestEntries"]:
        if entry["Id"] in accepted:
            _fan_out(cloud, _notification(cloud, topic, entry, accepted[entry["Id"]]), source, parent)


@observes("sns", "Subscribe")
def subscribed(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    """moto would deliver a runtime subscription itself, beside the local cloud: refuse it clearly."""
    if params["TopicArn"] in topics(cloud):
        raise LocalCloudError(
            f"Subscribe to {params['TopicArn']}: the local cloud delivers the subscriptions of the "
            "template only; declare this one in the stack"
        )


def _notification(
    cloud: Kernel, topic: Topic, request: dict[str, Any], response: dict[str, Any]
) -> Notification:
    """The message of a Publish request (or of one entry of a PublishBatch) and its response."""
    message = request["Message"]
    dedup_id = request.get("MessageDeduplicationId")
    if topic.fifo and not dedup_id and topic.content_deduplication:
        dedup_id = hashlib.sha256(message.encode()).hexdigest()
    return Notification(
        topic=topic,
        message_id=response["MessageId"],
        message=message,
        subject=request.get("Subject"),
        attributes={
            name: _sns_attribute(value) for name, value in request.get("MessageAttributes", {}).items()
        },
        timestamp=delivery.timestamp(cloud),
        structure=request.get("MessageStructure"),
        group_id=request.get("MessageGroupId"),
        dedup_id=dedup_id,
        sequence_number=response.get("SequenceNumber"),
    )


def _sns_attribute(value: dict[str, Any]) -> dict[str, str]:
    if "BinaryValue" in value:
        return {"Type": value["DataType"], "Value": base64.b64encode(value["BinaryValue"]).decode()}
    return {"Type": value["DataType"], "Value": value["StringValue"]}


# ---------------------------------------------------------------------------------------- delivering


def _fan_out(cloud: Kernel, notification: Notification, source: str, parent: int | None) -> None:
    topic = notification.topic
    span = cloud.record_send(
        f"sns:{topic.name}", f"message {notification.message_id}", source=source, parent=parent
    )
    if topic.fifo and topic.is_repeat(notification.dedup_id, cloud.clock.now()):
        span.outcome = "duplicate: accepted, not delivered"
        return
    sender = delivery.service_sender(cloud, "sns", topic.arn)
    for subscription in topic.subscriptions:
        _deliver(cloud, sender, subscription, notification, span.id)


def _deliver(
    cloud: Kernel,
    sender: targets.Sender,
    subscription: Subscription,
    notification: Notification,
    cause: int,
) -> None:
    message = notification.message_for(subscription.protocol)
    detail = f"message {notification.message_id}"
    target = targets.label(subscription.endpoint)
    at = cloud.clock.elapsed()
    if subscription.filter_policy is not None and not _selects(subscription, notification, message):
        cloud.trace.record(
            "filter", sender.label, target, detail, at=at, parent=cause, outcome="filtered out"
        )
        return
    if subscription.protocol not in DELIVERED_PROTOCOLS:
        cloud.trace.record(
            "deliver", sender.label, target, detail, at=at, parent=cause, outcome="not delivered offline"
        )
        return
    body, options = _queued(subscription, notification, message)
    if subscription.protocol == "sqs":
        attempt = Attempt(cloud, sender, subscription, body, options, body, detail, cause)
    else:
        event = json.dumps({"Records": [_lambda_record(subscription, notification, message)]})
        attempt = Attempt(cloud, sender, subscription, event, {}, body, detail, cause, dead_options=options)
    attempt.run()


@dataclass
class Attempt:
    """One message on its way to one subscription: delivered at once, retried on the delivery
    policy while the endpoint answers with a server-side error, else dead-lettered or lost."""

    cloud: Kernel
    sender: targets.Sender
    subscription: Subscription
    payload: str
    options: dict[str, Any]
    dead_body: str
    """What the subscription's dead-letter queue gets: the message as the queue would have."""
    detail: str
    cause: int
    dead_options: dict[str, Any] | None = None
    retries: int = 0
    delays: Iterator[float] = field(default_factory=lambda: managed_delays())

    def run(self) -> None:
        detail = self.detail + (f", retry {self.retries}" if self.retries else "")
        span = delivery.deliver(
            self.cloud,
            self.sender,
            self.subscription.endpoint,
            self.payload,
            cause=self.cause,
            detail=detail,
            **self.options,
        )
        if span.outcome != "refused":
            return
        if span.data.get("retryable"):
            delay = next(self.delays, None)
            if delay is not None:
                self.retries += 1
                self.cloud.clock.call_later(
                    delay, self.run, f"retry {targets.label(self.subscription.endpoint)}"
                )
                return
        self._undeliverable(span)

    def _undeliverable(self, span: Span) -> None:
        cloud, sender = self.cloud, self.sender
        if self.subscription.dead_letter is None:
            what = "retries spent" if span.data.get("retryable") else "client-side error"
            cloud.trace.record(
                "discard",
                sender.label,
                "-",
                f"{what}; the subscription has no dead-letter queue",
                at=cloud.clock.elapsed(),
                parent=span.id,
                outcome="lost",
            )
            return
        options = self.options if self.dead_options is None else self.dead_options
        dead = delivery.deliver(
            cloud,
            sender,
            self.subscription.dead_letter,
            self.dead_body,
            cause=span.id,
            detail=self.detail,
            kind="dead-letter",
            **options,
        )
        if dead.outcome == "refused":
            cloud.trace.record(
                "discard",
                sender.label,
                "-",
                f"the dead-letter queue refused it too ({dead.data['reason']})",
                at=cloud.clock.elapsed(),
                parent=dead.id,
                outcome="lost",
            )


def _selects(subscription: Subscription, notification: Notification, message: str) -> bool:
    """Whether the subscription's filter policy selects the message (by its attributes or body)."""
    assert subscription.filter_policy is not None
    if subscription.filter_on_body:
        try:
            body = json.loads(message)
        except ValueError:
            return False
        return matches(subscription.filter_policy, body)
    return matches(subscription.filter_policy, _attribute_values(notification.attributes))


def _attribute_values(attributes: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Attributes as a filter policy sees them: numbers as numbers, arrays as lists; binaries not at all."""
    values: dict[str, Any] = {}
    for name, attribute in attributes.items():
        kind, value = attribute["Type"], attribute["Value"]
        if kind == "String.Array":
            values[name] = json.loads(value)
        elif kind.startswith("Number"):
            values[name] = float(value)
        elif kind.startswith("String"):
            values[name] = value
    return values


def _queued(
    subscription: Subscription, notification: Notification, message: str
) -> tuple[str, dict[str, Any]]:
    """The SQS message SNS sends for a subscription: its body, and the rest of its SendMessage."""
    options: dict[str, Any] = {}
    if subscription.endpoint.endswith(".fifo"):
        options["MessageGroupId"] = notification.group_id
        options["MessageDeduplicationId"] = notification.dedup_id or notification.message_id
    if not subscription.raw:
        return json.dumps(_envelope(subscription, notification, message)), options
    if notification.attributes:
        options["MessageAttributes"] = {
            name: _sqs_attribute(attribute) for name, attribute in notification.attributes.items()
        }
    return message, options


def _sqs_attribute(attribute: dict[str, str]) -> dict[str, Any]:
    if attribute["Type"].startswith("Binary"):
        return {"DataType": attribute["Type"], "BinaryValue": base64.b64decode(attribute["Value"])}
    return {"DataType": attribute["Type"], "StringValue": attribute["Value"]}


def _envelope(subscription: Subscription, notification: Notification, message: str) -> dict[str, Any]:
    """The JSON notification SNS sends to a queue (not raw), in AWS's field order."""
    region = notification.topic.arn.split(":")[3]
    envelope: dict[str, Any] = {"Type": "Notification", "MessageId": notification.message_id}
    if notification.sequence_number:
        envelope["SequenceNumber"] = notification.sequence_number
    envelope["TopicArn"] = notification.topic.arn
    if notification.subject is not None:
        envelope["Subject"] = notification.subject
    envelope.update(
        Message=message,
        Timestamp=notification.timestamp,
        SignatureVersion="1",
        Signature=_signature(notification, message),
        SigningCertURL=f"https://sns.{region}.amazonaws.com/SimpleNotificationService-localcloud.pem",
        UnsubscribeURL=f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
    )
    if notification.attributes:
        envelope["MessageAttributes"] = notification.attributes
    return envelope


def _lambda_record(subscription: Subscription, notification: Notification, message: str) -> dict[str, Any]:
    """One record of the event SNS invokes a function with: the envelope, with ``Url`` keys spelt so."""
    sns = _envelope(subscription, notification, message)
    sns["SigningCertUrl"] = sns.pop("SigningCertURL")
    sns["UnsubscribeUrl"] = sns.pop("UnsubscribeURL")
    sns.update(Subject=notification.subject, MessageAttributes=notification.attributes)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "Sns": sns,
    }


def _signature(notification: Notification, message: str) -> str:
    """A stand-in of the signature's shape: offline there is no SNS certificate to verify against."""
    digest = hashlib.sha256(f"{notification.message_id}\n{message}".encode()).digest()
    return base64.b64encode(digest * 8).decode()
