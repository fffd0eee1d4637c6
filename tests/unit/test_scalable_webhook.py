"""Receiver and worker of the scalable webhook, against moto."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from freezegun import freeze_time

from tests.events import api_event, sqs_event

pytestmark = pytest.mark.unit

WEBHOOK = {"id": "evt_1", "type": "payment.succeeded", "data": {"amount": 1200}}


SECRET = "s3cr3t-shared-with-the-sender"
NOW = 1_767_225_600  # the frozen clock below


@pytest.fixture
def queue_url(aws):
    return boto3.client("sqs").create_queue(QueueName="inbox")["QueueUrl"]


@pytest.fixture
def receiver(queue_url, load_handler):
    arn = boto3.client("secretsmanager").create_secret(Name="webhook-signing", SecretString=SECRET)["ARN"]
    with at(0):
        yield load_handler("scalable_webhook", "receiver", QUEUE_URL=queue_url, SIGNING_SECRET_ARN=arn)


def signed(body, *, secret=SECRET, timestamp=NOW, **headers) -> dict:
    """A proxy event for ``body`` signed as the contract says: HMAC-SHA256 over ``<timestamp>.<body>``."""
    text = body if isinstance(body, str) else json.dumps(body)
    digest = hmac.new(secret.encode(), f"{timestamp}.{text}".encode(), hashlib.sha256).hexdigest()
    signature = {"X-Webhook-Timestamp": str(timestamp), "X-Webhook-Signature": f"sha256={digest}"}
    return api_event("POST", "/webhooks", body=text, headers={**signature, **headers})


@pytest.fixture
def worker(aws, load_handler):
    boto3.client("dynamodb").create_table(
        TableName="webhooks",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return load_handler("scalable_webhook", "worker", TABLE_NAME="webhooks")


def queued(queue_url):
    messages = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return messages.get("Messages", [])


def stored():
    return boto3.resource("dynamodb").Table("webhooks").scan()["Items"]


def answer(response) -> tuple[int, str]:
    return response["statusCode"], json.loads(response["body"]).get("message", "")


def test_receiver_enqueues_a_signed_webhook_and_answers_202(receiver, queue_url, lambda_context):
    response = receiver.handler(signed(WEBHOOK), lambda_context)
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"accepted": "evt_1"}
    [message] = queued(queue_url)
    assert json.loads(message["Body"]) == WEBHOOK
    assert message["MessageAttributes"]["type"]["StringValue"] == "payment.succeeded"


def test_header_names_are_case_insensitive(receiver, queue_url, lambda_context):
    event = signed(WEBHOOK)
    event["headers"] = {k.lower(): v for k, v in event["headers"].items()}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    assert receiver.handler(event, lambda_context)["statusCode"] == 202


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (api_event("POST", "/webhooks", body=WEBHOOK), "X-Webhook-Signature: required"),
        (signed(WEBHOOK, secret="guess"), "X-Webhook-Signature: does not match the body"),
        (signed(WEBHOOK, **{"X-Webhook-Signature": "sha256=" + "0" * 64}), "does not match the body"),
        (signed(WEBHOOK, **{"X-Webhook-Signature": "sha256=\u00e9\ud800"}), "expected sha256=<64 lower-case"),
        (signed(WEBHOOK, **{"X-Webhook-Signature": "sha256=" + "A" * 64}), "expected sha256=<64 lower-case"),
        (signed(WEBHOOK, **{"X-Webhook-Signature": "0" * 64}), "X-Webhook-Signature: expected sha256="),
        (signed(WEBHOOK, **{"X-Webhook-Timestamp": ""}), "X-Webhook-Timestamp: required"),
        (signed(WEBHOOK, **{"X-Webhook-Timestamp": "1e9"}), "X-Webhook-Timestamp: expected Unix time"),
        (signed(WEBHOOK, timestamp=NOW - 301), "X-Webhook-Timestamp: more than 300 s from now"),
        (signed(WEBHOOK, timestamp=NOW + 301), "X-Webhook-Timestamp: more than 300 s from now"),
    ],
    ids=[
        "unsigned",
        "wrong-secret",
        "zeros",
        "non-ascii",
        "upper-case",
        "no-prefix",
        "no-timestamp",
        "bad-timestamp",
        "stale",
        "future",
    ],
)
def test_receiver_refuses_unsigned_forged_and_stale_calls_with_401(
    receiver, queue_url, lambda_context, event, message
):
    status, said = answer(receiver.handler(event, lambda_context))
    assert (status, message in said) == (401, True), said
    assert queued(queue_url) == []


def test_a_body_changed_after_signing_is_refused(receiver, queue_url, lambda_context):
    event = signed(WEBHOOK)
    event["body"] = json.dumps({**WEBHOOK, "data": {"amount": 1}})
    assert answer(receiver.handler(event, lambda_context))[0] == 401
    assert receiver.handler(signed(WEBHOOK, timestamp=NOW - 300), lambda_context)["statusCode"] == 202, (
        "300 s old is within the tolerance"
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"type": "t", "data": {}}, 400, "id: required"),
        ({"id": "e", "type": "t", "data": []}, 400, "data: expected object, got array"),
        ({"id": "e v", "type": "t", "data": {}}, 400, "id: must match"),
        ({"id": "e\n", "type": "t", "data": {}}, 400, "id: must match ^[!-~]+$"),
        ({"id": "\ud800", "type": "t", "data": {}}, 400, "id: not valid Unicode"),
        ({**WEBHOOK, "extra": 1}, 400, "extra: unknown field"),
        ("not json", 400, "body: not valid JSON"),
        ('{"id": "e", "type": "t", "data": {"n": NaN}}', 400, "NaN is not a JSON number"),
        ('{"id": "e", "type": "t", "data": {"n": -1e400}}', 400, "-1e400 is out of range"),
        ("[" * 100_000, 400, "body: nested too deeply"),
        ('{"id": "e", "type": "t", "data": {"n": ' + "9" * 5000 + "}}", 400, "body: number too long"),
        ({**WEBHOOK, "data": {"x": "a" * 262_144}}, 413, "body: larger than 262144 bytes"),
        (
            json.dumps({**WEBHOOK, "data": {"x": "\u00e9" * 100_000}}, ensure_ascii=False),
            413,
            "larger than 262144 bytes once queued",
        ),
    ],
    ids=[
        "no-id",
        "data-array",
        "id-space",
        "id-newline",
        "id-surrogate",
        "extra",
        "not-json",
        "nan",
        "overflow",
        "deep",
        "long-int",
        "big",
        "big-queued",
    ],
)
def test_receiver_refuses_bad_webhooks_with_4xx_and_enqueues_nothing(
    receiver, queue_url, lambda_context, body, status, message
):
    said = answer(receiver.handler(signed(body), lambda_context))
    assert (said[0], message in said[1]) == (status, True), said
    assert queued(queue_url) == []


UNAVAILABLE = (503, "the signing secret could not be read; retry later")


#: Modules freezegun leaves alone: at each start it scans every loaded module's attributes, and the
#: CDK's (loaded in a worker that also runs infra tests) are thousands; no handler code is among them.
UNFROZEN = ["aws_cdk", "jsii", "cdk_nag", "constructs", "cfnlint"]


def at(seconds_after_now: float):
    """The frozen clock, ``seconds_after_now`` past the fixture's."""
    return freeze_time(datetime.fromtimestamp(NOW + seconds_after_now, UTC), ignore=UNFROZEN)


