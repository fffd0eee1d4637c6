"""Schedule expressions of EventBridge rules and EventBridge Scheduler, fired on the virtual clock.

Supported:

- ``rate(N minute|minutes|hour|hours|day|days)``: the first firing one period after the schedule
  starts (its creation, or Scheduler's ``StartDate``), then every period;
- ``cron(minutes hours day-of-month month day-of-week year)`` with ``*``, ``?``, numbers, names
  (``JAN``-``DEC``, ``SUN``-``SAT``; day 1 is Sunday), lists, ranges and steps (``0/15``, ``*/5``,
  ``10-50/20``), in UTC or in Scheduler's ``ScheduleExpressionTimezone``;
- ``at(yyyy-mm-ddThh:mm:ss)`` (Scheduler): once.

Not supported, and a clear error: ``L``, ``W`` and ``#`` in cron fields, and ranges that wrap
(``FRI-MON``). A flexible time window fires at its start.

A schedule never finishes, so it does not keep :meth:`LocalCloud.drain` busy: drain delivers what is
in flight without moving time to the next firing (a firing that falls due on the way still fires);
:meth:`LocalCloud.advance` fires every occurrence it passes, each at its own time.

Example::

    Schedule(cloud.clock, parse("rate(5 minutes)"), fire=lambda moment: ...)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from localcloud.errors import LocalCloudError


class Clock(Protocol):
    """What a schedule reads of the virtual clock (:class:`localcloud.core.clock.VirtualClock`)."""

    def now(self) -> datetime: ...


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: How far ahead a cron expression is searched for its next match.
_HORIZON_DAYS = 366 * 8


class Expression:
    def first(self, start: datetime) -> datetime | None:
        """The first firing of a schedule that starts at ``start``."""
        return self.after(start)

    def after(self, moment: datetime) -> datetime | None:
        """The next firing strictly after ``moment``, or None if there is none."""
        raise NotImplementedError


def parse(expression: str, timezone: str | None = None) -> Expression:
    """The schedule ``expression`` means; raises :class:`LocalCloudError` naming what is unsupported."""
    zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    text = expression.strip()
    if rate := _RATE.match(text):
        value, unit = int(rate[1]), rate[2].rstrip("s")
        if value <= 0:
            raise LocalCloudError(f"{expression}: the rate must be positive")
        return Rate(timedelta(seconds=value * _UNIT_SECONDS[unit]))
    if cron := _CRON.match(text):
        return Cron.parse(cron[1], zone, expression)
    if at := _AT.match(text):
        return At(datetime.fromisoformat(at[1]).replace(tzinfo=zone).astimezone(UTC))
    raise LocalCloudError(f"schedule expression {expression!r} is not rate(...), cron(...) or at(...)")


@dataclass(frozen=True)
class Rate(Expression):
    period: timedelta

    def after(self, moment: datetime) -> datetime | None:
        return moment + self.period


@dataclass(frozen=True)
class At(Expression):
    moment: datetime

    def first(self, start: datetime) -> datetime | None:
        return self.moment if self.moment >= start else None

    def after(self, moment: datetime) -> datetime | None:
        return None


@dataclass(frozen=True)
class Cron(Expression):
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int] | None
    """Days of the month; None for ``?``."""
    months: frozenset[int]
    weekdays: frozenset[int] | None
    """Days of the week, 1 (Sunday) to 7; None for ``?``."""
    years: frozenset[int]
    zone: tzinfo

    @classmethod
    def parse(cls, fields: str, zone: tzinfo, expression: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise LocalCloudError(
                f"{expression}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, day, month, weekday, year = parts
        if (day == "?") == (weekday == "?"):
            raise LocalCloudError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")

        def field(text: str, low: int, high: int, names: tuple[str, ...] = ()) -> frozenset[int]:
            return frozenset(_field(text, low, high, names, expression))

        return cls(
            minutes=tuple(sorted(field(minute, 0, 59))),
            hours=tuple(sorted(field(hour, 0, 23))),
            days=None if day == "?" else field(day, 1, 31),
            months=field(month, 1, 12, _MONTHS),
            weekdays=None if weekday == "?" else field(weekday, 1, 7, _DAYS),
            years=field(year, 1970, 2199),
            zone=zone,
        )

    def after(self, moment: datetime) -> datetime | None:
        start = (moment.astimezone(self.zone) + timedelta(minutes=1)).replace(second=0, microsecond=0)
        day = start.date()
        for _ in range(_HORIZON_DAYS):
            if self._runs_on(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = datetime.combine(day, time(hour, minute), tzinfo=self.zone)
                        if candidate >= start:
                            return candidate.astimezone(UTC)
            day += timedelta(days=1)
        return None

    def _runs_on(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7 + 1  # Python's Monday=0 as cron's Sunday=1
        return (
            day.year in self.years
            and day.month in self.months
            and (self.days is None or day.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )


def _field(text: str, low: int, high: int, names: tuple[str, ...], expression: str) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        step = _value(step_text, (), expression) if step_text else 1
        if span in ("*", "?"):
            first, last = low, high
        elif "-" in span:
            first, last = (_value(v, names, expression) for v in span.split("-", 1))
        else:
            first = _value(span, names, expression)
            last = high if step_text else first
        if not low <= first <= last <= high or step <= 0:
            raise LocalCloudError(f"{expression}: {item!r} is out of range {low}-{high} or wraps around")
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, names: tuple[str, ...], expression: str) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + 1
    if not text.isdigit():
        raise LocalCloudError(
            f"{expression}: {text!r} is not a number or a name (L, W and # are not supported)"
        )
    return int(text)


class Schedule:
    """A pollable that calls ``fire(moment)`` at each firing of ``expression``, between ``start``
    and ``end``."""

    schedule = True
    """Marks it for :meth:`LocalCloud.drain`, which does not wait for what never finishes."""

    def __init__(
        self,
        clock: Clock,
        expression: Expression,
        fire: Callable[[datetime], None],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        self.clock = clock
        self.expression = expression
        self.fire = fire
        self.end = end
        self.next = self._within(expression.first(max(start or clock.now(), clock.now())))

    def poll(self) -> bool:
        fired = False
        while self.next is not None and self.next <= self.clock.now():
            moment, self.next = self.next, self._within(self.expression.after(self.next))
            self.fire(moment)
            fired = True
        return fired

    def next_wakeup(self) -> datetime | None:
        return self.next

    def _within(self, moment: datetime | None) -> datetime | None:
        return None if moment is None or (self.end is not None and moment > self.end) else moment
