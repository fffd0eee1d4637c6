"""AWS Signature Version 4, verified as an AWS front door verifies it: from the Authorization
header or a presigned URL's query string, against the secret of the key that signed.

Pure: it knows nothing of a cloud. The caller finds the secret for :attr:`Signature.access_key`
(and checks the session token), and says what time it is, which region and service the request
was for, and the ``Host`` to assume when the request carries none (an in-process call).

The canonical request is built as AWS's documentation and botocore build it: the method; the path
with dot segments and repeated slashes removed, each byte URI-encoded once more (every service but
S3); the query's names and values URI-encoded and sorted, ``X-Amz-Signature`` left out; the signed
headers, lower-cased, values trimmed and inner runs of spaces made one, several values joined with
commas; the signed header names; and the payload's SHA-256, or the ``X-Amz-Content-SHA256`` header
when sent, which must then be the body's own hash. The signature must be dated within 5 minutes of
now (either way); a presigned URL is good from its date until ``X-Amz-Expires`` seconds after it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SKEW = timedelta(minutes=5)
#: A presigned URL may be good for at most 7 days.
MAX_EXPIRES = 7 * 24 * 3600
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


class SignatureError(Exception):
    """The signature is refused. ``kind``: ``incomplete`` (malformed or partial), ``invalid`` (it
    does not match, or is scoped elsewhere), ``expired`` (dated outside the allowed window).
    ``message`` is AWS's wording, for the response body."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    """As sent on the wire: percent-encoded, without the query string."""
    query: dict[str, list[str]]
    """Decoded names and values."""
    headers: dict[str, list[str]]
    body: bytes


@dataclass(frozen=True)
class Signature:
    access_key: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    token: str | None
    presigned: bool
    expires: int | None = None


def parse(request: SignedRequest) -> Signature | None:
    """The request's signature, None when it carries none (no Authorization header and no
    ``X-Amz-Signature``); :class:`SignatureError` ``incomplete`` when one is there but malformed."""
    authorization = _header(request.headers, "authorization")
    if authorization is not None:
        return _from_header(authorization, request)
    if "X-Amz-Signature" in request.query or "X-Amz-Credential" in request.query:
        return _from_query(request)
    return None