def read_failures(caplog) -> list[str]:
    """The errors the receiver logged for failed reads of the secret."""
    return [r.error for r in caplog.records if r.getMessage() == "could not read the signing secret"]


def test_the_secret_is_read_on_first_use_not_at_import(queue_url, load_handler, lambda_context, caplog):
    module = load_handler("scalable_webhook", "receiver", QUEUE_URL=queue_url, SIGNING_SECRET_ARN="missing")
    assert module.signing_secret._value is None, "importing read nothing"
    with at(0):
        response = module.handler(signed(WEBHOOK), lambda_context)
    assert answer(response) == UNAVAILABLE, "no secret to check with: retry, not a 502 and a stack trace"
    assert json.loads(response["body"]) == {"statusCode": 503, "message": UNAVAILABLE[1]}
    [failure] = read_failures(caplog)
    assert "ResourceNotFoundException" in failure, "the cause is logged"
    assert queued(queue_url) == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Webhook-Signature": ""}, "X-Webhook-Signature: required"),
        ({"X-Webhook-Signature": "sha256=abc"}, "X-Webhook-Signature: expected sha256=<64 lower-case"),
        ({"X-Webhook-Timestamp": "soon"}, "X-Webhook-Timestamp: expected Unix time"),
        ({"X-Webhook-Timestamp": f"{NOW}\n"}, "X-Webhook-Timestamp: expected Unix time"),
        ({"X-Webhook-Timestamp": str(NOW - 301)}, "X-Webhook-Timestamp: more than 300 s from now"),
    ],
    ids=["unsigned", "short-signature", "word-timestamp", "newline-timestamp", "stale"],
)
def test_headers_are_checked_before_the_secret_is_read(
    queue_url, load_handler, lambda_context, headers, message
):
    """A call that cannot be genuine costs no Secrets Manager read, and gets its 401 even when the
    secret cannot be read."""
    module = load_handler("scalable_webhook", "receiver", QUEUE_URL=queue_url, SIGNING_SECRET_ARN="missing")
    with at(0):
        status, said = answer(module.handler(signed(WEBHOOK, **headers), lambda_context))
    assert (status, message in said) == (401, True), said
    assert module.signing_secret._client is None, "Secrets Manager was not called"


