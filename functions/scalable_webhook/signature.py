"""Who sent this webhook: an HMAC-SHA256 signature over ``<timestamp>.<raw body>``, and a fresh timestamp.

The sender and this function share a secret (in Secrets Manager). The sender puts the Unix time in
``X-Webhook-Timestamp`` and ``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`` in
``X-Webhook-Signature`` (Stripe's scheme, with GitHub's header format). Signing the timestamp with
the body means a captured call cannot be replayed once the timestamp is older than the tolerance.
The secret is read on first use, not at import, and kept for ``max_age`` seconds, so a rotated
secret takes effect within that time without a read per webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any

_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class SignatureRejected(Exception):
    """The call is not from the secret's holder, or is too old; ``str(error)`` names the header."""


def expected_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """What a sender holding ``secret`` puts in the signature header (without its prefix)."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(
    *,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: bytes,
    now: float,
    contract: dict[str, Any],
    tolerance: int,
) -> None:
    """Raise :class:`SignatureRejected` unless the headers sign ``body`` with ``secret`` within ``tolerance``."""
    signature_header, timestamp_header = contract["signature_header"], contract["timestamp_header"]
    if not signature:
        raise SignatureRejected(f"{signature_header}: required")
    if not timestamp:
        raise SignatureRejected(f"{timestamp_header}: required")
    if not _TIMESTAMP.match(timestamp):
        raise SignatureRejected(f"{timestamp_header}: expected Unix time in seconds")
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureRejected(f"{timestamp_header}: more than {tolerance} s from now")
    expected = (contract["prefix"] + expected_signature(secret, timestamp, body)).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
        raise SignatureRejected(f"{signature_header}: does not match the body")


class CachedSecret:
    """A Secrets Manager string, fetched on first use and again after ``max_age`` seconds."""

    def __init__(self, secret_id: str, max_age: float) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self._client: Any = None
        self._value: bytes | None = None
        self._fetched_at = 0.0

    def get(self) -> bytes:
        now = time.time()
        if self._value is None or now - self._fetched_at > self.max_age:
            if self._client is None:
                import boto3

                self._client = boto3.client("secretsmanager")
            secret = self._client.get_secret_value(SecretId=self.secret_id)["SecretString"]
            self._value, self._fetched_at = secret.encode("utf-8"), now
        return self._value
