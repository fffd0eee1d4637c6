"""SigV4 verification against botocore's own signer: what it signs verifies, and each part tampered
with is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore import auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.lib.sigv4 import SignatureError, SignedRequest, parse, verify

SIGNED_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
KEYS = Credentials("ASIAEXAMPLEKEY", "secret/with+chars", "the-session-token")


def signed(
    method: str = "POST",
    url: str = f"https://{HOST}/prod/items/a%20b?x=1&tag=b&tag=a&empty=",
    body: bytes = b'{"id": "1"}',
    *,
    presign: bool = False,
    credentials: Credentials = KEYS,
    region: str = "us-east-1",
) -> SignedRequest:
    """A request as botocore signs it, in the shape a front door receives it."""
    data = b"" if presign else body
    request = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
    signer = (
        SigV4QueryAuth(credentials, "execute-api", region, expires=60)
        if presign
        else SigV4Auth(credentials, "execute-api", region)
    )
    # botocore's signers read the time through this name; a fixed one keeps the dates known.
    clock, auth.get_current_datetime = auth.get_current_datetime, lambda: SIGNED_AT.replace(tzinfo=None)
    try:
        signer.add_auth(request)
    finally:
        auth.get_current_datetime = clock
    parts = urlsplit(request.url)
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    # What an HTTP client sends beside what botocore set: the Host it signed from the URL.
    headers = {"Host": [parts.netloc], **{name: [value] for name, value in request.headers.items()}}
    return SignedRequest(method, parts.path, query, headers, body if not presign else b"")


def check(
    request: SignedRequest,
    *,
    secret: str = KEYS.secret_key,
    now: datetime = SIGNED_AT,
    host: str | None = None,
) -> None:
    signature = parse(request)
    assert signature is not None
    verify(request, signature, secret, now=now, region="us-east-1", service="execute-api", host=host)


def refused(request: SignedRequest, kind: str = "invalid", **kwargs) -> str:
    with pytest.raises(SignatureError) as caught:
        check(request, **kwargs)
    assert caught.value.kind == kind
    return caught.value.message


@pytest.mark.parametrize("presign", [False, True], ids=["header", "presigned"])
def test_what_botocore_signs_verifies(presign):
    request = signed(presign=presign)
    signature = parse(request)
    assert signature.access_key == "ASIAEXAMPLEKEY"
    assert signature.token == "the-session-token"
    assert signature.presigned is presign
    check(request)


def test_a_get_without_a_body_and_with_a_bare_path_verifies():
    check(signed("GET", f"https://{HOST}/", b""))


def test_an_unsigned_request_has_no_signature():
    assert parse(SignedRequest("GET", "/prod/", {}, {}, b"")) is None


def test_the_wrong_secret_is_refused_with_the_canonical_request_aws_computed():
    message = refused(signed(), secret="another")
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert "The Canonical String for this request should have been\n'POST\n/prod/items/a%2520b\n" in message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20260301T120000Z\n" in message


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: replace(r, method="PUT"),
        lambda r: replace(r, path="/prod/items/other"),
        lambda r: replace(r, query={**r.query, "x": ["2"]}),
        lambda r: replace(r, query={**r.query, "added": ["1"]}),
        lambda r: replace(r, body=b'{"id": "2"}'),
        lambda r: replace(r, headers={**r.headers, "X-Amz-Date": ["20260301T120001Z"]}),
        lambda r: replace(r, headers={**r.headers, "host": ["evil.example.com"]}),
        lambda r: replace(r, headers={**r.headers, "X-Amz-Security-Token": ["another-token"]}),
    ],
    ids=["method", "path", "query value", "query added", "body", "date", "host", "token"],
)
def test_each_signed_part_tampered_with_is_refused(tamper):
    refused(tamper(signed()))


def test_presigned_query_tampered_with_is_refused():
    request = signed(presign=True)
    refused(replace(request, query={**request.query, "x": ["2"]}))
    refused(replace(request, query={**request.query, "X-Amz-Expires": ["3600"]}))


def test_the_sent_payload_hash_must_be_the_bodys():
    request = signed()
    hashed = replace(request, headers={**request.headers, "X-Amz-Content-SHA256": ["0" * 64]})
    refused(hashed)


def test_a_missing_host_header_is_the_api_domain():
    request = signed()
    without_host = replace(request, headers={k: v for k, v in request.headers.items() if k.lower() != "host"})
    # botocore signs the host from the URL when the request has no Host header
    check(without_host, host=HOST)
    refused(without_host, host="other.example.com")


def test_five_minutes_of_skew_either_way_and_no_more():
    request = signed()
    check(request, now=SIGNED_AT + timedelta(minutes=5))
    check(request, now=SIGNED_AT - timedelta(minutes=5))
    message = refused(request, "expired", now=SIGNED_AT + timedelta(minutes=5, seconds=1))
    assert message == (
        "Signature expired: 20260301T120000Z is now earlier than 20260301T120001Z (20260301T120501Z - 5 min.)"
    )
    assert refused(request, "expired", now=SIGNED_AT - timedelta(minutes=6)).startswith(
        "Signature not yet current: 20260301T120000Z is still later than"
    )


def test_a_presigned_url_lasts_its_expiry():
    request = signed(presign=True)
    check(request, now=SIGNED_AT + timedelta(seconds=60))
    refused(request, "expired", now=SIGNED_AT + timedelta(seconds=61))


def test_the_scope_must_name_the_region_and_service():
    assert "valid region" in refused(signed(region="eu-west-1"))


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Bearer abc", "not a valid key=value pair (missing equal-sign)"),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/execute-api/aws4_request",
            "requires 'Signature'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/us-east-1, SignedHeaders=host, Signature=ab",
            "Credential should be scoped",
        ),
    ],
)
def test_a_malformed_authorization_header_is_incomplete(authorization, expected):
    request = SignedRequest(
        "GET", "/prod/", {}, {"Authorization": [authorization], "X-Amz-Date": ["20260301T120000Z"]}, b""
    )
    with pytest.raises(SignatureError) as caught:
        parse(request)
    assert caught.value.kind == "incomplete"
    assert expected in caught.value.message