def test_a_rotated_secret_is_read_again_on_a_mismatch_at_most_every_30_s(receiver, queue_url, lambda_context):
    secrets = boto3.client("secretsmanager")
    assert receiver.handler(signed(WEBHOOK), lambda_context)["statusCode"] == 202
    secrets.put_secret_value(SecretId="webhook-signing", SecretString="rotated")
    with at(10):
        assert answer(receiver.handler(signed(WEBHOOK, secret="rotated"), lambda_context))[0] == 401, (
            "a value read 10 s ago is not read again"
        )
    with at(31):
        assert receiver.handler(signed(WEBHOOK, secret="rotated"), lambda_context)["statusCode"] == 202
        assert answer(receiver.handler(signed(WEBHOOK), lambda_context))[0] == 401, "the old value is gone"
    secrets.put_secret_value(SecretId="webhook-signing", SecretString="rotated-again")
    with at(45):
        assert answer(receiver.handler(signed(WEBHOOK, secret="rotated-again"), lambda_context))[0] == 401, (
            "forged calls cannot make the receiver read the secret more than once per 30 s"
        )
    with at(62):
        assert receiver.handler(signed(WEBHOOK, secret="rotated-again"), lambda_context)["statusCode"] == 202
    assert len(queued(queue_url)) == 3


def test_a_secrets_manager_failure_is_ridden_out_on_the_cached_value_then_503(
    receiver, queue_url, lambda_context, caplog
):
    assert receiver.handler(signed(WEBHOOK), lambda_context)["statusCode"] == 202
    cached = receiver.signing_secret
    with Stubber(cached._client) as stubber:
        stubber.add_client_error("get_secret_value", "InternalServiceError", http_status_code=500)
        with at(301):
            assert (
                receiver.handler(signed(WEBHOOK, timestamp=NOW + 301), lambda_context)["statusCode"] == 202
            ), "stale but in grace"
        stubber.assert_no_pending_responses()
        with at(320):
            assert (
                receiver.handler(signed(WEBHOOK, timestamp=NOW + 320), lambda_context)["statusCode"] == 202
            ), "a failed read is not retried for 30 s: no wait on Secrets Manager per call"
    [failure] = read_failures(caplog)
    assert "InternalServiceError" in failure
    boto3.client("secretsmanager").delete_secret(SecretId="webhook-signing", ForceDeleteWithoutRecovery=True)
    with at(340):
        assert receiver.handler(signed(WEBHOOK, timestamp=NOW + 340), lambda_context)["statusCode"] == 202, (
            "retried, failed, in grace"
        )
    with at(300 + 900):
        assert (
            receiver.handler(signed(WEBHOOK, timestamp=NOW + 300 + 900), lambda_context)["statusCode"] == 202
        ), "last second of grace"
    with at(300 + 901):
        assert (
            answer(receiver.handler(signed(WEBHOOK, timestamp=NOW + 300 + 901), lambda_context))
            == UNAVAILABLE
        )
    assert len(queued(queue_url)) == 5


