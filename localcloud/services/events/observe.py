"""EventBridge: each event put on a bus is matched against the bus's rules, and every target of a
matching rule gets the event, or what the target's input settings make of it. EventBridge
Scheduler's schedules deliver to their targets the same way.

moto keeps the buses, rules, archives and schedules, so Describe and List calls answer and archives
record; but moto delivers to SQS and Logs targets only (other targets raise NotImplementedError). So
the provisioner creates each rule in moto *without* its targets and registers it here, and only the
local cloud delivers: nothing arrives twice. ``ListTargetsByRule`` therefore answers empty, and a
rule created through the API at run time is moto's alone.

- An entry is matched as the whole event (``version``, ``id``, ``detail-type``, ``source``,
  ``account``, ``time``, ``region``, ``resources``, ``detail``) with
  :func:`localcloud.lib.event_patterns.matches`; a disabled rule matches nothing.
- A target gets its ``Input`` as given, the value at its ``InputPath``, its ``InputTransformer``'s
  template filled in, or else the event. An event bus target gets the event itself.
- Delivery is asynchronous, with the target's ``RetryPolicy`` and ``DeadLetterConfig``
  (:mod:`localcloud.core.targets`; the dead letter is the original event). For a Lambda target that
  covers handing the event to Lambda: the function's own errors are Lambda's to retry, per its
  ``EventInvokeConfig``, and then to send to the function's DLQ or on-failure destination.
- Scheduled rules and schedules fire on the virtual clock (:mod:`localcloud.lib.schedules`).
- Archives are moto's, but the local cloud fills them: moto's own archiving goes through an input
  transformer that needs ``jsonpath_ng``, which the project does not install, so the provisioner
  removes the target of moto's archive rule. ``StartReplay`` sends an archive's events in the time
  window to the rules of the destination bus again (or to its ``FilterArns``), with
  ``replay-name`` added; replayed events are not archived again.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.utils import parse_timestamp

from localcloud.core.service import observes
from localcloud.core.targets import Delivery, RetryPolicy, Sender, check_target, service_of
from localcloud.errors import LocalCloudError
from localcloud.lib.event_patterns import matches
from localcloud.lib.input_templates import transform
from localcloud.lib.json_path import MISSING, select
from localcloud.lib.schedules import Schedule, parse

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

EVENTS = "events.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
#: Targets reached through their resource policy: a rule's ``RoleArn`` does not apply to them.
RESOURCE_POLICY_TARGETS = frozenset({"lambda", "sqs", "sns"})
#: Scheduler's context attributes, which its target input may use.
_SCHEDULER_CONTEXT = ("schedule-arn", "scheduled-time", "execution-id", "attempt-number")


@dataclass
class RuleTarget:
    """One entry of a rule's ``Targets``, with its retry policy and input settings."""

    id: str
    arn: str
    role_arn: str | None = None
    input: str | None = None
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    message_group: str | None = None
    partition_key_path: str | None = None

    @classmethod
    def from_template(cls, cloud: Kernel, props: dict[str, Any], where: str) -> RuleTarget:
        if service_of(props["Arn"]) == "logs":
            # Logs takes deliveries from pipes, with their role; a rule's needs the group's resource policy.
            raise LocalCloudError(
                f"{where}: target {props['Arn']}: log-group targets of rules are not supported offline"
            )
        check_target(cloud, props["Arn"], where)
        return cls(
            id=props["Id"],
            arn=props["Arn"],
            role_arn=props.get("RoleArn"),
            input=props.get("Input"),
            input_path=props.get("InputPath"),
            input_transformer=props.get("InputTransformer"),
            policy=retry_policy(props),
            message_group=props.get("SqsParameters", {}).get("MessageGroupId"),
            partition_key_path=props.get("KinesisParameters", {}).get("PartitionKeyPath"),
        )


@dataclass
class Rule:
    name: str
    arn: str
    bus: str
    pattern: dict[str, Any] | None
    enabled: bool
    targets: list[RuleTarget]
    schedule: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        if not self.enabled or self.pattern is None:
            return False
        try:
            return matches(self.pattern, event)
        except ValueError as error:
            raise LocalCloudError(f"rule {self.name}: {error}") from None

    def sender(self, target: RuleTarget | None = None) -> Sender:
        """Who delivers to ``target``: with the target's role, unless its resource policy decides.
        Without a target: who sends to a dead-letter queue, which the queue's policy lets in."""
        uses_role = target is not None and service_of(target.arn) not in RESOURCE_POLICY_TARGETS
        role = target.role_arn if target is not None and uses_role else None
        return Sender(EVENTS, self.arn, f"rule:{self.name}", role_arn=role)


