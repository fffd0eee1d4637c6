"""Token buckets on the virtual clock: how API Gateway throttles, by rate and burst.

A bucket holds ``burst`` tokens and refills at ``rate`` per second; a request takes one or is
throttled. ``now`` is seconds on the cloud's clock (``clock.elapsed()``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

#: What API Gateway allows an account in a region before any stage or usage plan limit, REST and
#: HTTP APIs alike: 10,000 requests per second with a burst of 5,000.
ACCOUNT_RATE_LIMIT = 10_000.0
ACCOUNT_BURST_LIMIT = 5_000


@dataclass
class TokenBucket:
    rate: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        """Take a token for one request at ``now``; False when none is left."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class TokenBuckets:
    """Buckets by key, each created full on first use (and anew when its limits change)."""

    def __init__(self) -> None:
        self._buckets: dict[Hashable, TokenBucket] = {}

    def take(self, key: Hashable, rate: float, burst: int, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            bucket = self._buckets[key] = TokenBucket(rate, burst, float(burst), now)
        return bucket.take(now)

    def take_api_gateway_account(self, now: float) -> bool:
        """One request against the account's API Gateway limit, which REST, HTTP and WebSocket APIs
        share (AWS counts it per account and region): use the kernel's ``account_limits``."""
        return self.take(("apigateway", "account"), ACCOUNT_RATE_LIMIT, ACCOUNT_BURST_LIMIT, now)
