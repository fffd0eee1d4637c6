"""The pieces of CloudWatch that need no cloud: the alarm evaluator (M of N, each TreatMissingData
mode, statistics and percentiles), metric math, composite alarm rules and embedded metric format
extraction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from localcloud.core.metrics import Datapoint, Metrics
from localcloud.services.cloudwatch import expressions
from localcloud.services.cloudwatch.composite import RuleError, parse_rule
from localcloud.services.cloudwatch.evaluate import decide, statistic
from localcloud.services.cloudwatch.observe import extract

pytestmark = pytest.mark.localcloud

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MOMENTS = [T0 + timedelta(minutes=i) for i in range(5)]
X, G, _ = 5.0, 0.0, None  # breaching, good (not breaching), missing: against "greater than 1"


def state(values, treat="missing", to_alarm=3, periods=3, current="OK"):
    return decide(
        values, threshold=1, comparison="GreaterThanThreshold", datapoints_to_alarm=to_alarm,
        evaluation_periods=periods, treat_missing=treat, current=current,
    ).state  # fmt: skip


# ---------------------------------------------------------------------------------------- evaluation

MODES = ("missing", "ignore", "breaching", "notBreaching")
KEEP = None  # ignore: the alarm keeps its state


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([G, _, X, _, X], ("OK", "OK", "OK", "OK")),
        ([G, _, _, _, _], ("OK", "OK", "OK", "OK")),
        ([_, _, _, _, _], ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),
        ([G, X, X, _, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
        ([_, _, _, _, X], ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),
        ([X, _, _, _, _], ("ALARM", KEEP, "ALARM", "OK")),
    ],
)
def test_three_of_three_with_missing_data_decides_as_aws_documents(values, expected):
    """AWS's table for DatapointsToAlarm 3 of EvaluationPeriods 3, over a range of 5 (oldest first)."""
    assert tuple(state(values, mode) for mode in MODES) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([G, _, X, _, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
        ([G, G, X, G, X], ("ALARM", "ALARM", "ALARM", "ALARM")),
        ([G, _, X, _, _], ("OK", "OK", "ALARM", "OK")),
        ([_, _, _, _, G], ("OK", "OK", "ALARM", "OK")),
        ([_, _, _, _, X], ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),
    ],
)
def test_two_of_three_with_missing_data_decides_as_aws_documents(values, expected):
    """AWS's table for the M of N alarm 2 of 3, over a range of 5 (oldest first)."""
    assert tuple(state(values, mode, to_alarm=2) for mode in MODES) == expected


def test_m_of_n_counts_the_newest_values_present():
    assert state([X, G, X], to_alarm=2) == "ALARM"
    assert state([X, G, G], to_alarm=2) == "OK"
    assert state([X, X, G, G, G], to_alarm=2) == "OK", "the newest 3 of 5 present"
    decision = decide(
        [X, G, X], threshold=1, comparison="GreaterThanThreshold", datapoints_to_alarm=2, moments=MOMENTS[:3]
    )
    assert decision.reason.startswith(
        "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (01/01/26 00:00:00)"
    )
    assert "(minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition)" in decision.reason


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [
        ("GreaterThanThreshold", 1.0, False),
        ("GreaterThanOrEqualToThreshold", 1.0, True),
        ("LessThanThreshold", 1.0, False),
        ("LessThanOrEqualToThreshold", 1.0, True),
        ("LessThanThreshold", 0.5, True),
    ],
)
def test_comparison_operators_at_the_threshold(comparison, value, breaches):
    decided = decide([value], threshold=1, comparison=comparison, datapoints_to_alarm=1).state
    assert decided == ("ALARM" if breaches else "OK")


def test_statistics_over_values_counts_and_statistic_sets():
    points = [
        Datapoint(T0, values=((1.0, 1.0), (3.0, 2.0))),  # 1 once, 3 twice
        Datapoint(T0, statistics=(2.0, 10.0, 4.0, 6.0)),
    ]
    assert statistic(points, "SampleCount") == 5
    assert statistic(points, "Sum") == 17
    assert (statistic(points, "Minimum"), statistic(points, "Maximum")) == (1.0, 6.0)
    assert statistic(points, "Average") == 17 / 5
    assert statistic([], "Sum") is None, "a period without data is missing, not zero"


def test_percentiles_take_the_nearest_rank_of_raw_values_only():
    hundred = [Datapoint(T0, values=tuple((float(v), 1.0) for v in range(1, 101)))]
    assert (statistic(hundred, "p50"), statistic(hundred, "p99"), statistic(hundred, "p99.9")) == (
        50.0,
        99.0,
        100.0,
    )
    assert statistic([Datapoint(T0, statistics=(1.0, 5.0, 5.0, 5.0))], "p90") is None
    with pytest.raises(ValueError, match="tm90"):
        statistic(hundred, "tm90")


