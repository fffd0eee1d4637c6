"""SNS's delivery policy for its AWS managed endpoints (SQS queues and Lambda functions).

A server-side error (the endpoint throttled, or failed inside) is retried on a fixed schedule that a
subscription cannot change for these protocols: 3 retries at once, 2 one second apart, 10 backing
off exponentially from 1 to 20 seconds, then 100,000 twenty seconds apart: 100,015 retries over
about 23 days. Then the message goes to the subscription's dead-letter queue, or is lost. A
client-side error (the endpoint's policy or key refuses SNS, the endpoint is gone) is never retried.
"""

from __future__ import annotations

from collections.abc import Iterator

IMMEDIATE_RETRIES = 3
PRE_BACKOFF_RETRIES, PRE_BACKOFF_DELAY = 2, 1.0
BACKOFF_RETRIES, MIN_DELAY, MAX_DELAY = 10, 1.0, 20.0
POST_BACKOFF_RETRIES = 100_000


def managed_delays() -> Iterator[float]:
    """The delay before each retry of the AWS managed delivery policy, in seconds, in order."""
    yield from [0.0] * IMMEDIATE_RETRIES
    yield from [PRE_BACKOFF_DELAY] * PRE_BACKOFF_RETRIES
    ratio = MAX_DELAY / MIN_DELAY
    for step in range(BACKOFF_RETRIES):
        yield round(MIN_DELAY * ratio ** (step / (BACKOFF_RETRIES - 1)), 3)
    for _ in range(POST_BACKOFF_RETRIES):
        yield MAX_DELAY