def test_worker_stores_each_webhook(worker, lambda_context):
    second = {**WEBHOOK, "id": "evt_2"}
    result = worker.handler(sqs_event(WEBHOOK, second), lambda_context)
    assert result == {"batchItemFailures": []}
    assert sorted(item["id"] for item in stored()) == ["evt_1", "evt_2"]
    assert all(json.loads(item["data"]) == {"amount": 1200} for item in stored())


def test_worker_writes_a_duplicate_once(worker, lambda_context):
    assert worker.handler(sqs_event(WEBHOOK), lambda_context) == {"batchItemFailures": []}
    first = stored()
    assert worker.handler(sqs_event({**WEBHOOK, "data": {"amount": 1}}), lambda_context) == {
        "batchItemFailures": []
    }
    assert stored() == first, "the second delivery must not overwrite the first"


def test_worker_reports_only_the_poison_record(worker, lambda_context):
    event = sqs_event(WEBHOOK, "{broken", {"id": "evt_3", "type": "t"}, {**WEBHOOK, "id": "evt_4"})
    poison = [event["Records"][1]["messageId"], event["Records"][2]["messageId"]]
    result = worker.handler(event, lambda_context)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(poison)
    assert sorted(item["id"] for item in stored()) == ["evt_1", "evt_4"]


def test_a_batch_in_which_every_record_fails_fails_the_invocation(worker, lambda_context):
    with pytest.raises(worker.BatchProcessingError, match="all 2 records failed"):
        worker.handler(sqs_event("{broken", {"id": "evt_3"}), lambda_context)
    assert stored() == []


def test_worker_counts_stored_and_duplicate_webhooks(worker, lambda_context, emitted_metrics):
    worker.handler(sqs_event(WEBHOOK, {**WEBHOOK, "id": "evt_2"}), lambda_context)
    assert emitted_metrics() == {"WebhooksStored": 2}
    worker.handler(sqs_event(WEBHOOK, {**WEBHOOK, "id": "evt_3"}), lambda_context)
    assert emitted_metrics() == {"WebhooksStored": 1, "DuplicateWebhooks": 1}


@pytest.mark.parametrize(
    "body",
    [
        {**WEBHOOK, "id": "evt_5", "data": []},
        {**WEBHOOK, "id": "evt 5"},
        {**WEBHOOK, "id": "evt_5", "extra": 1},
        {**WEBHOOK, "id": "evt_5", "type": 7},
    ],
    ids=["data-array", "id-space", "extra-field", "type-number"],
)
def test_worker_validates_what_it_reads_from_the_queue(worker, lambda_context, emitted_metrics, body):
    """The queue is not the receiver's alone: a message that breaks the contract fails, unstored."""
    event = sqs_event(WEBHOOK, body)
    result = worker.handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert [item["id"] for item in stored()] == ["evt_1"]
    assert emitted_metrics() == {"WebhooksStored": 1}


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_exactly_300_s_from_now_is_still_accepted(receiver, lambda_context, offset):
    assert receiver.handler(signed(WEBHOOK, timestamp=NOW + offset), lambda_context)["statusCode"] == 202


