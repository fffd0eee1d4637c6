"""CloudWatch's state in one cloud: its metric and composite alarms, evaluated on the virtual clock.

A metric alarm is evaluated at the end of each of its periods (periods aligned on the epoch, as
CloudWatch's are), over its last ``EvaluationPeriods`` periods (see
:mod:`localcloud.services.cloudwatch.evaluate`). A composite alarm is evaluated when one of the
alarms its rule names changes state, and once after the stack starts. Each change of state:

- goes to the default event bus as a ``CloudWatch Alarm State Change`` event (source
  ``aws.cloudwatch``, detail ``alarmName``, ``state``, ``previousState``, ``configuration``);
- runs the alarm's actions for the new state, if ``ActionsEnabled``: an SNS topic gets the JSON
  message CloudWatch publishes (as ``cloudwatch.amazonaws.com``, through the topic's policy), a
  Lambda function is invoked asynchronously with the ``alarmData`` payload
  (as ``lambda.alarms.cloudwatch.amazonaws.com``, through the function's permissions);
- is kept in moto's alarm, so ``DescribeAlarms`` answers it.

``SetAlarmState`` changes the state at once, with the same effects; the next evaluation decides
again. The evaluation schedules are schedules: ``drain()`` does not wait for them, ``advance()``
runs them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.core.targets import Delivery, RetryPolicy, Sender, service_of, service_role
from localcloud.services.cloudwatch import expressions
from localcloud.services.cloudwatch.composite import Rule
from localcloud.services.cloudwatch.evaluate import EXTRA_PERIODS, decide, statistic

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.core.metrics import Datapoint

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
ACTION_KEYS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
SNS_PRINCIPAL = "cloudwatch.amazonaws.com"
LAMBDA_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"


def stamp(moment: datetime) -> str:
    """CloudWatch's timestamps in alarm events: ``2019-10-02T17:04:40.985+0000``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


@dataclass
class Query:
    """One entry of an alarm's ``Metrics`` (or the alarm's own single metric)."""

    id: str
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    period: int = 60
    stat: str | None = None
    unit: str | None = None
    expression: str | None = None
    tree: expressions.Node | None = None
    label: str | None = None
    return_data: bool = True

    def configuration(self) -> dict[str, Any]:
        """How the alarm state change event describes this query."""
        if self.expression is not None:
            described: dict[str, Any] = {"id": self.id, "expression": self.expression}
            if self.label:
                described["label"] = self.label
        else:
            described = {
                "id": self.id,
                "metricStat": {
                    "metric": {"namespace": self.namespace, "name": self.name, "dimensions": self.dimensions},
                    "period": self.period,
                    "stat": self.stat,
                    **({"unit": self.unit} if self.unit else {}),
                },
            }
        described["returnData"] = self.return_data
        return described


@dataclass
class Alarm:
    name: str
    arn: str
    description: str | None
    actions: dict[str, list[str]]
    actions_enabled: bool = True
    # metric alarms
    queries: list[Query] = field(default_factory=list)
    period: int = 60
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    threshold: float = 0.0
    comparison: str = "GreaterThanThreshold"
    treat_missing: str = "missing"
    single: bool = True
    """One metric (``MetricName``...), not ``Metrics``: the SNS message's ``Trigger`` names it."""
    # composite alarms
    rule: Rule | None = None
    schedule: Any = None
    """The pollable evaluating a metric alarm each period."""
    # state
    state: str = "INSUFFICIENT_DATA"
    reason: str = "Unchecked: Initial alarm creation"
    reason_data: str | None = None
    changed: datetime | None = None
    updated: datetime | None = None

    @property
    def composite(self) -> bool:
        return self.rule is not None

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {"value": self.state, "reason": self.reason}
        if self.reason_data is not None:
            state["reasonData"] = self.reason_data
        state["timestamp"] = stamp(self.changed or self.updated or datetime.now(UTC))
        return state

    def configuration(self) -> dict[str, Any]:
        if self.rule is not None:
            return {
                "alarmRule": self.rule.text,
                **({"description": self.description} if self.description else {}),
            }
        return {
            **({"description": self.description} if self.description else {}),
            "metrics": [q.configuration() for q in self.queries],
        }