def retry_policy(target: dict[str, Any]) -> RetryPolicy:
    """A target's ``RetryPolicy`` and ``DeadLetterConfig`` (rules and schedules spell them alike)."""
    retry = target.get("RetryPolicy", {})
    defaults = RetryPolicy()
    return RetryPolicy(
        retry_attempts=int(retry.get("MaximumRetryAttempts", defaults.retry_attempts)),
        max_event_age=int(retry.get("MaximumEventAgeInSeconds", defaults.max_event_age)),
        dead_letter=target.get("DeadLetterConfig", {}).get("Arn"),
    )


def bus_name(name_or_arn: str | None) -> str:
    if not name_or_arn:
        return "default"
    return name_or_arn.split(":event-bus/", 1)[1] if name_or_arn.startswith("arn:") else name_or_arn


def iso(moment: datetime) -> str:
    """A time as EventBridge writes it: ``2026-01-01T00:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp(value: Any) -> datetime:
    """A time as a caller may give it: a datetime, epoch seconds, or ISO 8601 text."""
    moment = value if isinstance(value, datetime) else parse_timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Archive:
    name: str
    bus: str
    pattern: dict[str, Any] | None


class EventBridge:
    """The rules and archives of one cloud's buses, and what happens to the events put on them."""

    def __init__(self, cloud: Kernel) -> None:
        self.cloud = cloud
        self.rules: list[Rule] = []
        self.archives: list[Archive] = []

    def add(self, rule: Rule) -> None:
        self.rules.append(rule)
        if rule.schedule and rule.enabled:
            expression = parse(rule.schedule)
            self.cloud.add_pollable(
                Schedule(self.cloud.clock, expression, lambda moment: self._scheduled(rule, moment))
            )

    def put(self, entry: dict[str, Any], event_id: str, *, source: str, parent: int | None) -> None:
        """An entry PutEvents accepted: match it against the rules of its bus and deliver."""
        bus = bus_name(entry.get("EventBusName"))
        event = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.cloud.account,
            "time": iso(timestamp(entry["Time"]) if entry.get("Time") else self.cloud.clock.now()),
            "region": self.cloud.region,
            "resources": list(entry.get("Resources", [])),
            "detail": json.loads(entry["Detail"]),
        }
        span = self.cloud.record_send(
            f"events:{bus}", f"event {event_id} ({event['detail-type']})", source=source, parent=parent
        )
        for archive in self.archives:
            if archive.bus == bus and (archive.pattern is None or matches(archive.pattern, event)):
                _moto_archive(self.cloud, archive.name).events.append(event)
        matched = [rule for rule in self.rules if rule.bus == bus and rule.matches(event)]
        if not matched:
            span.outcome = "no rule matched"
        for rule in matched:
            self.dispatch(rule, event, span.id)

    def dispatch(self, rule: Rule, event: dict[str, Any], cause: int | None) -> None:
        """Send ``event`` to every target of ``rule``."""
        for target in rule.targets:
            body, options = self._request(rule, target, event)
            Delivery(
                self.cloud,
                rule.sender(target),
                target.arn,
                body,
                policy=target.policy,
                what=f"event {event['id']}",
                cause=cause,
                options=options,
                dead_letter_body=json.dumps(event),
                dead_letter_sender=rule.sender(),
            ).start()

    def replay(self, params: dict[str, Any], *, source: str, parent: int | None) -> None:
        archive_name = params["EventSourceArn"].rsplit("/", 1)[-1]
        destination = params["Destination"]
        bus, only = bus_name(destination["Arn"]), set(destination.get("FilterArns") or [])
        start, end = timestamp(params["EventStartTime"]), timestamp(params["EventEndTime"])
        span = self.cloud.trace.record(
            "replay",
            source,
            f"events:{bus}",
            f"{params['ReplayName']} from {archive_name}",
            at=self.cloud.clock.elapsed(),
            parent=parent,
        )
        for archived in list(_moto_archive(self.cloud, archive_name).events):
            if not start <= timestamp(archived["time"]) <= end:
                continue
            event = {**archived, "replay-name": params["ReplayName"]}
            for rule in self.rules:
                if rule.bus == bus and (not only or rule.arn in only) and rule.matches(event):
                    self.dispatch(rule, event, span.id)

    def _scheduled(self, rule: Rule, moment: datetime) -> None:
        span = self.cloud.trace.record(
            "schedule",
            f"rule:{rule.name}",
            "events",
            f"{rule.schedule} at {iso(moment)}",
            at=self.cloud.clock.elapsed(),
        )
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.cloud.account,
            "time": iso(moment),
            "region": self.cloud.region,
            "resources": [rule.arn],
            "detail": {},
        }
        self.dispatch(rule, event, span.id)

    def _request(self, rule: Rule, target: RuleTarget, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """What the target is sent, and the call's extra parameters."""
        service = service_of(target.arn)
        if service == "events":
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Resources": event["resources"],
            }
            return json.dumps(event["detail"]), entry
        options: dict[str, Any] = {}
        if service == "sqs" and target.arn.endswith(".fifo"):
            options = {
                "MessageGroupId": target.message_group or event["id"],
                "MessageDeduplicationId": event["id"],
            }
        if service == "kinesis":
            key = select(event, target.partition_key_path) if target.partition_key_path else MISSING
            options = {"PartitionKey": event["id"] if key is MISSING else str(key)}
        return self._input(rule, target, event), options

    def _input(self, rule: Rule, target: RuleTarget, event: dict[str, Any]) -> str:
        if target.input is not None:
            return target.input
        if target.input_path is not None:
            value = select(event, target.input_path)
            return "null" if value is MISSING else json.dumps(value)
        if target.input_transformer is not None:
            predefined = {
                "aws.events.rule-arn": rule.arn,
                "aws.events.rule-name": rule.name,
                "aws.events.event.ingestion-time": iso(self.cloud.clock.now()),
            }
            raw = {
                "aws.events.event": json.dumps({k: v for k, v in event.items() if k != "detail"}),
                "aws.events.event.json": json.dumps(event),
            }
            return transform(target.input_transformer, event, predefined, raw)
        return json.dumps(event)


