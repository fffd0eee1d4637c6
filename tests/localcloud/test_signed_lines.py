"""A signed route's printed "Try:" line signs in the shell exactly what curl sends: whatever the
secret, the body or the signed message's template hold, bash and openssl compute the HMAC a
receiver computes over the timestamp the line sends."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess

import pytest

from localcloud.signed_lines import signed_curl

pytestmark = pytest.mark.localcloud

#: A shell function standing in for curl: its arguments, each ended by a NUL, on stdout.
CURL_ARGUMENTS = 'curl() { printf "%s\\0" "$@"; }\n'
WEBHOOK = {"X-Webhook-Timestamp": "{timestamp}", "X-Webhook-Signature": "sha256={signature}"}


def sent(line: str) -> tuple[dict[str, str], str]:
    """The headers and body curl would send for ``line``, run as bash runs it."""
    done = subprocess.run(  # noqa: S603 - the line under test, run as a person would paste it
        [shutil.which("bash") or "bash", "-c", CURL_ARGUMENTS + line],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    assert not done.stderr, done.stderr.decode()
    words = done.stdout.decode().split("\0")[:-1]
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    return headers, words[words.index("-d") + 1]


@pytest.mark.parametrize(
    ("secret", "body", "message", "digest"),
    [
        ("plain", '{"id": "x"}', "{timestamp}.{body}", "sha256"),
        ('it\'s $HOME `id` \\ "q"', '{"name": "it\'s $HOME `id`"}', "{timestamp}.{body}", "sha256"),
        ("s3cret", '{"a": 1}', 'v0:"{timestamp}":$x\\{body}', "sha256"),
        ("s3cret", "{}", "{body}", "sha1"),
    ],
    ids=["webhook", "shell-characters", "odd-template", "sha1"],
)
def test_the_line_signs_the_body_it_sends_with_the_secret(secret, body, message, digest):
    spec = {"digest": digest, "secret": secret, "message": message, "headers": WEBHOOK}
    headers, sent_body = sent(
        signed_curl(spec, "curl -i -X POST http://127.0.0.1:4580/prod/hooks", "application/json", body)
    )
    assert sent_body == body
    timestamp = headers["X-Webhook-Timestamp"]
    assert timestamp.isdigit()
    signed = message.replace("{timestamp}", timestamp).replace("{body}", body)
    expected = hmac.new(secret.encode(), signed.encode(), getattr(hashlib, digest)).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={expected}"
    assert headers["Content-Type"] == "application/json"
