"""EventBridge buses, rules and archives; EventBridge Scheduler's schedules and schedule groups.

Each is created in moto, so the API answers about it. Rules are created there without their targets
and schedules fire on the local cloud's clock: the local cloud alone delivers to their targets
(:mod:`localcloud.services.events.observe`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.core.targets import check_target
from localcloud.errors import LocalCloudError
from localcloud.lib.event_patterns import compile_pattern
from localcloud.lib.schedules import Schedule, parse
from localcloud.services.events.observe import (
    Archive,
    Rule,
    RuleTarget,
    ScheduledTarget,
    bus_name,
    buses,
    iso,
    timestamp,
)

if TYPE_CHECKING:
    from datetime import datetime

    from localcloud.core.kernel import Kernel


@provisions("AWS::Events::EventBus")
def event_bus(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props["Name"]
    request = {"Name": name, **_optional(props, "Description")}
    arn = cloud.admin_client("events").create_event_bus(**request)["EventBusArn"]
    return Provisioned(name, {"Arn": arn, "Name": name})


@provisions("AWS::Events::Rule")
def rule(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("Name") or cloud.physical_name(logical_id, 64)
    bus = bus_name(props.get("EventBusName"))
    pattern = _pattern(props.get("EventPattern"), logical_id)
    enabled = props.get("State", "ENABLED") != "DISABLED"
    request: dict[str, Any] = {
        "Name": name,
        "EventBusName": bus,
        "State": "ENABLED" if enabled else "DISABLED",
        **_optional(props, "Description", "RoleArn", "ScheduleExpression"),
    }
    if pattern is not None:
        request["EventPattern"] = json.dumps(pattern)
    arn = cloud.admin_client("events").put_rule(**request)["RuleArn"]
    targets = [
        RuleTarget.from_template(cloud, target, f"{logical_id}.Targets.{target['Id']}")
        for target in props.get("Targets", [])
    ]
    buses(cloud).add(Rule(name, arn, bus, pattern, enabled, targets, props.get("ScheduleExpression")))
    # Ref is the rule's name, prefixed with its bus when that is not the default one.
    return Provisioned(name if bus == "default" else f"{bus}|{name}", {"Arn": arn})


@provisions("AWS::Events::Archive")
def archive(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """An archive in moto, filled by the local cloud (moto's own archive rule is disarmed: its
    input transformer needs ``jsonpath_ng``, which is not installed)."""
    name = props.get("ArchiveName") or cloud.physical_name(logical_id, 48)
    pattern = _pattern(props.get("EventPattern"), logical_id)
    request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    request.update(_optional(props, "Description", "RetentionDays"))
    if pattern is not None:
        request["EventPattern"] = json.dumps(pattern)
    events = cloud.admin_client("events")
    arn = events.create_archive(**request)["ArchiveArn"]
    bus = bus_name(props["SourceArn"])
    managed_rule = f"Events-Archive-{name}"
    events.remove_targets(Rule=managed_rule, EventBusName=bus, Ids=[managed_rule])
    buses(cloud).archives.append(Archive(name, bus, pattern))
    return Provisioned(name, {"Arn": arn, "ArchiveName": name})


@provisions("AWS::Scheduler::ScheduleGroup")
def schedule_group(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("Name") or cloud.physical_name(logical_id, 64)
    arn = cloud.admin_client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
    now = iso(cloud.clock.now())
    return Provisioned(
        name, {"Arn": arn, "State": "ACTIVE", "CreationDate": now, "LastModificationDate": now}
    )


@provisions("AWS::Scheduler::Schedule")
def schedule(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    name = props.get("Name") or cloud.physical_name(logical_id, 64)
    target = props["Target"]
    check_target(cloud, target["Arn"], f"{logical_id}.Target")
    start, end = _date(props.get("StartDate")), _date(props.get("EndDate"))
    request: dict[str, Any] = {
        "Name": name,
        "GroupName": props.get("GroupName", "default"),
        "ScheduleExpression": props["ScheduleExpression"],
        "FlexibleTimeWindow": props["FlexibleTimeWindow"],
        "Target": target,
        "State": props.get("State", "ENABLED"),
        **_optional(props, "Description", "ScheduleExpressionTimezone"),
        **({"StartDate": start} if start else {}),
        **({"EndDate": end} if end else {}),
    }
    arn = cloud.admin_client("scheduler").create_schedule(**request)["ScheduleArn"]
    if request["State"] == "ENABLED":
        expression = parse(props["ScheduleExpression"], props.get("ScheduleExpressionTimezone"))
        fire = ScheduledTarget(cloud, name, arn, props["ScheduleExpression"], target).fire
        cloud.add_pollable(Schedule(cloud.clock, expression, fire, start=start, end=end))
    return Provisioned(name, {"Arn": arn})


def _optional(props: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: props[key] for key in keys if key in props}


def _pattern(value: Any, logical_id: str) -> dict[str, Any] | None:
    """An event pattern as the template gives it (a JSON object, or a string holding one), refused
    here when EventBridge would refuse it, so the stack fails offline as its deploy would."""
    if value is None:
        return None
    try:
        pattern = json.loads(value) if isinstance(value, str) else value
        compile_pattern(pattern)
    except ValueError as error:
        raise LocalCloudError(f"{logical_id}.EventPattern: {error}") from None
    return pattern


def _date(value: str | None) -> datetime | None:
    return timestamp(value) if value else None