# ---------------------------------------------------------------------------------------- metric math


def evaluate(expression: str, series: dict) -> object:
    return expressions.evaluate(expressions.parse(expression), series, MOMENTS[:3])


def test_metric_math_aligns_series_on_their_timestamps():
    a = {MOMENTS[0]: 1.0, MOMENTS[1]: 2.0}
    b = {MOMENTS[1]: 4.0, MOMENTS[2]: 0.0}
    assert evaluate("a + b * 2", {"a": a, "b": b}) == {MOMENTS[1]: 10.0}, "a point both have"
    assert evaluate("a / b", {"a": {MOMENTS[2]: 1.0}, "b": b}) == {}, "division by zero: no point"
    assert evaluate("SUM([a, b])", {"a": a, "b": b}) == {MOMENTS[0]: 1.0, MOMENTS[1]: 6.0, MOMENTS[2]: 0.0}
    assert evaluate("MAX(a)", {"a": a}) == 2.0, "of one series: one number"
    assert evaluate("FILL(b, REPEAT)", {"b": {MOMENTS[0]: 3.0}}) == dict.fromkeys(MOMENTS[:3], 3.0)
    assert evaluate("IF(a > 1, a, 0)", {"a": a}) == {MOMENTS[0]: 0.0, MOMENTS[1]: 2.0}
    assert evaluate("-a + 1", {"a": a}) == {MOMENTS[0]: 0.0, MOMENTS[1]: -1.0}


def test_metric_math_refuses_what_it_cannot_evaluate():
    with pytest.raises(expressions.ExpressionError, match="ANOMALY_DETECTION_BAND"):
        expressions.parse("ANOMALY_DETECTION_BAND(m1, 2)")
    with pytest.raises(expressions.ExpressionError):
        expressions.parse("m1 +")
    assert expressions.referenced(expressions.parse("100 * (e1 + m2) / m1")) == {"e1", "m1", "m2"}


# ---------------------------------------------------------------------------------------- composite


def test_composite_rules_bind_not_then_and_then_or():
    rule = parse_rule('ALARM("a") OR ALARM(b) AND NOT OK(c)')
    assert rule.alarms == {"a", "b", "c"}
    states = {"a": "OK", "b": "ALARM", "c": "INSUFFICIENT_DATA"}
    assert rule.evaluate(states.get) is True
    assert rule.evaluate({**states, "c": "OK"}.get) is False
    assert parse_rule("(TRUE OR FALSE) AND INSUFFICIENT_DATA(a)").evaluate({"a": "OK"}.get) is False
    for broken in ('ALARM("a"', "ALARM(a) AND", "SOMETIMES(a)"):
        with pytest.raises(RuleError):
            parse_rule(broken)


# ---------------------------------------------------------------------------------------- EMF


def emf(**document) -> str:
    return json.dumps(document)


def test_emf_gives_one_metric_per_dimension_set_with_its_unit_and_timestamp():
    kernel = SimpleNamespace(metrics=Metrics(None))
    line = emf(
        _aws={
            "Timestamp": 1767225600123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"], ["service", "region"], []],
                    "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}],
                }
            ],
        },
        service="orders",
        region="eu",
        Latency=[10, 30],
    )
    assert extract(kernel, line) == 3
    for dimensions in ({"service": "orders"}, {"service": "orders", "region": "eu"}, {}):
        (point,) = kernel.metrics.datapoints("Shop", "Latency", dimensions)
        assert (point.sum, point.sample_count, point.unit) == (40.0, 2.0, "Milliseconds")
        assert point.timestamp == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        emf(
            _aws={
                "Timestamp": 1,
                "CloudWatchMetrics": [{"Namespace": "S", "Dimensions": [["d"]], "Metrics": [{"Name": "M"}]}],
            },
            d=7,
            M=1,
        ),
        emf(
            _aws={
                "Timestamp": 1,
                "CloudWatchMetrics": [{"Namespace": "S", "Dimensions": [[]], "Metrics": [{"Name": "M"}]}],
            },
            M="high",
        ),
        emf(
            _aws={
                "Timestamp": 1,
                "CloudWatchMetrics": [{"Namespace": "S", "Dimensions": [[]], "Metrics": [{"Name": "M"}]}],
            }
        ),
        emf(_aws={"CloudWatchMetrics": []}),
        emf(
            _aws={
                "Timestamp": 1,
                "CloudWatchMetrics": [{"Namespace": "S", "Dimensions": [[]], "Metrics": [{"Name": "M"}]}],
            },
            M=[1, float("inf")],
        ),
    ],
    ids=["not json", "dimension not a string", "value not a number", "no value", "no timestamp", "infinite"],
)
def test_a_line_that_breaks_the_specification_gives_no_metric(line):
    kernel = SimpleNamespace(metrics=Metrics(None))
    assert extract(kernel, line) == 0
    assert kernel.metrics.log == []
