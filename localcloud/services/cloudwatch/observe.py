"""What reaches CloudWatch from outside its own API: ``PutMetricData`` (moto keeps it; the kernel's
sink gets it too, for alarms), ``SetAlarmState``, and the embedded metric format lines a function
logs, which CloudWatch turns into metrics as Lambda delivers them to CloudWatch Logs.

Embedded metric format (EMF): a log event that is a JSON object with ``_aws.CloudWatchMetrics``
gives, for each directive, each metric of ``Metrics`` (its value the root member of its name, a
number or a list of up to 100) under ``Namespace`` once per entry of ``Dimensions`` (each a
dimension set whose values are the root members of those names; an empty set is a metric without
dimensions), with its ``Unit`` and the ``_aws.Timestamp`` (milliseconds). A line that breaks the
specification (a dimension value that is not a string, a value that is not a number) produces no
metric, as CloudWatch drops it. Only what the Lambda service writes is read this way: a handler's own
``PutLogEvents`` needs the ``x-amzn-logs-format: json/emf`` header on AWS, which the local cloud
does not see.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.utils import parse_timestamp

from localcloud.core import hooks
from localcloud.core.service import observes
from localcloud.core.targets import service_role
from localcloud.errors import aws_error

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: How old and how far ahead PutMetricData takes a timestamp.
OLDEST = timedelta(days=14)
NEWEST = timedelta(hours=2)
MAX_EMF_VALUES = 100
#: PutMetricData's limits (API reference): metrics per request, values per ``Values`` array, and
#: the magnitude of a number (NaN and the infinities are refused too).
MAX_METRICS = 1000
MAX_VALUES = 150
LARGEST = 2.0**360


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_timestamp(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """Refuse what PutMetricData refuses and moto takes; before any read, give moto the datapoints
    the services reported, so it answers with them."""
    if operation == "PutMetricData":
        namespace = params.get("Namespace", "")
        if namespace.startswith("AWS/"):
            raise aws_error(
                "InvalidParameterValue",
                f"The value {namespace} for parameter Namespace is invalid: the AWS/ prefix is reserved",
                operation,
            )
        now = kernel.clock.now()
        data = params.get("MetricData", [])
        if len(data) > MAX_METRICS:
            raise aws_error(
                "InvalidParameterValue",
                f"The collection MetricData must not have a size greater than {MAX_METRICS}.",
                operation,
            )
        for index, datum in enumerate(data, start=1):
            _check_numbers(datum, index, operation)
            moment = _moment(datum.get("Timestamp"))
            if moment is not None and not now - OLDEST <= moment <= now + NEWEST:
                raise aws_error(
                    "InvalidParameterValue",
                    f"The parameter MetricData.member.{index}.Timestamp must specify a time no more than "
                    "two weeks in the past and no more than two hours in the future.",
                    operation,
                )
    elif operation.startswith(("Get", "List")):
        kernel.service("cloudwatch").flush()


def _check_numbers(datum: dict[str, Any], index: int, operation: str) -> None:
    """Refuse what CloudWatch cannot store: NaN, an infinity, a magnitude over 2^360, more than
    150 values in one ``Values`` array."""
    where = f"MetricData.member.{index}"
    values = datum.get("Values") or []
    if len(values) > MAX_VALUES:
        raise aws_error(
            "InvalidParameterValue",
            f"The collection {where}.Values must not have a size greater than {MAX_VALUES}.",
            operation,
        )
    numbers = [("Value", datum.get("Value"))]
    numbers += [(f"Values.member.{i}", v) for i, v in enumerate(values, start=1)]
    numbers += [(f"Counts.member.{i}", v) for i, v in enumerate(datum.get("Counts") or [], start=1)]
    numbers += [(f"StatisticValues.{k}", v) for k, v in (datum.get("StatisticValues") or {}).items()]
    for name, value in numbers:
        if value is not None and not -LARGEST <= float(value) <= LARGEST:
            raise aws_error(
                "InvalidParameterValue",
                f"The value {_spelled(float(value))} for parameter {where}.{name} is invalid.",
                operation,
            )


def _spelled(value: float) -> str:
    """A number as CloudWatch's messages spell it (``NaN``, ``Infinity``, ``-Infinity``)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