def verify(
    request: SignedRequest,
    signature: Signature,
    secret: str,
    *,
    now: datetime,
    region: str,
    service: str,
    host: str | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``signature`` signs ``request`` with ``secret``, is
    scoped to ``region`` and ``service``, and is current at ``now``. ``host`` stands in for a
    missing ``Host`` header."""
    _check_scope(signature, region, service)
    _check_time(signature, now)
    if "host" not in signature.signed_headers:
        raise SignatureError(
            "invalid",
            f"{MISMATCH}\n\nThe 'host' header must be signed; signed: {';'.join(signature.signed_headers)}",
        )
    canonical = canonical_request(request, signature, host)
    expected = sign(secret, signature.scope_date, region, service, string_to_sign(signature, canonical))
    if not hmac.compare_digest(expected, signature.signature):
        raise SignatureError(
            "invalid",
            f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign(signature, canonical)}'\n",
        )
    sent_hash = _header(request.headers, "x-amz-content-sha256")
    if sent_hash is not None and sent_hash != hashlib.sha256(request.body).hexdigest():
        raise SignatureError(
            "invalid", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )


def canonical_request(request: SignedRequest, signature: Signature, host: str | None = None) -> str:
    headers = []
    for name in signature.signed_headers:
        values = _header_values(request.headers, name)
        if not values and name == "host" and host is not None:
            values = [host]
        headers.append(f"{name}:{','.join(' '.join(value.split()) for value in values)}")
    payload = _header(request.headers, "x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    return "\n".join(
        [
            request.method.upper(),
            canonical_path(request.path),
            canonical_query(request.query, presigned=signature.presigned),
            "\n".join(headers) + "\n",
            ";".join(signature.signed_headers),
            payload,
        ]
    )


def canonical_path(path: str) -> str:
    """The path with dot segments and empty segments removed, encoded once more."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_query(query: dict[str, list[str]], *, presigned: bool = False) -> str:
    pairs = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, values in query.items()
        if not (presigned and name == "X-Amz-Signature")
        for value in values
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def string_to_sign(signature: Signature, canonical: str) -> str:
    scope = f"{signature.scope_date}/{signature.region}/{signature.service}/aws4_request"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{signature.amz_date}\n{scope}\n{digest}"


def sign(secret: str, date: str, region: str, service: str, text: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------- parsing


def _from_header(authorization: str, request: SignedRequest) -> Signature:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals:
            raise SignatureError(
                "incomplete",
                f"'{part.strip() or authorization}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{authorization}'.",
            )
        fields[name.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in fields
    ]
    amz_date = _header(request.headers, "x-amz-date")
    if amz_date is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise SignatureError("incomplete", f"{' '.join(missing)} Authorization={authorization}")
    if algorithm != ALGORITHM:
        raise SignatureError(
            "incomplete", f"Unsupported Authorization Type: {algorithm}; expected {ALGORITHM}"
        )
    assert amz_date is not None
    return _signature(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        amz_date,
        _header(request.headers, "x-amz-security-token"),
        presigned=False,
    )


def _from_query(request: SignedRequest) -> Signature:
    query = {name: values[-1] for name, values in request.query.items() if values}
    needed = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    )
    missing = [name for name in needed if name not in query]
    if missing:
        raise SignatureError(
            "incomplete",
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters.",
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureError("incomplete", f"X-Amz-Algorithm only supports '{ALGORITHM}'")
    try:
        expires = int(query["X-Amz-Expires"])
    except ValueError:
        raise SignatureError("incomplete", "X-Amz-Expires should be a number") from None
    if not 0 < expires <= MAX_EXPIRES:
        raise SignatureError(
            "incomplete", f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds; it is {expires}"
        )
    signature = _signature(
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
        query["X-Amz-Date"],
        query.get("X-Amz-Security-Token"),
        presigned=True,
    )
    return Signature(**{**signature.__dict__, "expires": expires})


def _signature(
    credential: str, signed: str, value: str, amz_date: str, token: str | None, *, presigned: bool
) -> Signature:
    parts = unquote(credential).split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise SignatureError(
            "incomplete",
            f"Credential should be scoped to a valid region, service and terminal 'aws4_request'; it is '{credential}'.",
        )
    try:
        datetime.strptime(amz_date, DATE_FORMAT)
    except ValueError:
        raise SignatureError(
            "incomplete", f"X-Amz-Date '{amz_date}' is not an ISO 8601 basic date like 20150830T123600Z"
        ) from None
    return Signature(
        access_key=parts[0],
        scope_date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(name.strip().lower() for name in signed.split(";") if name.strip()),
        signature=value,
        amz_date=amz_date,
        token=token,
        presigned=presigned,
    )


def _check_scope(signature: Signature, region: str, service: str) -> None:
    if signature.scope_date != signature.amz_date[:8]:
        raise SignatureError(
            "invalid",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signature.scope_date}' != '{signature.amz_date[:8]}', from '{signature.amz_date}'.",
        )
    if signature.region != region:
        raise SignatureError(
            "invalid", f"Credential should be scoped to a valid region, not '{signature.region}'. "
        )
    if signature.service != service:
        raise SignatureError("invalid", f"Credential should be scoped to correct service: '{service}'. ")


def _check_time(signature: Signature, now: datetime) -> None:
    signed = datetime.strptime(signature.amz_date, DATE_FORMAT).replace(tzinfo=UTC)
    now = now.astimezone(UTC)
    stamp = now.strftime(DATE_FORMAT)
    if signature.presigned:
        assert signature.expires is not None
        if now > signed + timedelta(seconds=signature.expires):
            raise SignatureError(
                "expired",
                f"Signature expired: {signature.amz_date} is now earlier than "
                f"{(now - timedelta(seconds=signature.expires)).strftime(DATE_FORMAT)} "
                f"({stamp} - {signature.expires} sec.)",
            )
        if signed > now + SKEW:
            raise SignatureError(
                "expired",
                f"Signature not yet current: {signature.amz_date} is still later than "
                f"{(now + SKEW).strftime(DATE_FORMAT)} ({stamp} + 5 min.)",
            )
        return
    if signed < now - SKEW:
        raise SignatureError(
            "expired",
            f"Signature expired: {signature.amz_date} is now earlier than "
            f"{(now - SKEW).strftime(DATE_FORMAT)} ({stamp} - 5 min.)",
        )
    if signed > now + SKEW:
        raise SignatureError(
            "expired",
            f"Signature not yet current: {signature.amz_date} is still later than "
            f"{(now + SKEW).strftime(DATE_FORMAT)} ({stamp} + 5 min.)",
        )


def _header_values(headers: dict[str, list[str]], name: str) -> list[str]:
    return [value for key, values in headers.items() if key.lower() == name for value in values]


def _header(headers: dict[str, list[str]], name: str) -> str | None:
    values = _header_values(headers, name)
    return values[-1] if values else None
