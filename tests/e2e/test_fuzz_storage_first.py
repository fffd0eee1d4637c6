"""Storage-first fuzzed through its front door, on each of its three constructs: bodies made from
the request model plus hostile values (lone surrogates, huge and non-finite numbers, deep nesting,
oversized bodies, quotes and backslashes) and random query strings never get a 5xx from the
pattern, every 4xx says what is wrong, and whatever was accepted is processed or dead-lettered,
never lost."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from patterns.registry import get
from patterns.storage_first import request_contract

pytestmark = pytest.mark.e2e

PATTERN = get("storage_first")
REQUEST_TYPES: list[str] = request_contract()["request_types"]
HOSTILE_TEXT = st.sampled_from(
    ["\ud800", '"}', "\\", '\\"', "'", "\u0000\n", "\U0001f600", '","request_id":"forged', "x" * 1000]
)
TEXT = st.one_of(st.text(max_size=30), HOSTILE_TEXT)
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e308", "1e400", "1" * 60, "-0"]),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT, lambda inner: st.lists(inner, max_size=3), max_leaves=6
)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    """JSON text shaped like the request model, or not quite, or not JSON at all."""
    kind = draw(st.sampled_from(["request", "request", "request", "big", "deep", "other", "garbage"]))
    request_type = json.dumps(draw(st.one_of(st.sampled_from(REQUEST_TYPES), TEXT)))
    key = json.dumps(draw(TEXT))
    if kind == "request":
        payload = f"{{{key}: {draw(NUMBER_TEXT)}, {json.dumps(draw(TEXT))}: {json.dumps(draw(JSON_VALUE))}}}"
        return f'{{"type": {request_type}, "payload": {payload}}}'
    if kind == "big":
        size = draw(st.sampled_from([262_200, 410_000, 1_050_000]))
        return json.dumps({"type": REQUEST_TYPES[0], "payload": {"note": "x" * size}})
    if kind == "deep":
        depth = draw(st.sampled_from([50, 999, 1001, 5000]))
        return f'{{"type": {request_type}, "payload": {{"x": ' + "[" * depth + "]" * depth + "}}"
    if kind == "other":
        return json.dumps(draw(JSON_VALUE))
    return draw(st.text(max_size=60))


@pytest.fixture(scope="module", params=[None, *(v.id for v in PATTERN.variants)], ids=str)
def cloud(request, cloud_assembly):
    name = PATTERN.stack_name if request.param is None else PATTERN.variant_stack_name(request.param)
    with LocalCloud(load_stack(cloud_assembly.directory, name), start=FIXED_START) as started:
        started.accepted = []
        yield started


@settings(max_examples=40, deadline=None, derandomize=True)
@given(body=bodies(), query=st.dictionaries(st.text(min_size=1, max_size=5), TEXT, max_size=2))
def test_no_request_gets_a_5xx_and_every_4xx_says_why(cloud, body, query):
    cloud.advance(0.05)  # the stage's throttle lets 100 a second in
    response = cloud.api().request(
        "POST",
        "/requests",
        body=body.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"},
        query=query,
    )
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json().get("message"), response.text
    if response.status_code == 202:
        cloud.accepted.append(response.json()["requestId"])


def test_every_accepted_request_is_processed_or_dead_lettered(cloud):
    cloud.drain()
    dynamodb, sqs = cloud.client("dynamodb"), cloud.client("sqs")
    processed = {
        item["request_id"]["S"]
        for item in dynamodb.scan(
            TableName=cloud.outputs["ProcessedTableName"], ProjectionExpression="request_id"
        )["Items"]
    }
    assert cloud.accepted and processed <= set(cloud.accepted)
    if "RequestsTableName" in cloud.outputs:  # the stream's failure queue holds batch records, not requests
        stored = dynamodb.scan(
            TableName=cloud.outputs["RequestsTableName"], ProjectionExpression="request_id"
        )
        assert {item["request_id"]["S"] for item in stored["Items"]} == set(cloud.accepted)
        return
    dead = int(
        sqs.get_queue_attributes(
            QueueUrl=cloud.outputs["DeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    )
    assert len(processed) + dead == len(cloud.accepted)
