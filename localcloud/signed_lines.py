"""A ``Try:`` line for a route whose callers sign each request (a webhook's HMAC over a timestamp
and the body): the shell signs when the line is pasted, with the served stack's secret, so the
timestamp is fresh and the body signed is the one ``curl -d`` sends.

A REST API method says how its requests are signed in its template metadata, under
:data:`METADATA` (the receiver, not API Gateway, checks the signature, so nothing else in the
template says so)::

    {"algorithm": "HMAC-SHA256",
     "secret": {"Ref": "SigningSecret"},          # a Secrets Manager secret (its ARN or a Ref to it)
     "message": "{timestamp}.{body}",             # what is signed
     "headers": {"X-Webhook-Timestamp": "{timestamp}", "X-Webhook-Signature": "sha256={signature}"}}

``{timestamp}`` is Unix seconds when the line runs (``date +%s``), ``{body}`` the exact body sent,
``{signature}`` the lower-case hex digest (``openssl dgst``). The line::

    BODY='{...}'; TS=$(date +%s); SIG=$(printf '%s' "$TS.$BODY" | openssl dgst -sha256 -hmac '<secret>' | sed 's/^.* //'); curl ...
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

#: The metadata key of a method whose requests are signed.
METADATA = "localcloud:signed-request"
#: The digests ``openssl dgst`` computes, by the algorithm's name in the metadata.
DIGESTS = {"HMAC-SHA256": "sha256", "HMAC-SHA1": "sha1", "HMAC-SHA512": "sha512"}
#: What each placeholder is in the shell line.
_SHELL = {"timestamp": "$TS", "body": "$BODY", "signature": "$SIG"}
_PLACEHOLDER = re.compile(r"\{(timestamp|body|signature)\}")


def signing(cloud: LocalCloud, logical_id: str) -> dict[str, Any] | None:
    """How the method ``logical_id`` is signed, its secret's value resolved; None if it is not, or
    not in a way a line can sign (an algorithm, a secret or a field the line cannot use)."""
    resource = cloud.artifact.template.get("Resources", {}).get(logical_id, {})
    spec = resource.get("Metadata", {}).get(METADATA)
    if not isinstance(spec, dict) or spec.get("algorithm") not in DIGESTS:
        return None
    headers, message = spec.get("headers"), spec.get("message")
    if not isinstance(headers, dict) or not isinstance(message, str):
        return None
    secret = spec.get("secret")
    if isinstance(secret, dict) and set(secret) == {"Ref"}:
        secret = cloud.physical_id(secret["Ref"])
    if not isinstance(secret, str):
        return None
    value = cloud.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    return {"digest": DIGESTS[spec["algorithm"]], "secret": value, "message": message, "headers": headers}


def signed_curl(spec: dict[str, Any], curl: str, content_type: str, body: str) -> str:
    """``curl`` (its method, URL and other headers) sending ``body``, signed as ``spec`` says."""
    sign = (
        f"printf '%s' {_quoted(spec['message'])} | openssl dgst -{spec['digest']} "
        f"-hmac {shlex.quote(spec['secret'])} | sed 's/^.* //'"
    )
    headers = " ".join(f"-H {_quoted(f'{name}: {value}')}" for name, value in spec["headers"].items())
    return (
        f"BODY={shlex.quote(body)}; TS=$(date +%s); SIG=$({sign}); "
        f'{curl} {headers} -H {shlex.quote(f"Content-Type: {content_type}")} -d "$BODY"'
    )


def _quoted(template: str) -> str:
    """``template`` in double quotes, its placeholders as the line's shell variables and every other
    character as itself."""
    parts = _PLACEHOLDER.split(template)
    text = "".join(
        _SHELL[part] if index % 2 else re.sub(r'([\\"$`])', r"\\\1", part) for index, part in enumerate(parts)
    )
    return f'"{text}"'
