"""Fuzzing the scalable webhook through API Gateway: whatever a sender posts, the pattern answers a
4xx with a message or 202, never a 5xx; nothing unsigned, stale or malformed is queued."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from scenarios.scalable_webhook import CONTRACT, Sender

pytestmark = pytest.mark.e2e

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SIGNATURE = CONTRACT["signature"]
PROPERTIES = CONTRACT["event_schema"]["properties"]
MAX_BODY = CONTRACT["max_body_bytes"]


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    """One cloud for the module: every example is a separate request, and a refused one changes nothing."""
    with LocalCloud(
        load_stack(cloud_assembly.directory, "ScalableWebhookStack"), start=FIXED_START
    ) as running:
        yield running


@pytest.fixture(scope="module")
def sender(cloud):
    return Sender(cloud)


def key_text(name: str) -> st.SearchStrategy[str]:
    rules = PROPERTIES[name]
    printable = st.text(
        alphabet=string.printable.strip(), min_size=rules["minLength"], max_size=rules["maxLength"]
    )
    return st.one_of(printable.filter(lambda s: " " not in s), st.text(max_size=300))


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
WEBHOOKS = st.fixed_dictionaries(
    {
        "id": key_text("id"),
        "type": key_text("type"),
        "data": st.dictionaries(st.text(max_size=8), JSON_VALUES),
    },
    optional={"extra": JSON_VALUES},
).map(json.dumps)
HOSTILE = st.sampled_from(
    [
        '{"id": "\\ud800", "type": "t", "data": {}}',  # a lone surrogate
        '{"id": "e", "type": "\\udfff\\ud800", "data": {}}',
        '{"id": "e", "type": "t", "data": {"n": NaN}}',
        '{"id": "e", "type": "t", "data": {"n": -Infinity}}',
        '{"id": "e", "type": "t", "data": {"n": 1e400}}',  # overflows a double
        '{"id": "e", "type": "t", "data": {"n": ' + "9" * 5000 + "}}",  # over Python's int digits
        '{"id": "e", "type": "t", "data": ' + "[" * 5000 + "]" * 5000 + "}",  # deep nesting
        '{"id": "e", "type": "t", "data": ' + '{"a":' * 900 + "1" + "}" * 900 + "}",
        '{"id": "e", "type": "t", "data": {"x": "' + "a" * (MAX_BODY + 1) + '"}}',  # oversized
        '{"id": "e", "type": "t", "data": {"x": "' + "\\u00e9" * (MAX_BODY // 5) + '"}}',
        '{"id": "e\\u0000", "type": "t", "data": {}}',
        '{"id": "e", "type": "t", "data": {}, "id": "again"}',
        "[]",
        "null",
        "",
        "\udc80\udcff not UTF-8",
    ]
)
BODIES = st.one_of(WEBHOOKS, HOSTILE, st.text(max_size=200))


def body_bytes(body: str) -> bytes:
    return (
        body.encode("utf-8", "surrogateescape")
        if any("\udc80" <= c <= "\udcff" for c in body)
        else body.encode("utf-8", "surrogatepass")
    )


def post(cloud, body: bytes, headers: dict[str, str]):
    return cloud.api().post("/webhooks", body=body, headers={"Content-Type": "application/json", **headers})


def assert_answered(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != 202:
        assert response.json()["message"], "a refusal says why"


@FUZZ
@given(body=BODIES)
@example(body='{"id": "e", "type": "t", "data": {}}')
@example(body='{"id": "e", "type": "t", "data": {"x": "' + "a" * (MAX_BODY + 1) + '"}}')
@example(body='{"id": "e", "type": "t", "data": {"n": NaN}}')
def test_a_signed_call_is_accepted_or_refused_with_a_4xx_never_a_5xx(cloud, sender, body):
    raw = body_bytes(body)
    sends = len(cloud.trace.find("send"))
    response = post(cloud, raw, sender.headers(raw))
    assert_answered(response)
    assert response.status_code in (202, 400, 413), response.text
    assert len(cloud.trace.find("send")) == sends + (response.status_code == 202)


@FUZZ
@given(
    body=st.one_of(WEBHOOKS, HOSTILE),
    signature=st.one_of(
        st.none(), st.text(max_size=80), st.from_regex(r"sha256=[0-9a-f]{64}", fullmatch=True)
    ),
    timestamp=st.one_of(
        st.none(), st.text(max_size=20), st.integers(min_value=-(10**20), max_value=10**20).map(str)
    ),
)
@example(body='{"id": "e", "type": "t", "data": {}}', signature=None, timestamp=None)
def test_a_forged_or_unsigned_call_is_refused_and_never_queued(cloud, sender, body, signature, timestamp):
    raw = body_bytes(body)
    headers = {
        name: value
        for name, value in (
            (SIGNATURE["signature_header"], signature),
            (SIGNATURE["timestamp_header"], timestamp),
        )
        if value is not None
    }
    sends = len(cloud.trace.find("send"))
    response = post(cloud, raw, headers)
    assert_answered(response)
    assert response.status_code in (400, 401), "refused by the model, else by the signature check"
    assert len(cloud.trace.find("send")) == sends


@FUZZ
@given(body=WEBHOOKS, skew=st.integers(min_value=-(10**6), max_value=10**6))
def test_only_a_fresh_timestamp_is_accepted(cloud, sender, body, skew):
    raw = body.encode("utf-8", "surrogatepass")
    now = int(cloud.clock.now().timestamp())
    response = post(cloud, raw, sender.headers(raw, timestamp=now + skew))
    assert_answered(response)
    if abs(skew) > SIGNATURE["tolerance_seconds"] and response.status_code != 400:
        assert response.status_code == 401


def test_what_was_accepted_is_stored_and_nothing_reaches_the_dead_letter_queue(cloud):
    cloud.drain()
    dead = (
        cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"]).get("Messages", [])
    )
    assert dead == []
    accepted = [s for s in cloud.trace.find("request") if s.outcome == "202"]
    stored = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"], Select="COUNT")["Count"]
    assert accepted and 0 < stored <= len(accepted), "ids repeat across examples: each is stored once"


def test_the_fuzzing_reached_every_answer(cloud):
    """Guards the strategies: each answer the pattern gives was produced by some example."""
    outcomes = {span.outcome for span in cloud.trace.find("request")}
    assert {"202", "400", "401", "413"} <= outcomes, outcomes