def test_the_receiver_counts_accepted_refused_and_unverifiable_webhooks(
    receiver, queue_url, load_handler, lambda_context, emitted_metrics
):
    receiver.handler(signed(WEBHOOK), lambda_context)
    assert emitted_metrics() == {"WebhooksAccepted": 1}
    receiver.handler(signed(WEBHOOK, secret="guess"), lambda_context)
    assert emitted_metrics() == {"WebhooksRefused": 1}
    receiver.handler(signed({"id": "e"}), lambda_context)
    assert emitted_metrics() == {}, "a signed but malformed webhook is answered 400, not counted"
    unread = load_handler("scalable_webhook", "receiver", QUEUE_URL=queue_url, SIGNING_SECRET_ARN="missing")
    with at(0):
        unread.handler(signed(WEBHOOK), lambda_context)
    assert emitted_metrics() == {"SigningSecretUnavailable": 1}


def test_a_base64_body_is_checked_as_the_bytes_the_sender_signed(receiver, queue_url, lambda_context):
    event = signed(WEBHOOK)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert receiver.handler(event, lambda_context)["statusCode"] == 202
    assert json.loads(queued(queue_url)[0]["Body"]) == WEBHOOK


@pytest.mark.parametrize(
    ("body", "is_base64", "message"),
    [
        ("", False, "body: not valid JSON"),
        ("not base64!", True, "body: not valid JSON"),  # a hand-made event: taken as the text it is
        (base64.b64encode(b'{"id": "\xff"}').decode(), True, "body: not UTF-8"),
    ],
    ids=["empty", "not-base64", "not-utf8"],
)
def test_an_empty_or_undecodable_body_is_400(receiver, queue_url, lambda_context, body, is_base64, message):
    raw = base64.b64decode(body) if is_base64 and body != "not base64!" else body.encode()
    digest = hmac.new(SECRET.encode(), f"{NOW}.".encode() + raw, hashlib.sha256).hexdigest()
    event = api_event(
        "POST",
        "/webhooks",
        body=body,
        headers={"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"sha256={digest}"},
    )
    event["isBase64Encoded"] = is_base64
    status, said = answer(receiver.handler(event, lambda_context))
    assert (status, message in said) == (400, True), said
    assert queued(queue_url) == []


def test_a_contract_keyword_the_handlers_do_not_enforce_is_refused(queue_url, load_handler):
    module = load_handler("scalable_webhook", "webhook_event")
    with pytest.raises(ValueError, match=r"webhook contract: id: unsupported keywords \['format'\]"):
        module.schema_from_json({"properties": {"id": {"type": "string", "format": "uuid"}}})


def test_a_refresh_that_cannot_read_the_secret_reports_no_change(queue_url, load_handler):
    module = load_handler("scalable_webhook", "signature")
    assert module.CachedSecret("missing", max_age=300).refresh(NOW) is False


def test_a_body_of_exactly_256_kib_is_accepted(receiver, queue_url, lambda_context):
    compact = json.dumps({**WEBHOOK, "data": {"x": ""}}, separators=(",", ":"))
    text = json.dumps({**WEBHOOK, "data": {"x": "a" * (262_144 - len(compact))}}, separators=(",", ":"))
    assert len(text) == 262_144
    assert receiver.handler(signed(text), lambda_context)["statusCode"] == 202
    assert len(queued(queue_url)[0]["Body"]) == 262_144


def test_after_a_rotation_a_call_signed_with_neither_secret_is_still_refused(
    receiver, queue_url, lambda_context
):
    receiver.handler(signed(WEBHOOK), lambda_context)
    boto3.client("secretsmanager").put_secret_value(SecretId="webhook-signing", SecretString="rotated")
    with at(31):
        assert answer(receiver.handler(signed(WEBHOOK, secret="guess"), lambda_context))[0] == 401
    assert len(queued(queue_url)) == 1


def test_a_contract_without_additional_properties_false_lets_extra_fields_through(queue_url, load_handler):
    module = load_handler("scalable_webhook", "webhook_event")
    properties = {"id": {"type": "string"}}
    assert module.schema_from_json({"properties": properties}).validate({"id": "e", "x": 1}) == {
        "id": "e",
        "x": 1,
    }
    strict = module.schema_from_json({"properties": properties, "additionalProperties": False})
    with pytest.raises(module.InvalidInput, match="x: unknown field"):
        strict.validate({"id": "e", "x": 1})
