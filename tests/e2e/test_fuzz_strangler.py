"""Fuzzing the strangler facade: any method, path, query, header and body a client sends is answered
by the legacy server or the new service, or refused with a 4xx; the facade itself never makes a 5xx."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START
from scenarios.strangler import LegacyServer

pytestmark = pytest.mark.e2e

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def legacy():
    with LegacyServer() as server:
        yield server


@pytest.fixture(scope="module")
def cloud(cloud_assembly, legacy):
    parameters = {"LegacyApiScheme": "http", "LegacyApiHost": legacy.host}
    with LocalCloud(
        load_stack(cloud_assembly.directory, "StranglerStack"), parameters=parameters, start=FIXED_START
    ) as running:
        running.client("dynamodb").put_item(
            TableName=running.outputs["ProductsTableName"],
            Item={"id": {"S": "p-1"}, "name": {"S": "teapot"}, "price_cents": {"N": "1800"}},
        )
        yield running


SEGMENTS = st.one_of(
    st.sampled_from(
        ["products", "p-1", "orders", "reviews", "", ".", "..", "%2e%2e", "%2F", "%00", "%ff", "%"]
    ),
    st.text(min_size=1, max_size=12).map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
    st.integers(min_value=1, max_value=3000).map(lambda n: "x" * n),  # over DynamoDB's 2,048-byte key
    st.integers(min_value=1, max_value=700).map(lambda n: "%E2%82%AC" * n),  # 3 bytes each
)
PATHS = st.one_of(
    st.lists(SEGMENTS, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    SEGMENTS.map(lambda id_: f"/products/{id_}"),  # the migrated route, and its neighbours
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
TEXT = st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=40)
HEADERS = st.dictionaries(
    st.sampled_from(
        ["X-Request-Tag", "Authorization", "X-Forwarded-For", "Accept", "Content-Type", "Cookie"]
    ),
    st.one_of(TEXT, st.integers(min_value=1, max_value=8000).map(lambda n: "h" * n)),
    max_size=3,
)
QUERIES = st.dictionaries(
    st.text(min_size=1, max_size=10), st.lists(st.text(max_size=20), max_size=3), max_size=3
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b'{"n": NaN}', b"[" * 5000, b'{"x": "\\ud800"}', b"1e400", b"x" * 1_000_000]),
)


@FUZZ
@given(method=METHODS, path=PATHS, query=QUERIES, headers=HEADERS, body=BODIES)
@example(method="GET", path="/orders/%2e%2e/admin", query={}, headers={}, body=b"")  # a dot segment
@example(method="GET", path="/products/" + "x" * 2049, query={}, headers={}, body=b"")  # over the key limit
@example(method="GET", path="/products/" + "%E2%82%AC" * 683, query={}, headers={}, body=b"")
def test_every_request_is_answered_by_a_backend_or_refused_with_a_4xx(
    cloud, legacy, method, path, query, headers, body
):
    legacy.requests.clear()
    answer = cloud.api().request(method, path, query=query, headers=headers, body=body)
    assert answer.status < 500, (answer.status, answer.text[:300])
    assert not any(_has_dot_segment(seen["path"]) for seen in legacy.requests), "a dot segment got through"
    if answer.status == 400 and not legacy.requests:
        assert answer.json()["message"], "a refusal says why"


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def test_the_fuzzing_reached_the_new_service_the_legacy_server_and_the_refusals(cloud):
    outcomes = {span.outcome for span in cloud.trace.find("request")}
    assert {"200", "400", "403", "404"} <= outcomes, outcomes
    products = cloud.function("Pattern/ProductsFunction").name
    assert cloud.trace.find("invoke", target=products), "some examples reached the migrated route"
    invoked_by = {span.parent for span in cloud.trace.find("invoke", target=products)}
    refused = cloud.trace.find("request", outcome="400")
    assert any(r.id in invoked_by for r in refused), "the service refused an id over the key limit"
    assert cloud.trace.find("waf", outcome="blocked"), "the stage's web ACL blocked a dot segment"
