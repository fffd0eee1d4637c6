"""The circuit breaker offline, as deployed, through API Gateway, on the virtual clock: a flaky rate
service (its outage switched in its own table) opens the circuit; while open, callers get a 503 with
Retry-After at once and the service is not called; one probe after the timeout, a failed probe
doubling it, a successful one closing the circuit. The race of concurrent failure reports is played
in tests/unit/test_shared_circuit_breaker.py: the local cloud runs synchronous invocations one at a time.
"""

from __future__ import annotations

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

#: How long each call of the failing service takes on the virtual clock: a sick dependency is slow.
SICK_SECONDS = 2.0


@pytest.fixture(scope="module")
def started(cloud_assembly):
    with LocalCloud(load_stack(cloud_assembly.directory, "CircuitBreakerStack"), start=FIXED_START) as cloud:
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["RatesTableName"],
            Item={"currency": {"S": "EUR"}, "rate": {"S": "1.0842"}},
        )
        yield cloud


@pytest.fixture
def cloud(started):
    """The module's cloud with the circuit closed (no item) and the service healthy."""
    ddb = started.client("dynamodb")
    ddb.delete_item(TableName=started.outputs["CircuitTableName"], Key={"circuit": {"S": "rates-service"}})
    outage(started, False)
    return started


def outage(cloud, on: bool) -> None:
    ddb, table = cloud.client("dynamodb"), cloud.outputs["RatesTableName"]
    if on:
        ddb.put_item(TableName=table, Item={"currency": {"S": "OUTAGE"}})
    else:
        ddb.delete_item(TableName=table, Key={"currency": {"S": "OUTAGE"}})
    cloud.function("Pattern/Dependency").duration = SICK_SECONDS if on else 0.0


def circuit(cloud) -> dict | None:
    item = (
        cloud.client("dynamodb")
        .get_item(
            TableName=cloud.outputs["CircuitTableName"],
            Key={"circuit": {"S": "rates-service"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return None
    return {k: v.get("S") or int(v["N"]) for k, v in item.items()}


def dependency_calls(cloud) -> int:
    return len(cloud.trace.find("invoke", target=cloud.function("Pattern/Dependency").name))


def last_caller_seconds(cloud) -> float:
    span = cloud.trace.find("invoke", target=cloud.function("Pattern/Caller").name)[-1]
    return span.ended - span.at


def test_a_healthy_dependency_answers_through_the_closed_circuit_and_writes_nothing(cloud):
    api = cloud.api()
    answer = api.get("/rates/EUR")
    assert (answer.status, answer.json()) == (200, {"currency": "EUR", "rate": "1.0842"})
    unknown = api.get("/rates/XYZ")
    assert (unknown.status, unknown.json()["message"]) == (404, "no rate for currency XYZ")
    calls = dependency_calls(cloud)
    malformed = api.get("/rates/EUR-USD")
    assert (malformed.status, malformed.json()["message"]) == (
        400,
        "currency: 1 to 12 letters or digits, such as EUR",
    )
    assert dependency_calls(cloud) == calls, "refused before the breaker"
    assert circuit(cloud) is None, "successes and refusals cost no write"
    assert cloud.trace.find("denied") == []


def test_every_transition_on_the_virtual_clock(cloud):
    api = cloud.api()
    outage(cloud, True)
    calls = dependency_calls(cloud)
    for _ in range(4):
        assert api.get("/rates/EUR").status == 502
    assert (circuit(cloud)["state"], circuit(cloud)["failures"]) == ("CLOSED", 4)
    failed = api.get("/rates/EUR")
    assert (failed.status, failed.json()["message"]) == (502, "the rate service failed; try again later")
    assert last_caller_seconds(cloud) == SICK_SECONDS, "a call to the sick service waits it out"
    state = circuit(cloud)
    assert (state["state"], state["failures"], state["opens"], state["open_ms"]) == ("OPEN", 5, 1, 30_000)
    assert dependency_calls(cloud) == calls + 5

    # open: fail fast, the service not called
    for _ in range(3):
        refused = api.get("/rates/EUR")
        assert refused.status == 503 and refused.header("Retry-After") == "30"
        assert last_caller_seconds(cloud) == 0.0, "fails fast: no waiting on the sick service"
    assert refused.json() == {
        "statusCode": 503,
        "message": "the rate service is unavailable: circuit rates-service is open; retry after 30 s",
    }
    assert dependency_calls(cloud) == calls + 5
    cloud.advance(29.5)
    assert api.get("/rates/EUR").header("Retry-After") == "1"
    assert dependency_calls(cloud) == calls + 5

    # half-open: one probe, which fails: open again for twice as long
    cloud.advance(0.5)
    assert api.get("/rates/EUR").status == 502
    assert dependency_calls(cloud) == calls + 6
    state = circuit(cloud)
    assert (state["state"], state["open_ms"], state["reopens"], state["opens"]) == ("OPEN", 60_000, 1, 1)
    assert api.get("/rates/EUR").header("Retry-After") == "60"

    # the service recovers; the next probe closes the circuit
    outage(cloud, False)
    cloud.advance(30)
    assert api.get("/rates/EUR").status == 503, "still open: the timeout doubled"
    cloud.advance(30)
    assert api.get("/rates/EUR").status == 200
    assert dependency_calls(cloud) == calls + 7
    state = circuit(cloud)
    assert (state["state"], state["failures"], state["open_ms"]) == ("CLOSED", 0, 0)
    assert api.get("/rates/EUR").status == 200
    assert dependency_calls(cloud) == calls + 8


def test_while_another_instances_probe_is_in_flight_callers_fail_fast_until_it_is_given_up(cloud):
    now_ms = int((FIXED_START.timestamp() + cloud.clock.elapsed()) * 1000)
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["CircuitTableName"],
        Item={
            "circuit": {"S": "rates-service"},
            "state": {"S": "HALF_OPEN"},
            "version": {"N": "7"},
            "probe_started_ms": {"N": str(now_ms)},
            "probe_version": {"N": "7"},
            "open_ms": {"N": "30000"},
        },
    )
    calls = dependency_calls(cloud)
    busy = cloud.api().get("/rates/EUR")
    assert (busy.status, busy.header("Retry-After")) == (503, "1")
    assert busy.json()["message"].endswith(
        "circuit rates-service is half-open, a probe is in flight; retry after 1 s"
    )
    assert dependency_calls(cloud) == calls
    cloud.advance(8)  # the caller's timeout: the probe's function cannot still be running
    assert cloud.api().get("/rates/EUR").status == 200
    assert circuit(cloud)["state"] == "CLOSED" and dependency_calls(cloud) == calls + 1
