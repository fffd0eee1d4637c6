"""How one AWS service delivers to another in the local cloud: as whom, through which call, with
which retries, and where what cannot be delivered ends up.

EventBridge rules, EventBridge Scheduler and CloudWatch Logs subscriptions deliver this way. A
delivery makes the call the AWS service would make:

The call itself comes from the target service's adapter (:class:`~localcloud.core.service.Target`):
the kernel names no service here.

- with the role it was given (a Scheduler target's ``RoleArn``; a rule's Kinesis, Step Functions,
  Firehose or event bus target; a Logs subscription to Kinesis or Firehose): the role's policies are
  checked as a function's are;
- otherwise as the service principal itself (``events.amazonaws.com``...), which the target's
  resource policy must let in: a Lambda permission, a queue policy or a topic policy, with its
  ``aws:SourceArn`` and ``aws:SourceAccount`` conditions.

A failed call is retried while its :class:`RetryPolicy` allows, after 1 s, then doubling up to
5 minutes (AWS adds jitter; the local cloud does not, so runs repeat). Errors AWS does not retry, a
missing permission or target, go straight on. Then the event goes to the dead-letter queue with the
attributes AWS sets (``ERROR_CODE``, ``ERROR_MESSAGE``, ``RETRY_ATTEMPTS``...), or, without one, is
dropped with a ``discard`` span in the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from localcloud.core.iam import Statement
from localcloud.core.service import Target
from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Error codes worth trying again; anything else (access denied, no such target...) is final.
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "KMSThrottlingException",
    }
)
FIRST_RETRY_DELAY = 1
MAX_RETRY_DELAY = 300


class DeliveryError(Exception):
    """A target call failed; ``retryable`` says whether AWS would try again."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Sender:
    """An AWS service delivering on behalf of one resource: a rule, a schedule, a subscription."""

    principal: str
    """The service principal: ``events.amazonaws.com``, ``scheduler.amazonaws.com``..."""
    source_arn: str
    label: str
    """How the trace names the sender (``rule:Name``); also the session name of its calls."""
    role_arn: str | None = None
    """The role the service assumes; ``None``: the target's resource policy must let it in."""
    source_attribute: str = "RULE_ARN"
    """The dead-letter message attribute that names the sender."""


@dataclass(frozen=True)
class RetryPolicy:
    retry_attempts: int = 185
    max_event_age: int = 86_400
    dead_letter: str | None = None


def check_target(cloud: Kernel, arn: str, where: str) -> None:
    """Raise, naming the target, if the local cloud cannot deliver to ``arn``."""
    if cloud.target(service_of(arn)) is None:
        supported = ", ".join(sorted(name for name, s in cloud.registry.services.items() if s.target))
        raise LocalCloudError(f"{where}: target {arn} is not supported offline; supported: {supported}")


def service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 else ""


def label(arn: str) -> str:
    """How the trace names a target: a function by its name, anything else as ``service:name``."""
    service, resource = service_of(arn), arn.split(":", 5)[-1]
    name = resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if service == "lambda":
        return resource.split(":")[1] if resource.startswith("function:") else name
    return f"{service}:{name}"


def send(cloud: Kernel, sender: Sender, arn: str, body: str | bytes, *, span: int, **options: Any) -> Any:
    """The one call every delivery makes: ``body`` to ``arn`` as ``sender`` (its role, else its
    service principal through the target's resource policy), built by the target's adapter. The
    target's error is raised as the SDK raises it; :func:`call` turns it into a :class:`DeliveryError`."""
    target = _target(cloud, arn)
    with cloud.acting_as(service_role(cloud, sender.principal), sender.label, span):
        if sender.role_arn is None and target.policy_action is not None:
            check_resource_policy(cloud, sender, arn)
        if sender.role_arn is None and target.direct is not None:
            answer = target.direct(cloud, arn, body, options)
            if answer is not None:
                return answer
        operation, request = target.request(cloud, arn, body, options)
        method = getattr(client(cloud, target.client), operation)
        if sender.role_arn is None:
            return method(**request)
        with cloud.acting_as(sender.role_arn, sender.label, span):
            return method(**request)


def call(cloud: Kernel, sender: Sender, arn: str, body: str | bytes, *, span: int, **options: Any) -> None:
    """Make the call that delivers ``body`` to ``arn`` as ``sender``; raise :class:`DeliveryError`."""
    try:
        response = send(cloud, sender, arn, body, span=span, **options)
    except ClientError as error:
        code = error.response["Error"].get("Code", "Unknown")
        message = error.response["Error"].get("Message", str(error))
        raise DeliveryError(code, message, retryable=code in RETRYABLE) from None
    except LocalCloudError as error:
        raise DeliveryError("ResourceNotFoundException", str(error)) from None
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise DeliveryError(failed.get("ErrorCode", "Failed"), failed.get("ErrorMessage", ""))


def service_role(cloud: Kernel, principal: str) -> str:
    """The identity a service principal's own calls run as: it may do anything, because the target's
    resource policy is what decides (see :func:`call`)."""
    arn = f"arn:{cloud.partition}:iam::{cloud.account}:role/aws-service-principal/{principal}"
    if arn not in cloud.iam.identity:
        cloud.iam.add_identity_policy(
            arn,
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            f"{principal}: the target's resource policy decides",
        )
    return arn


# ---------------------------------------------------------------------------------------- delivery


