"""The receiver's refusal of a webhook missing a field the contract requires, and its reading of a body
flagged base64 that is not: a hand-made event's text is checked as the text it is, even when a
lenient decoder would have found bytes in it."""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.unit import test_scalable_webhook as base
from tests.unit.test_scalable_webhook import WEBHOOK, answer, queued, signed

pytestmark = pytest.mark.unit

queue_url, receiver = base.queue_url, base.receiver  # the row's fixtures: one queue, one signed receiver


def test_a_webhook_missing_a_required_field_is_a_400_naming_it(receiver, queue_url, lambda_context):
    for field in ("id", "type", "data"):
        body = {k: v for k, v in WEBHOOK.items() if k != field}
        assert answer(receiver.handler(signed(body), lambda_context)) == (400, f"{field}: required")
    assert queued(queue_url) == []


def test_a_body_flagged_base64_that_is_not_is_checked_as_its_text(receiver, queue_url, lambda_context):
    webhook = {**WEBHOOK, "id": "evt_x"}
    text = json.dumps(webhook)
    alphabet = re.sub(r"[^A-Za-z0-9+/]", "", text)
    assert len(alphabet) % 4 == 0, "a decoder that skipped the other characters would find bytes here"
    assert base64.b64decode(text) != text.encode()
    event = signed(text)
    event["isBase64Encoded"] = True
    assert receiver.handler(event, lambda_context)["statusCode"] == 202
    assert json.loads(queued(queue_url)[0]["Body"]) == webhook
