"""``AWS::CloudWatch::Alarm`` and ``AWS::CloudWatch::CompositeAlarm``: checked as CloudWatch checks
them at ``PutMetricAlarm``, kept in moto (so ``DescribeAlarms`` answers) and evaluated by the local
cloud. What is not modelled (anomaly detection bands, actions other than SNS and Lambda, action
suppressors, ``EvaluateLowSampleCountPercentile: ignore``) stops the stack, naming it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.core.targets import service_of
from localcloud.errors import TemplateError, Unsupported
from localcloud.services.cloudwatch import expressions
from localcloud.services.cloudwatch.alarms import ACTION_KEYS, Alarm, CloudWatch, Query
from localcloud.services.cloudwatch.composite import RuleError, parse_rule
from localcloud.services.cloudwatch.evaluate import COMPARISONS, PERCENTILE, STATISTICS, TREAT_MISSING

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

_COMMON = {"AlarmName", "AlarmDescription", "ActionsEnabled", *ACTION_KEYS.values(), "Tags"}
_METRIC = _COMMON | {
    "MetricName",
    "Namespace",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
    "EvaluateLowSampleCountPercentile",
    "ThresholdMetricId",
}
_COMPOSITE = _COMMON | {"AlarmRule"}
_ANOMALY = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")


def _invalid(logical_id: str, message: str) -> TemplateError:
    """What CloudFormation reports when PutMetricAlarm refuses the alarm (a ValidationError)."""
    return TemplateError(f"{logical_id}: ValidationError: {message}")


def _period(logical_id: str, value: Any, where: str) -> int:
    period = int(value)
    if period not in (10, 20, 30) and (period < 60 or period % 60):
        raise _invalid(logical_id, f"{where} must be 10, 20, 30 or a multiple of 60 (got {period})")
    return period


def _actions(logical_id: str, props: dict[str, Any]) -> dict[str, list[str]]:
    actions = {key: list(props.get(key) or []) for key in ACTION_KEYS.values()}
    allowed = ("sns", "lambda")
    for key, arns in actions.items():
        for arn in arns:
            if service_of(arn) not in allowed:
                raise Unsupported(
                    logical_id, f"{key} {arn}", f"only {' and '.join(allowed)} actions run offline"
                )
    return actions


def _stat(logical_id: str, stat: str, where: str) -> str:
    if stat not in STATISTICS and not PERCENTILE.match(stat):
        raise Unsupported(logical_id, f"{where} {stat}", f"supported: {', '.join(STATISTICS)} and pNN")
    return stat


def _dimensions(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {d["Name"]: str(d["Value"]) for d in items or []}


def _queries(logical_id: str, metrics: list[dict[str, Any]]) -> list[Query]:
    queries = []
    for entry in metrics:
        stat = entry.get("MetricStat")
        if (stat is None) == (entry.get("Expression") is None):
            raise _invalid(logical_id, f"Metrics {entry.get('Id')}: exactly one of MetricStat and Expression")
        return_data = str(entry.get("ReturnData", "true")).lower() == "true"
        if stat is not None:
            metric = stat["Metric"]
            queries.append(
                Query(
                    entry["Id"],
                    metric["Namespace"],
                    metric["MetricName"],
                    _dimensions(metric.get("Dimensions")),
                    _period(logical_id, stat["Period"], f"Metrics {entry['Id']} Period"),
                    _stat(logical_id, stat["Stat"], f"Metrics {entry['Id']} Stat"),
                    stat.get("Unit"),
                    label=entry.get("Label"),
                    return_data=return_data,
                )
            )
        else:
            try:
                tree = expressions.parse(entry["Expression"])
            except expressions.ExpressionError as error:
                raise Unsupported(logical_id, f"Metrics {entry['Id']} Expression", str(error)) from None
            queries.append(
                Query(
                    entry["Id"],
                    expression=entry["Expression"],
                    tree=tree,
                    label=entry.get("Label"),
                    period=int(entry.get("Period", 60)),
                    return_data=return_data,
                )
            )
    returning = [q for q in queries if q.return_data]
    if len(returning) != 1:
        raise _invalid(logical_id, "Metrics: exactly one element of the metrics list should return data")
    known = {q.id for q in queries}
    for query in queries:
        if query.tree is not None and (unknown := expressions.referenced(query.tree) - known):
            raise _invalid(logical_id, f"Metrics {query.id}: unknown ids {', '.join(sorted(unknown))}")
    return queries


@provisions("AWS::CloudWatch::Alarm")
def alarm(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::CloudWatch::Alarm", props, _METRIC)
    comparison = props["ComparisonOperator"]
    if comparison in _ANOMALY or "ThresholdMetricId" in props:
        raise Unsupported(logical_id, f"ComparisonOperator {comparison}", "anomaly detection is not modelled")
    if comparison not in COMPARISONS:
        raise _invalid(logical_id, f"ComparisonOperator {comparison} is not one of {', '.join(COMPARISONS)}")
    if str(props.get("EvaluateLowSampleCountPercentile", "evaluate")) != "evaluate":
        raise Unsupported(logical_id, "EvaluateLowSampleCountPercentile ignore")
    treat = props.get("TreatMissingData", "missing")
    if treat not in TREAT_MISSING:
        raise _invalid(logical_id, f"TreatMissingData {treat} is not one of {', '.join(TREAT_MISSING)}")
    evaluation = int(props["EvaluationPeriods"])
    to_alarm = int(props.get("DatapointsToAlarm", evaluation))
    if not 1 <= to_alarm <= evaluation:
        raise _invalid(logical_id, "DatapointsToAlarm must be between 1 and EvaluationPeriods")
    if "Metrics" in props:
        if any(
            key in props
            for key in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period")
        ):
            raise _invalid(
                logical_id, "Metrics cannot be given with MetricName, Namespace, Statistic or Period"
            )
        queries = _queries(logical_id, props["Metrics"])
        period = next((q.period for q in queries if q.expression is None), 60)
        single = False
    else:
        if ("Statistic" in props) == ("ExtendedStatistic" in props):
            raise _invalid(logical_id, "exactly one of Statistic and ExtendedStatistic must be given")
        stat = _stat(logical_id, props.get("Statistic") or props["ExtendedStatistic"], "Statistic")
        period = _period(logical_id, props["Period"], "Period")
        queries = [
            Query(
                cloud.short_id(logical_id, 8),
                props["Namespace"],
                props["MetricName"],
                _dimensions(props.get("Dimensions")),
                period,
                stat,
                props.get("Unit"),
            )
        ]
        single = True
    name = props.get("AlarmName") or cloud.physical_name(logical_id, 255)
    arn = f"arn:{cloud.partition}:cloudwatch:{cloud.region}:{cloud.account}:alarm:{name}"
    kept = Alarm(
        name,
        arn,
        props.get("AlarmDescription"),
        _actions(logical_id, props),
        actions_enabled=str(props.get("ActionsEnabled", "true")).lower() == "true",
        queries=queries,
        period=period,
        evaluation_periods=evaluation,
        datapoints_to_alarm=to_alarm,
        threshold=float(props["Threshold"]),
        comparison=comparison,
        treat_missing=treat,
        single=single,
    )
    _to_moto(cloud, kept)
    _state(cloud).add(kept)
    return Provisioned(name, {"Arn": arn})


@provisions("AWS::CloudWatch::CompositeAlarm")
def composite_alarm(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(logical_id, "AWS::CloudWatch::CompositeAlarm", props, _COMPOSITE)
    try:
        rule = parse_rule(props["AlarmRule"])
    except RuleError as error:
        raise _invalid(logical_id, str(error)) from None
    state = _state(cloud)
    for named in rule.alarms:
        if named.split(":alarm:", 1)[-1] not in state.alarms:
            raise _invalid(logical_id, f"AlarmRule names {named}, which is not an alarm of the stack")
    name = props.get("AlarmName") or cloud.physical_name(logical_id, 255)
    arn = f"arn:{cloud.partition}:cloudwatch:{cloud.region}:{cloud.account}:alarm:{name}"
    kept = Alarm(
        name,
        arn,
        props.get("AlarmDescription"),
        _actions(logical_id, props),
        actions_enabled=str(props.get("ActionsEnabled", "true")).lower() == "true",
        rule=rule,
    )
    _to_moto(cloud, kept)
    state.add(kept)
    return Provisioned(name, {"Arn": arn})


def _to_moto(cloud: Kernel, alarm: Alarm) -> None:
    """The alarm in moto's store, for DescribeAlarms; the local cloud keeps its state in step."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[cloud.account][cloud.region]
    query = alarm.queries[0] if alarm.single and alarm.queries else None
    extended = query is not None and not (query.stat or "")[:1].isupper()
    backend.put_metric_alarm(
        name=alarm.name,
        namespace=query.namespace if query else None,
        metric_name=query.name if query else None,
        comparison_operator=alarm.comparison if not alarm.composite else None,
        evaluation_periods=alarm.evaluation_periods,
        period=alarm.period,
        threshold=alarm.threshold,
        statistic=query.stat if query and not extended else None,
        extended_statistic=query.stat if extended else None,
        description=alarm.description,
        dimensions=[{"Name": k, "Value": v} for k, v in (query.dimensions if query else {}).items()],
        alarm_actions=alarm.actions["AlarmActions"],
        ok_actions=alarm.actions["OKActions"],
        insufficient_data_actions=alarm.actions["InsufficientDataActions"],
        datapoints_to_alarm=alarm.datapoints_to_alarm,
        unit=query.unit if query else None,
        actions_enabled=alarm.actions_enabled,
        treat_missing_data=alarm.treat_missing,
        rule=alarm.rule.text if alarm.rule else None,
    )


def _state(cloud: Kernel) -> CloudWatch:
    return cloud.service("cloudwatch")
