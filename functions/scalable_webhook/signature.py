"""Who sent this webhook: an HMAC-SHA256 signature over ``<timestamp>.<raw body>``, and a fresh timestamp.

The sender and this function share a secret (in Secrets Manager). The sender puts the Unix time in
``X-Webhook-Timestamp`` and ``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`` in
``X-Webhook-Signature`` (Stripe's scheme, with GitHub's header format). Signing the timestamp with
the body means a captured call cannot be replayed once the timestamp is older than the tolerance.
The secret is read on first use, not at import, and kept for ``max_age`` seconds; a call that
does not match reads it again sooner (see :class:`CachedSecret`), so a rotated secret takes effect
within seconds without a read per webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class SignatureRejected(Exception):
    """The call is not from the secret's holder, or is too old; ``str(error)`` names the header."""


class SecretUnavailable(Exception):
    """Secrets Manager could not be read and no cached value is recent enough to use instead."""


def expected_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """What a sender holding ``secret`` puts in the signature header (without its prefix)."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_headers(
    *, signature: str | None, timestamp: str | None, now: float, contract: dict[str, Any], tolerance: int
) -> None:
    """Raise :class:`SignatureRejected` unless both headers are present, well-formed and fresh:
    what can be checked without the secret, so a call that cannot be genuine costs no read of it."""
    signature_header, timestamp_header, prefix = (
        contract["signature_header"],
        contract["timestamp_header"],
        contract["prefix"],
    )
    if not signature:
        raise SignatureRejected(f"{signature_header}: required")
    if not signature.startswith(prefix) or not _DIGEST.fullmatch(signature[len(prefix) :]):
        raise SignatureRejected(f"{signature_header}: expected {prefix}<64 lower-case hex digits>")
    if not timestamp:
        raise SignatureRejected(f"{timestamp_header}: required")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureRejected(f"{timestamp_header}: expected Unix time in seconds")
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureRejected(f"{timestamp_header}: more than {tolerance} s from now")


def verify(*, body: bytes, signature: str, timestamp: str, secret: bytes, contract: dict[str, Any]) -> None:
    """Raise :class:`SignatureRejected` unless ``signature`` signs ``timestamp`` and ``body`` with
    ``secret``; run :func:`check_headers` first."""
    expected = (contract["prefix"] + expected_signature(secret, timestamp, body)).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
        raise SignatureRejected(f"{contract['signature_header']}: does not match the body")


class CachedSecret:
    """A Secrets Manager string, fetched on first use and again after ``max_age`` seconds.

    :meth:`refresh` reads it early when a call does not match, at most once per
    ``refresh_interval``, so a rotated secret takes effect within seconds while forged calls cannot
    make a read each. When a read fails, the last value serves until ``grace`` seconds past its
    ``max_age``, and the read is retried at most once per ``refresh_interval`` meanwhile.
    """

    def __init__(
        self, secret_id: str, max_age: float, *, refresh_interval: float = 30.0, grace: float = 900.0
    ) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self.refresh_interval = refresh_interval
        self.grace = grace
        self._client: Any = None
        self._value: bytes | None = None
        self._fetched_at = 0.0
        self._attempted_at = float("-inf")

    def get(self, now: float) -> bytes:
        """The value; raises :class:`SecretUnavailable` when it cannot be read nor served stale."""
        if self._value is not None and (
            now - self._fetched_at <= self.max_age
            or (self._usable_stale(now) and now - self._attempted_at < self.refresh_interval)
        ):
            return self._value
        return self._fetch(now)

    def refresh(self, now: float) -> bool:
        """Read the secret again unless it was tried within ``refresh_interval``; True if it changed."""
        if now - self._attempted_at < self.refresh_interval:
            return False
        before = self._value
        try:
            self._fetch(now)
        except SecretUnavailable:
            return False
        return self._value != before

    def _usable_stale(self, now: float) -> bool:
        return self._value is not None and now - self._fetched_at <= self.max_age + self.grace

    def _fetch(self, now: float) -> bytes:
        import boto3  # here, not at import: the first webhook pays for it, not every cold start
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = boto3.client("secretsmanager")
        self._attempted_at = now
        try:
            secret = self._client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        except (BotoCoreError, ClientError) as error:
            from shared.observability import logger

            stale = self._usable_stale(now)
            logger.warning(
                "could not read the signing secret",
                extra={"error": repr(error), "serving_cached_value": stale},
            )
            if stale and self._value is not None:
                return self._value
            raise SecretUnavailable(f"{self.secret_id}: {error}") from error
        self._value, self._fetched_at = secret.encode("utf-8"), now
        return self._value