def _moto_archive(cloud: Kernel, name: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[cloud.account][cloud.region].archives[name]


# ---------------------------------------------------------------------------------------- scheduler


@dataclass
class ScheduledTarget:
    """An EventBridge Scheduler schedule's target: each firing delivers its input with the role."""

    cloud: Kernel
    name: str
    arn: str
    expression: str
    target: dict[str, Any]

    def fire(self, moment: datetime) -> None:
        execution = str(uuid.uuid4())
        span = self.cloud.trace.record(
            "schedule",
            f"schedule:{self.name}",
            "scheduler",
            f"{self.expression} at {iso(moment)}",
            at=self.cloud.clock.elapsed(),
        )
        context = dict(zip(_SCHEDULER_CONTEXT, (self.arn, iso(moment), execution, "1"), strict=True))
        body = self.target.get("Input", "{}")
        for key, value in context.items():
            body = body.replace(f"<aws.scheduler.{key}>", value)
        Delivery(
            self.cloud,
            Sender(
                SCHEDULER,
                self.arn,
                f"schedule:{self.name}",
                role_arn=self.target["RoleArn"],
                source_attribute="SCHEDULE_ARN",
            ),
            self.target["Arn"],
            body,
            policy=retry_policy(self.target),
            what=f"execution {execution}",
            cause=span.id,
            options=self._options(execution),
            dead_letter_attributes={"EXECUTION_ID": execution},
        ).start()

    def _options(self, execution: str) -> dict[str, Any]:
        service = service_of(self.target["Arn"])
        if service == "events":
            parameters = self.target.get("EventBridgeParameters", {})
            return {"Source": parameters.get("Source"), "DetailType": parameters.get("DetailType")}
        if service == "sqs" and self.target["Arn"].endswith(".fifo"):
            group = self.target.get("SqsParameters", {}).get("MessageGroupId", execution)
            return {"MessageGroupId": group, "MessageDeduplicationId": execution}
        if service == "kinesis":
            return {"PartitionKey": self.target.get("KinesisParameters", {}).get("PartitionKey", execution)}
        return {}


# ---------------------------------------------------------------------------------------- observers


def buses(cloud: Kernel) -> EventBridge:
    """EventBridge's state in this cloud (its service's ``state``)."""
    return cloud.service("events")


#: EventBridge's quota on the entries of one PutEvents request (1 MB since January 2026).
MAX_ENTRIES_BYTES = 1_048_576


def entries_size(entries: list[dict[str, Any]]) -> int:
    """The size EventBridge counts for ``PutEvents`` entries: ``Time`` as 14 bytes, and the UTF-8
    bytes of ``Source``, ``DetailType``, ``Detail`` and each of ``Resources``."""

    def utf8(text: Any) -> int:
        return len(str(text).encode("utf-8", "surrogatepass"))

    return sum(
        (14 if entry.get("Time") is not None else 0)
        + sum(utf8(entry.get(key) or "") for key in ("Source", "DetailType", "Detail"))
        + sum(utf8(resource) for resource in entry.get("Resources") or [])
        for entry in entries
    )


@observes("events", "PutEvents")
def events_put(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    source, parent = cloud.caller()
    for entry, result in zip(params.get("Entries", []), parsed.get("Entries", []), strict=False):
        if "EventId" in result:
            buses(cloud).put(entry, result["EventId"], source=source, parent=parent)


@observes("events", "StartReplay")
def replay_started(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    source, parent = cloud.caller()
    buses(cloud).replay(params, source=source, parent=parent)
