"""How a metric alarm decides its state from the datapoints of its last periods: pure functions.

A period's value is its statistic over the datapoints whose timestamps fall in it (``Average``,
``Sum``, ``Minimum``, ``Maximum``, ``SampleCount``, or an extended ``pNN``/``pNN.N``), or missing.
The alarm looks at an evaluation range of ``EvaluationPeriods + 2`` periods (AWS retrieves more
than ``EvaluationPeriods``, "depending on the period"; its documented examples take 5 for 3) and
decides as :func:`decide` says.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from localcloud.core.metrics import Datapoint

STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?)$")
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")
EXTRA_PERIODS = 2
"""How many periods before ``EvaluationPeriods`` the evaluation range reaches back."""


def statistic(points: Sequence[Datapoint], stat: str) -> float | None:
    """``stat`` over ``points`` (one period's), or None when the period has no data."""
    if not points:
        return None
    if stat == "SampleCount":
        return sum(p.sample_count for p in points)
    if stat == "Sum":
        return sum(p.sum for p in points)
    if stat == "Minimum":
        return min(p.minimum for p in points)
    if stat == "Maximum":
        return max(p.maximum for p in points)
    if stat == "Average":
        count = sum(p.sample_count for p in points)
        return sum(p.sum for p in points) / count if count else None
    match = PERCENTILE.match(stat)
    if match is None:
        raise ValueError(f"statistic {stat!r} is not one of {', '.join(STATISTICS)} or pNN")
    return percentile([pair for p in points for pair in p.values], float(match.group(1)))


def percentile(weighted: Sequence[tuple[float, float]], rank: float) -> float | None:
    """The nearest-rank percentile of values with counts; None without raw values (a statistic
    set has none, so CloudWatch has no percentile of it)."""
    total = sum(count for _, count in weighted)
    if not total:
        return None
    wanted = max(1.0, math.ceil(rank / 100 * total))
    seen = 0.0
    for value, count in sorted(weighted):
        seen += count
        if seen >= wanted:
            return value
    return max(value for value, _ in weighted)


@dataclass(frozen=True)
class Decision:
    state: str | None
    """The new state, or None: keep the current one (``ignore`` with no data)."""
    reason: str
    breaching: int
    evaluated: int


def decide(
    values: Sequence[float | None],
    *,
    threshold: float,
    comparison: str,
    datapoints_to_alarm: int,
    evaluation_periods: int | None = None,
    treat_missing: str = "missing",
    moments: Sequence[datetime] | None = None,
    current: str = "INSUFFICIENT_DATA",
) -> Decision:
    """The state the evaluation range ``values`` (oldest first, one per period, None when missing)
    puts the alarm in, as AWS documents it ("Configuring how CloudWatch alarms treat missing data"):

    - at least ``evaluation_periods`` values present: the newest that many decide, missing ones
      not needed;
    - fewer: ``breaching``/``notBreaching`` fill the gap with as few such points as needed;
      ``missing``/``ignore`` judge the values present: ``ALARM`` with ``datapoints_to_alarm``
      breaching, ``OK`` with any not breaching, else (only breaching values, too few)
      ``INSUFFICIENT_DATA`` or the current state, but for ``missing`` ``ALARM`` when the oldest
      value of the range is one of them;
    - none: ``INSUFFICIENT_DATA``, the current state, ``ALARM`` or ``OK``.
    """
    compare, words = COMPARISONS[comparison]
    if treat_missing not in TREAT_MISSING:
        raise ValueError(f"TreatMissingData {treat_missing!r} is not one of {', '.join(TREAT_MISSING)}")
    n = evaluation_periods or len(values)
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(present) >= n:
        evaluated = present[-n:]
    elif treat_missing in ("breaching", "notBreaching"):
        evaluated = present + [(None, None)] * (n - len(present))
    else:
        evaluated = present
    breaching = sum(
        1
        for _, v in evaluated
        if (v is None and treat_missing == "breaching") or (v is not None and compare(v, threshold))
    )
    if breaching >= datapoints_to_alarm:
        state: str | None = "ALARM"
    elif len(evaluated) == n or any(v is not None and not compare(v, threshold) for _, v in evaluated):
        state = "OK"
    elif treat_missing == "missing" and present and present[0][0] == 0:
        state = "ALARM"  # AWS's documented case: the range's oldest value breaches, none does not
    else:
        state = "INSUFFICIENT_DATA" if treat_missing == "missing" else None
    if state is None or state == "INSUFFICIENT_DATA":
        unknown = f"{len(values) - len(present)} datapoint{'s were' if len(values) - len(present) != 1 else ' was'} unknown."
        reason = f"Insufficient Data: {unknown}" + (" (treated as ignore)" if state is None else "")
        return Decision(state, reason, breaching, len(present))
    shown = [
        f"{v} ({moments[i]:%d/%m/%y %H:%M:%S})" if moments and i is not None else str(v)
        for i, v in evaluated
        if v is not None
    ]
    counted = breaching if state == "ALARM" else n - breaching
    verb = "was" if state == "ALARM" else "was not"
    transition = f"{current} -> {state}"
    reason = (
        f"Threshold Crossed: {counted} out of the last {n} datapoints [{', '.join(shown)}] {verb} "
        f"{words} the threshold ({float(threshold)}) (minimum {datapoints_to_alarm} datapoint"
        f"{'s' if datapoints_to_alarm != 1 else ''} for {transition} transition)."
    )
    return Decision(state, reason, breaching, len(present))
