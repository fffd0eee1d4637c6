"""Request limits on the virtual clock: token buckets for the account, each stage's methods and each
usage plan's keys, and usage plans' quotas.

A bucket holds ``burst`` tokens and refills at ``rate`` per second; a request takes one or is
throttled (429). The account allows 10,000 requests per second with a burst of 5,000; a stage's
``MethodSettings`` limit each method (the ``/*`` setting is every method's default); a usage plan
limits each of its keys, and its per-method limits each key's use of that method.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from localcloud.lib.token_bucket import TokenBuckets
from localcloud.services.apigateway.model import Quota, Throttle


class Limits:
    """Every bucket and quota counter of one cloud's APIs."""

    def __init__(self) -> None:
        self._buckets = TokenBuckets()
        self._usage: dict[tuple[str, str, datetime], int] = {}

    def take(self, key: tuple[str, ...], throttle: Throttle, now: float) -> bool:
        return self._buckets.take(key, throttle.rate, throttle.burst, now)

    def use_quota(self, plan_id: str, key_id: str, quota: Quota, moment: datetime) -> bool:
        """Count one request against the key's quota in the current period; False when it is used up."""
        period = period_start(quota.period, moment)
        counter = (plan_id, key_id, period)
        used = self._usage.get(counter, 0)
        if used >= quota.limit:
            return False
        self._usage[counter] = used + 1
        return True


def period_start(period: str, moment: datetime) -> datetime:
    """When the quota period holding ``moment`` began (UTC): the day, the week from Monday, the month."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    if period == "MONTH":
        return day.replace(day=1)
    return day