@dataclass
class Delivery:
    """One event on its way to one target: tried at once, retried while the policy allows, then
    sent to the policy's dead-letter queue or dropped."""

    cloud: Kernel
    sender: Sender
    target: str
    body: str | bytes
    policy: RetryPolicy
    what: str
    """What the trace says is delivered: ``event 1234``."""
    cause: int | None
    options: dict[str, Any] = field(default_factory=dict)
    dead_letter_body: str | None = None
    """What the dead-letter queue gets, if not the body: EventBridge sends the original event."""
    dead_letter_attributes: dict[str, str] = field(default_factory=dict)
    dead_letter_sender: Sender | None = None
    """Who sends to the dead-letter queue, if not the sender: a rule does with the queue's policy,
    whatever role its target has."""
    attempts: int = field(default=0, init=False)
    received: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.received = self.cloud.clock.now()

    def start(self) -> None:
        """Deliver asynchronously: the first attempt runs on the cloud's next pump."""
        self.cloud.clock.call_later(0, self._attempt, f"deliver {label(self.target)}")

    def _attempt(self) -> None:
        self.attempts += 1
        span = self.cloud.trace.record(
            "deliver",
            self.sender.label,
            label(self.target),
            f"{self.what}, attempt {self.attempts}",
            at=self.cloud.clock.elapsed(),
            parent=self.cause,
        )
        try:
            call(self.cloud, self.sender, self.target, self.body, span=span.id, **self.options)
        except DeliveryError as error:
            span.outcome = f"error: {error.code}"
            span.data["error"] = error.message
            self._after_failure(error, span.id)

    def _after_failure(self, error: DeliveryError, span: int) -> None:
        retries = self.attempts - 1
        delay = min(FIRST_RETRY_DELAY * 2**retries, MAX_RETRY_DELAY)
        age = (self.cloud.clock.now() - self.received).total_seconds() + delay
        if not error.retryable:
            condition = None
        elif retries >= self.policy.retry_attempts:
            condition = "MaximumRetryAttempts"
        elif age > self.policy.max_event_age:
            condition = "MaximumEventAgeInSeconds"
        else:
            self.cloud.clock.call_later(delay, self._attempt, f"retry {label(self.target)}")
            return
        self._dead_letter(error, condition, retries, span)

    def _dead_letter(self, error: DeliveryError, condition: str | None, retries: int, cause: int) -> None:
        queue = self.policy.dead_letter
        if queue is None:
            self.cloud.trace.record(
                "discard",
                self.sender.label,
                label(self.target),
                f"{self.what}: {error.code}; no dead-letter queue",
                at=self.cloud.clock.elapsed(),
                parent=cause,
                outcome="lost",
            )
            return
        attributes = {
            self.sender.source_attribute: self.sender.source_arn,
            "TARGET_ARN": self.target,
            "ERROR_CODE": error.code,
            "ERROR_MESSAGE": error.message[:1024] or error.code,
            "RETRY_ATTEMPTS": str(retries),
            **({"EXHAUSTED_RETRY_CONDITION": condition} if condition else {}),
            **self.dead_letter_attributes,
        }
        span = self.cloud.trace.record(
            "dead-letter",
            self.sender.label,
            label(queue),
            self.what,
            at=self.cloud.clock.elapsed(),
            parent=cause,
            outcome="dead-lettered",
        )
        message_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        body = self.dead_letter_body if self.dead_letter_body is not None else self.body
        try:
            sender = self.dead_letter_sender or self.sender
            call(self.cloud, sender, queue, body, span=span.id, MessageAttributes=message_attributes)
        except DeliveryError as failure:
            span.outcome = "lost"
            span.data["error"] = failure.message


# ---------------------------------------------------------------------------------------- calls


def client(cloud: Kernel, service: str) -> Any:
    """The cloud's client for ``service``, made once: creating a client costs milliseconds. Its calls
    run as whoever is acting (see :meth:`Kernel.acting_as`)."""
    return cloud.admin_client(service)


def _target(cloud: Kernel, arn: str) -> Target:
    target = cloud.target(service_of(arn))
    if target is None:
        raise LocalCloudError(f"target {arn} is not supported offline")
    return target


def text(body: str | bytes) -> str:
    """A body for a target that takes text (a queue, a topic, a function, a bus, a state machine)."""
    return body.decode() if isinstance(body, bytes) else body


def data(body: str | bytes) -> bytes:
    """A body for a stream (Kinesis, Firehose), which takes bytes as they are."""
    return body.encode() if isinstance(body, str) else body


# ---------------------------------------------------------------------------------------- policies


def check_resource_policy(cloud: Kernel, sender: Sender, arn: str) -> None:
    """Raise :class:`DeliveryError` unless the resource policy of ``arn`` lets ``sender`` deliver."""
    target = _target(cloud, arn)
    resource, statements = resource_policy(cloud, arn)
    action = target.policy_action
    context = {
        "aws:sourcearn": sender.source_arn,
        "aws:sourceaccount": cloud.account,
        "aws:securetransport": "true",
    }
    if not cloud.iam.allows(statements, sender.principal, action, resource, context):
        raise DeliveryError(
            "AccessDeniedException",
            f"{sender.principal} is not authorized to perform: {action} on resource: {resource} "
            f"for {sender.source_arn}: no resource-based policy statement allows it",
        )


def resource_policy(cloud: Kernel, arn: str) -> tuple[str, list[Statement]]:
    """The resource's ARN and its policy statements, as its service reads them when delivering."""
    target = _target(cloud, arn)
    if target.resource_policy is None:
        return arn, []
    return target.resource_policy(cloud, arn)
