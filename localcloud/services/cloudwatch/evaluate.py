"""How a metric alarm decides its state from the datapoints of its last periods: pure functions.

A period's value is its statistic over the datapoints whose timestamps fall in it (``Average``,
``Sum``, ``Minimum``, ``Maximum``, ``SampleCount``, or an extended ``pNN``/``pNN.N``), or missing.
The last ``EvaluationPeriods`` values are compared with the threshold; the alarm is ``ALARM`` when
at least ``DatapointsToAlarm`` of them breach, else ``OK``. Missing values follow
``TreatMissingData``: ``breaching`` and ``notBreaching`` count them as such; with ``missing`` an
alarm whose every value is missing goes to ``INSUFFICIENT_DATA``, with ``ignore`` it keeps its
state, and otherwise both judge by the values present (AWS looks further back for them; the local
cloud does not).
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
    treat_missing: str = "missing",
    moments: Sequence[datetime] | None = None,
    current: str = "INSUFFICIENT_DATA",
) -> Decision:
    """The state ``values`` (oldest first, one per period, None when missing) put the alarm in."""
    compare, words = COMPARISONS[comparison]
    if treat_missing not in TREAT_MISSING:
        raise ValueError(f"TreatMissingData {treat_missing!r} is not one of {', '.join(TREAT_MISSING)}")
    present = [v for v in values if v is not None]
    n = len(values)
    if not present and treat_missing in ("missing", "ignore"):
        unknown = f"{n} datapoint{'s were' if n != 1 else ' was'} unknown."
        if treat_missing == "ignore":
            return Decision(None, f"Insufficient Data: {unknown} (treated as ignore)", 0, 0)
        return Decision("INSUFFICIENT_DATA", f"Insufficient Data: {unknown}", 0, 0)
    breaching = sum(
        1
        for v in values
        if (v is None and treat_missing == "breaching") or (v is not None and compare(v, threshold))
    )
    state = "ALARM" if breaching >= datapoints_to_alarm else "OK"
    shown = [
        f"{v} ({moments[i]:%d/%m/%y %H:%M:%S})" if moments else str(v)
        for i, v in enumerate(values)
        if v is not None
    ]
    counted = breaching if state == "ALARM" else n - breaching
    verb = "was" if state == "ALARM" else "was not"
    transition = f"{current} -> {state}" if current != state else f"{state} -> {state}"
    reason = (
        f"Threshold Crossed: {counted} out of the last {n} datapoints [{', '.join(shown)}] {verb} "
        f"{words} the threshold ({float(threshold)}) (minimum {datapoints_to_alarm} datapoint"
        f"{'s' if datapoints_to_alarm != 1 else ''} for {transition} transition)."
    )
    return Decision(state, reason, breaching, len(present))
