"""Accept a webhook in milliseconds: check who sent it, validate it, put it on the queue, answer 202.

The receiver does no work beyond that, so a burst of webhooks costs only queue writes; the worker
drains the queue at the pace the downstream store can take. A call without a valid, fresh
signature gets 401 and a malformed or oversized webhook 400 or 413, before anything is queued.

API Gateway sends it ``POST /webhooks`` only, so it needs no router: Powertools' resolver would add
about 30 ms of cold start (its import loads every resolver and event class) to match one route.
Its answers keep the resolver's shapes (``shared.http.json_answer`` and ``error_answer``).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from shared.http import error_answer, json_answer
from shared.observability import instrument, logger, metrics
from shared.validation import InvalidInput
from signature import CachedSecret, SecretUnavailable, SignatureRejected, check_headers, verify
from webhook_event import MAX_BODY_BYTES, SIGNATURE, parse_webhook

sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]
TOLERANCE_SECONDS = int(os.environ.get("SIGNATURE_TOLERANCE_SECONDS", SIGNATURE["tolerance_seconds"]))
signing_secret = CachedSecret(
    os.environ["SIGNING_SECRET_ARN"], max_age=float(os.environ.get("SECRET_MAX_AGE_SECONDS", "300"))
)


def receive(request: dict[str, Any]) -> dict[str, Any]:
    body = _raw_body(request.get("body"), bool(request.get("isBase64Encoded")))
    headers = {name.lower(): value for name, value in (request.get("headers") or {}).items()}
    try:
        _authenticate(body, headers, time.time())
    except SignatureRejected as error:
        logger.info("refused unsigned webhook", extra={"reason": str(error)})
        metrics.add_metric(name="WebhooksRefused", unit=MetricUnit.Count, value=1)
        return error_answer(401, str(error))
    except SecretUnavailable as error:
        logger.error("signing secret unavailable", extra={"reason": str(error)})
        metrics.add_metric(name="SigningSecretUnavailable", unit=MetricUnit.Count, value=1)
        return error_answer(503, "the signing secret could not be read; retry later")
    if len(body) > MAX_BODY_BYTES:
        return error_answer(413, f"body: larger than {MAX_BODY_BYTES} bytes")
    try:
        event = parse_webhook(body)
    except InvalidInput as error:
        logger.info("rejected request body", extra={"reason": str(error)})
        return error_answer(400, str(error))
    message = json.dumps(event, separators=(",", ":"))
    if len(message) > MAX_BODY_BYTES:  # ASCII: non-ASCII text is queued escaped, up to 3x longer
        return error_answer(413, f"body: larger than {MAX_BODY_BYTES} bytes once queued")
    sqs.send_message(
        QueueUrl=QUEUE_URL,
        MessageBody=message,
        MessageAttributes={"type": {"DataType": "String", "StringValue": event["type"]}},
    )
    metrics.add_metric(name="WebhooksAccepted", unit=MetricUnit.Count, value=1)
    logger.info("accepted webhook", extra={"webhook_id": event["id"], "type": event["type"]})
    return json_answer(202, {"accepted": event["id"]})


def _authenticate(body: bytes, headers: dict[str, str], now: float) -> None:
    """Raise :class:`SignatureRejected` unless the call is signed with the secret; headers first,
    then the cached secret, then the secret read again in case it was rotated since."""
    signature = headers.get(SIGNATURE["signature_header"].lower())
    timestamp = headers.get(SIGNATURE["timestamp_header"].lower())
    check_headers(
        signature=signature, timestamp=timestamp, now=now, contract=SIGNATURE, tolerance=TOLERANCE_SECONDS
    )
    assert signature is not None and timestamp is not None  # checked above
    signed = {"body": body, "signature": signature, "timestamp": timestamp, "contract": SIGNATURE}
    try:
        verify(secret=signing_secret.get(now), **signed)
    except SignatureRejected:
        if not signing_secret.refresh(now):
            raise
        verify(secret=signing_secret.get(now), **signed)


def _raw_body(body: str | None, is_base64: bool) -> bytes:
    """The bytes the sender signed: API Gateway hands binary bodies over base64-encoded."""
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error: API Gateway sends valid base64, a hand-made event may not
            return body.encode("utf-8", "surrogatepass")
    return body.encode("utf-8", "surrogatepass")


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return receive(event)