@observes("cloudwatch", "PutMetricData")
def metric_data_put(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    for datum in params.get("MetricData", []):
        statistics = datum.get("StatisticValues")
        kernel.metrics.put(
            params["Namespace"],
            datum["MetricName"],
            {d["Name"]: d["Value"] for d in datum.get("Dimensions", [])},
            datum.get("Value"),
            datum.get("Unit", "None"),
            _moment(datum.get("Timestamp")),
            values=datum.get("Values") or None,
            counts=datum.get("Counts") or None,
            statistics=(
                (statistics["SampleCount"], statistics["Sum"], statistics["Minimum"], statistics["Maximum"])
                if statistics
                else None
            ),
            stored=True,
        )


@observes("cloudwatch", "SetAlarmState")
def alarm_state_set(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    state = kernel.service("cloudwatch")
    alarm = state.alarms.get(params["AlarmName"])
    if alarm is None or alarm.state == params["StateValue"]:
        return
    _, parent = kernel.caller()
    state.change(
        alarm, params["StateValue"], params["StateReason"], params.get("StateReasonData"), cause=parent
    )


@observes("logs", "PutLogEvents")
def embedded_metrics(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    principal = hooks.principal()
    if principal is None or principal.role_arn != service_role(kernel, "lambda.amazonaws.com"):
        return
    for event in params.get("logEvents", []):
        message = event.get("message", "")
        if '"_aws"' in message:
            extract(kernel, message)


def extract(kernel: Kernel, line: str) -> int:
    """Put the metrics of one EMF line; return how many metric datapoints it gave."""
    try:
        document = json.loads(line)
        metadata = document["_aws"]
        moment = datetime.fromtimestamp(int(metadata["Timestamp"]) / 1000, UTC)
        directives = metadata["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return 0
    found: list[tuple[Any, ...]] = []
    for directive in directives if isinstance(directives, list) else []:
        try:
            namespace = directive["Namespace"]
            sets = [
                {name: _dimension(document[name]) for name in dimension_set}
                for dimension_set in directive["Dimensions"]
            ]
            for metric in directive["Metrics"]:
                values = _values(document[metric["Name"]])
                unit = metric.get("Unit", "None")
                found += [(namespace, metric["Name"], dims, values, unit) for dims in sets]
        except (KeyError, TypeError, ValueError):
            return 0
    for namespace, name, dims, values, unit in found:
        kernel.metrics.put(namespace, name, dims, unit=unit, timestamp=moment, values=values)
    return len(found)


def _dimension(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a dimension's value must be a string")
    return value


def _values(value: Any) -> list[float]:
    values = value if isinstance(value, list) else [value]
    if (
        not values
        or len(values) > MAX_EMF_VALUES
        or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and -LARGEST <= v <= LARGEST
            for v in values
        )
    ):
        raise ValueError("a metric's value must be a number or a list of up to 100 numbers")
    return [float(v) for v in values]


def _switch(kernel: Kernel, names: list[str], enabled: bool) -> None:
    alarms = kernel.service("cloudwatch").alarms
    for name in names:
        if name in alarms:
            alarms[name].actions_enabled = enabled


@observes("cloudwatch", "DisableAlarmActions")
def alarm_actions_disabled(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _switch(kernel, params.get("AlarmNames", []), False)


@observes("cloudwatch", "EnableAlarmActions")
def alarm_actions_enabled(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    _switch(kernel, params.get("AlarmNames", []), True)


@observes("cloudwatch", "DeleteAlarms")
def alarms_deleted(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    for name in params.get("AlarmNames", []):
        kernel.service("cloudwatch").delete(name)