class _Every:
    """A pollable calling ``fire(moment)`` at the end of each period, periods aligned on the epoch."""

    schedule = True
    """A schedule never ends: ``drain()`` does not wait for it."""

    def __init__(self, kernel: Kernel, period: int, fire: Any) -> None:
        self.kernel, self.period, self.fire = kernel, period, fire
        now = kernel.clock.now().timestamp()
        self.next = datetime.fromtimestamp((now // period + 1) * period, UTC)

    def poll(self) -> bool:
        fired = False
        while self.next <= self.kernel.clock.now():
            moment, self.next = self.next, self.next + timedelta(seconds=self.period)
            self.fire(moment)
            fired = True
        return fired

    def next_wakeup(self) -> datetime | None:
        return self.next


class CloudWatch:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.alarms: dict[str, Alarm] = {}
        self.flushed = 0
        """How much of the kernel's metric log moto's store has (see :meth:`flush`)."""

    # ------------------------------------------------------------------------------------ alarms

    def add(self, alarm: Alarm) -> None:
        alarm.updated = self.kernel.clock.now()
        self.alarms[alarm.name] = alarm
        if alarm.composite:
            self.kernel.clock.call_later(
                0, lambda: self.evaluate_composite(alarm, None), f"alarm {alarm.name}"
            )
        else:
            alarm.schedule = _Every(self.kernel, alarm.period, lambda at: self.evaluate(alarm, at))
            self.kernel.add_pollable(alarm.schedule)

    def delete(self, name: str) -> None:
        """``DeleteAlarms``: the alarm is no longer evaluated."""
        alarm = self.alarms.pop(name, None)
        if alarm is not None and alarm.schedule is not None:
            self.kernel.remove_pollable(alarm.schedule)

    def alarm(self, name_or_arn: str) -> Alarm:
        name = name_or_arn.split(":alarm:", 1)[-1]
        return self.alarms[name]

    def values(self, alarm: Alarm, at: datetime) -> tuple[list[datetime], list[float | None]]:
        """The alarm's value in each period of its evaluation range (``EvaluationPeriods + 2``
        periods, see :mod:`localcloud.services.cloudwatch.evaluate`) ending at ``at``."""
        period = timedelta(seconds=alarm.period)
        count = alarm.evaluation_periods + EXTRA_PERIODS
        starts = [at - period * (count - i) for i in range(count)]
        series: dict[str, expressions.Series] = {}
        for query in alarm.queries:
            if query.expression is None:
                series[query.id] = {
                    start: value
                    for start in starts
                    if (value := statistic(self._points(query, start, start + period), query.stat or ""))
                    is not None
                }
        for query in alarm.queries:
            if query.tree is not None:
                result = expressions.evaluate(query.tree, series, starts)
                series[query.id] = (
                    expressions.as_series(result, starts) if not isinstance(result, list) else {}
                )
        returned = next(q for q in alarm.queries if q.return_data)
        chosen = series.get(returned.id, {})
        return starts, [chosen.get(start) for start in starts]

    def _points(self, query: Query, start: datetime, end: datetime) -> list[Datapoint]:
        assert query.namespace is not None and query.name is not None
        points = self.kernel.metrics.datapoints(
            query.namespace, query.name, query.dimensions, start=start, end=end
        )
        return [p for p in points if query.unit is None or p.unit == query.unit]

    def evaluate(self, alarm: Alarm, at: datetime) -> None:
        starts, values = self.values(alarm, at)
        decision = decide(
            values,
            threshold=alarm.threshold,
            comparison=alarm.comparison,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            evaluation_periods=alarm.evaluation_periods,
            treat_missing=alarm.treat_missing,
            moments=starts,
            current=alarm.state,
        )
        if decision.state is None or decision.state == alarm.state:
            return
        reason_data = {
            "version": "1.0",
            "queryDate": stamp(at),
            "startDate": stamp(starts[0]),
            **({"statistic": alarm.queries[0].stat} if alarm.single else {}),
            "period": alarm.period,
            "recentDatapoints": [v for v in values if v is not None],
            "threshold": float(alarm.threshold),
            "evaluatedDatapoints": [
                {"timestamp": stamp(s), **({"value": v} if v is not None else {})}
                for s, v in reversed(list(zip(starts, values, strict=True)))
            ],
        }
        self.change(alarm, decision.state, decision.reason, json.dumps(reason_data), cause=None)

    def evaluate_composite(self, alarm: Alarm, cause: int | None) -> None:
        assert alarm.rule is not None
        holds = alarm.rule.evaluate(lambda name: self.alarm(name).state)
        state = "ALARM" if holds else "OK"
        if state == alarm.state:
            return
        triggering = sorted(alarm.rule.alarms)
        reason = f"{alarm.rule.text} evaluated to {'TRUE' if holds else 'FALSE'}"
        data = {
            "triggeringAlarms": [
                {"arn": self.alarm(name).arn, "state": {"value": self.alarm(name).state}}
                for name in triggering
            ]
        }
        self.change(alarm, state, reason, json.dumps(data), cause=cause)

    def change(
        self, alarm: Alarm, state: str, reason: str, reason_data: str | None, *, cause: int | None
    ) -> None:
        """Put ``alarm`` in ``state``, with everything that follows a change."""
        kernel = self.kernel
        previous = alarm.snapshot()
        old = alarm.state
        alarm.state, alarm.reason, alarm.reason_data = state, reason, reason_data
        alarm.changed = kernel.clock.now()
        self._keep_in_moto(alarm)
        span = kernel.trace.record(
            "alarm",
            f"alarm:{alarm.name}",
            "cloudwatch",
            f"{old} -> {state}",
            at=kernel.clock.elapsed(),
            parent=cause,
            outcome=state,
            reason=reason,
        )
        detail = {
            "alarmName": alarm.name,
            "state": alarm.snapshot(),
            "previousState": previous,
            "configuration": alarm.configuration(),
        }
        entry = {
            "Source": "aws.cloudwatch",
            "DetailType": "CloudWatch Alarm State Change",
            "Detail": json.dumps(detail),
            "Resources": [alarm.arn],
        }
        kernel.service("events").put(entry, str(uuid.uuid4()), source=f"alarm:{alarm.name}", parent=span.id)
        if alarm.actions_enabled:
            for action in alarm.actions.get(ACTION_KEYS[state], []):
                self._act(alarm, action, old, detail, span.id)
        for other in list(self.alarms.values()):
            if other.rule is not None and (alarm.name in other.rule.alarms or alarm.arn in other.rule.alarms):
                self.evaluate_composite(other, span.id)

    def _act(self, alarm: Alarm, action: str, old: str, detail: dict[str, Any], cause: int) -> None:
        kernel = self.kernel
        label = f"alarm:{alarm.name}"
        if service_of(action) == "lambda":
            payload = {
                "source": "aws.cloudwatch",
                "alarmArn": alarm.arn,
                "accountId": kernel.account,
                "time": detail["state"]["timestamp"],
                "region": kernel.region,
                "alarmData": detail,
            }
            sender, body, options = Sender(LAMBDA_PRINCIPAL, alarm.arn, label), json.dumps(payload), {}
        else:
            # CloudWatch publishes to a topic of its own account with the account's authority: the
            # default topic policy (``AWS:SourceOwner``) needs no statement for it.
            owner = service_role(kernel, SNS_PRINCIPAL)
            sender = Sender(SNS_PRINCIPAL, alarm.arn, label, role_arn=owner)
            body = json.dumps(self._sns_message(alarm, old))
            options = {"Subject": f'{alarm.state}: "{alarm.name}" in {kernel.region}'[:100]}
        Delivery(
            kernel,
            sender,
            action,
            body,
            policy=RetryPolicy(),
            what=f"{alarm.state} of {alarm.name}",
            cause=cause,
            options=options,
        ).start()

    def _sns_message(self, alarm: Alarm, old: str) -> dict[str, Any]:
        """The JSON message CloudWatch publishes to an alarm's topics."""
        message: dict[str, Any] = {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": self.kernel.account,
            "AlarmConfigurationUpdatedTimestamp": stamp(alarm.updated or self.kernel.clock.now()),
            "NewStateValue": alarm.state,
            "NewStateReason": alarm.reason,
            "StateChangeTime": alarm.snapshot()["timestamp"],
            "Region": self.kernel.region,
            "AlarmArn": alarm.arn,
            "OldStateValue": old,
            "OKActions": alarm.actions.get("OKActions", []),
            "AlarmActions": alarm.actions.get("AlarmActions", []),
            "InsufficientDataActions": alarm.actions.get("InsufficientDataActions", []),
        }
        if alarm.rule is not None:
            message["AlarmRule"] = alarm.rule.text
            return message
        trigger: dict[str, Any] = {
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm,
            "ComparisonOperator": alarm.comparison,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing,
            "EvaluateLowSampleCountPercentile": "",
        }
        if alarm.single:
            query = alarm.queries[0]
            extended = not (query.stat or "")[:1].isupper()
            trigger = {
                "MetricName": query.name,
                "Namespace": query.namespace,
                "StatisticType": "ExtendedStatistic" if extended else "Statistic",
                ("ExtendedStatistic" if extended else "Statistic"): query.stat
                if extended
                else (query.stat or "").upper(),
                "Unit": query.unit,
                "Dimensions": [{"value": v, "name": k} for k, v in query.dimensions.items()],
                **trigger,
            }
        else:
            trigger["Metrics"] = [q.configuration() for q in alarm.queries]
        message["Trigger"] = trigger
        return message

    def _keep_in_moto(self, alarm: Alarm) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        kept = cloudwatch_backends[self.kernel.account][self.kernel.region].alarms.get(alarm.name)
        if kept is not None:
            kept.update_state(alarm.reason, alarm.reason_data or "{}", alarm.state)

    # ------------------------------------------------------------------------------------ metrics

    def datapoints(
        self, namespace: str, name: str, dimensions: dict[str, str] | None = None
    ) -> list[Datapoint]:
        """Every datapoint of one metric, oldest first (what ``cloud.metrics`` answers)."""
        return self.kernel.metrics.datapoints(namespace, name, dimensions)

    def flush(self) -> None:
        """Copy into moto's store the datapoints it lacks (the services' own, EMF's), so an SDK read
        (``GetMetricStatistics``, ``GetMetricData``, ``ListMetrics``) sees what alarms see."""
        from moto.cloudwatch.models import cloudwatch_backends

        log = self.kernel.metrics.log
        if self.flushed == len(log):
            return
        backend = cloudwatch_backends[self.kernel.account][self.kernel.region]
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for (namespace, name, dimensions), point in log[self.flushed :]:
            if point.stored:
                continue
            datum: dict[str, Any] = {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions)],
                "Timestamp": point.timestamp.astimezone(UTC).replace(tzinfo=None),  # moto compares naive UTC
                "Unit": point.unit,
            }
            if point.statistics:
                count, total, low, high = point.statistics
                datum["StatisticValues"] = {
                    "SampleCount": count,
                    "Sum": total,
                    "Minimum": low,
                    "Maximum": high,
                }
            else:
                datum["Values"] = [v for v, _ in point.values]
                datum["Counts"] = [c for _, c in point.values]
            by_namespace.setdefault(namespace, []).append(datum)
        self.flushed = len(log)
        for namespace, data in by_namespace.items():
            backend.put_metric_data(namespace, data)
