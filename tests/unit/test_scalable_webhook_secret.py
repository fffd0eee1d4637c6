"""The receiver's cached signing secret on its own clock: how long a value is served without a read,
how often a mismatch or a failed read may read again, and where the grace after a failed read ends.

Each test drives ``CachedSecret`` with explicit times against a stubbed Secrets Manager client, so
every boundary is hit exactly and every read the cache makes is one the stub must have queued
(``assert_no_pending_responses`` and the stub's refusal of an unqueued call count the reads).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

pytestmark = pytest.mark.unit

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-signing"
T0 = 1_000_000.0
MAX_AGE, INTERVAL, GRACE = 300.0, 30.0, 900.0


@pytest.fixture(scope="module")
def signature():
    """The module alone: it reads nothing at import."""
    import importlib
    import sys

    from tests.unit.conftest import FUNCTIONS

    sys.path.insert(0, str(FUNCTIONS / "scalable_webhook"))
    sys.modules.pop("signature", None)
    try:
        yield importlib.import_module("signature")
    finally:
        sys.modules.pop("signature", None)
        sys.path.remove(str(FUNCTIONS / "scalable_webhook"))


@pytest.fixture
def secret(signature):
    """A cache whose reads answer what the test queues on ``secret.stub``, in order."""
    cached = signature.CachedSecret(ARN, max_age=MAX_AGE, refresh_interval=INTERVAL, grace=GRACE)
    cached._client = boto3.client("secretsmanager")
    with Stubber(cached._client) as stub:
        cached.stub = stub
        yield cached
        stub.assert_no_pending_responses()


def reads(secret, *values: str | None) -> None:
    """Queue one read per value: the string it answers, or a 500 for None."""
    for value in values:
        if value is None:
            secret.stub.add_client_error("get_secret_value", "InternalServiceError", http_status_code=500)
        else:
            secret.stub.add_response(
                "get_secret_value",
                {"ARN": ARN, "Name": "webhook-signing", "SecretString": value},
                {"SecretId": ARN},
            )


def test_a_value_is_served_unread_for_exactly_max_age_seconds_then_read_again(secret):
    reads(secret, "first")
    assert secret.get(T0) == b"first"
    assert secret.get(T0 + MAX_AGE) == b"first", "max_age seconds old: still fresh, no read"
    reads(secret, "second")
    assert secret.get(T0 + MAX_AGE + 0.001) == b"second"
    assert secret.get(T0 + MAX_AGE + 0.001 + MAX_AGE) == b"second", "the age counts from the new read"


def test_a_refresh_reads_again_only_once_the_interval_since_the_last_read_has_passed(secret):
    reads(secret, "first")
    secret.get(T0)
    assert secret.refresh(T0 + INTERVAL - 0.001) is False, "too soon: no read"
    reads(secret, "first")
    assert secret.refresh(T0 + INTERVAL) is False, "read at exactly the interval, but unchanged"
    reads(secret, "rotated")
    assert secret.refresh(T0 + 2 * INTERVAL) is True, "read again and changed"
    assert secret.get(T0 + 2 * INTERVAL) == b"rotated"
    assert secret.refresh(T0 + 2 * INTERVAL + 1) is False, "the interval runs from the last read"


def test_a_failed_read_serves_the_cached_value_and_is_retried_once_per_interval(secret):
    reads(secret, "first")
    secret.get(T0)
    stale_from = T0 + MAX_AGE + 1
    reads(secret, None)
    assert secret.get(stale_from) == b"first", "the read failed: the cached value serves"
    assert secret.get(stale_from + INTERVAL - 0.001) == b"first", "no retry within the interval"
    reads(secret, None)
    assert secret.get(stale_from + INTERVAL) == b"first", "retried at the interval, failed again"
    reads(secret, "second")
    assert secret.get(stale_from + 2 * INTERVAL) == b"second", "retried and read: fresh again"
    assert secret.get(stale_from + 2 * INTERVAL + MAX_AGE) == b"second", "no read while fresh"


def test_the_grace_after_max_age_ends_and_then_a_failed_read_is_unavailable(secret, signature):
    reads(secret, "first")
    secret.get(T0)
    reads(secret, None)
    assert secret.get(T0 + MAX_AGE + GRACE) == b"first", "the last moment of grace"
    reads(secret, None)
    with pytest.raises(signature.SecretUnavailable, match=f"^{ARN}: .*InternalServiceError"):
        secret.get(T0 + MAX_AGE + GRACE + 0.001)
    reads(secret, None)
    with pytest.raises(signature.SecretUnavailable):  # past grace every call reads: nothing to serve
        secret.get(T0 + MAX_AGE + GRACE + 0.002)


def test_a_first_read_that_fails_is_unavailable_and_a_refresh_reports_no_change(secret, signature):
    reads(secret, None)
    with pytest.raises(signature.SecretUnavailable, match=f"^{ARN}: "):
        secret.get(T0)
    assert secret.refresh(T0 + 1) is False, "tried a second ago: no read"
    reads(secret, None)
    assert secret.refresh(T0 + INTERVAL) is False, "read, failed: nothing changed"
    reads(secret, "first")
    assert secret.get(T0 + INTERVAL + 1) == b"first", "nothing cached: the next get reads at once"
