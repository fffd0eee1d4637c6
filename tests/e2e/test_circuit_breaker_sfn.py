"""The Step Functions circuit breaker offline, as deployed, on the virtual clock: the call workflow's
retries with back-off and its mapped error; the alarm on the rate service's Errors, evaluated at the
end of each minute from the datapoints the failed invocations emit, opening the circuit through
EventBridge and the control workflow (below the threshold it does not); fail fast while open; the
scheduled health check closing it; and a probe that cannot undo an opening made after its read.
The whole story, played as the demo plays it, is ``scenarios/circuit_breaker_sfn.py``.
"""

from __future__ import annotations

import itertools

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import load_stack
from localcloud.core.clock import FIXED_START

pytestmark = pytest.mark.e2e

PERIOD = 60
CIRCUIT_KEY = {"circuit": {"S": "rates-service"}}


@pytest.fixture(scope="module")
def started(cloud_assembly):
    stack = load_stack(cloud_assembly.directory, "CircuitBreakerSfnStack")
    with LocalCloud(stack, start=FIXED_START) as cloud:
        cloud.client("dynamodb").put_item(
            TableName=cloud.outputs["RatesTableName"],
            Item={"currency": {"S": "EUR"}, "rate": {"S": "1.0842"}},
        )
        yield cloud


@pytest.fixture
def cloud(started):
    """The module's cloud at the start of a minute, the circuit closed, the service healthy."""
    outage(started, False)
    started.function("Pattern/Dependency").duration = 0.0
    started.advance(PERIOD - started.clock.now().timestamp() % PERIOD)
    started.client("dynamodb").delete_item(TableName=started.outputs["CircuitTableName"], Key=CIRCUIT_KEY)
    return started


def outage(cloud, on: bool) -> None:
    ddb, table = cloud.client("dynamodb"), cloud.outputs["RatesTableName"]
    if on:
        ddb.put_item(TableName=table, Item={"currency": {"S": "OUTAGE"}})
    else:
        ddb.delete_item(TableName=table, Key={"currency": {"S": "OUTAGE"}})


def circuit(cloud) -> dict:
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.outputs["CircuitTableName"], Key=CIRCUIT_KEY, ConsistentRead=True
    )
    return {k: v.get("S") or int(v["N"]) for k, v in item.get("Item", {}).items()}


def invocations(cloud) -> list[float]:
    """When each invocation of the rate service started, in virtual seconds."""
    return [span.at for span in cloud.trace.find("invoke", target=cloud.function("Pattern/Dependency").name)]


def call(cloud, payload=None):
    execution = cloud.start_execution(cloud.outputs["CallWorkflowArn"], payload or {"currency": "EUR"})
    cloud.drain()
    return execution


def alarm_state(cloud) -> str:
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=[cloud.outputs["AlarmName"]])
    return alarms["MetricAlarms"][0]["StateValue"]


def test_the_alarm_opens_the_circuit_at_its_threshold_and_the_health_check_closes_it(cloud):
    dependency = cloud.outputs["DependencyFunctionName"]
    # A breaching minute keeps the alarm in ALARM while it is in its evaluation range: a new breach
    # changes its state (and so opens the circuit) only from OK. First in the file, it starts OK.
    for _ in range(4):
        if alarm_state(cloud) == "OK":
            break
        cloud.advance(PERIOD)
    outage(cloud, True)
    for _ in range(2):
        assert cloud.invoke(dependency, {"currency": "EUR"})["FunctionError"] == "Unhandled"
    cloud.advance(PERIOD)
    assert (alarm_state(cloud), circuit(cloud)) == ("OK", {}), "2 errors in the minute: below the threshold"

    for _ in range(3):
        cloud.invoke(dependency, {"currency": "EUR"})
    errors = cloud.metrics("AWS/Lambda", "Errors", {"FunctionName": dependency})
    assert [point.sum for point in errors[-3:]] == [1.0, 1.0, 1.0]
    cloud.advance(PERIOD - 1)
    assert circuit(cloud) == {}, "the alarm decides at the end of its period, not before"
    cloud.advance(1)
    assert alarm_state(cloud) == "ALARM"
    state = circuit(cloud)
    assert (state["state"], state["opened_by"]) == ("OPEN", "alarm")
    assert state["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [3.0 ")

    before = len(invocations(cloud))
    refused = call(cloud)
    assert (refused.status, refused.error, refused.states()[-1]) == ("FAILED", "CircuitOpen", "CircuitOpen")
    assert len(invocations(cloud)) == before, "open: the service is not invoked"

    cloud.advance(PERIOD)
    assert len(invocations(cloud)) == before + 1, "the health check probed once"
    assert circuit(cloud)["state"] == "OPEN", "a failed probe keeps it open"
    cloud.advance(PERIOD)
    assert alarm_state(cloud) == "OK"
    assert circuit(cloud)["state"] == "OPEN", "the alarm going back to OK does not close it"

    outage(cloud, False)
    cloud.advance(PERIOD)
    closed = circuit(cloud)
    assert (closed["state"], closed["version"]) == ("CLOSED", 2)
    assert call(cloud).status == "SUCCEEDED"


def test_a_transient_failure_is_retried_after_the_interval_and_the_caller_gets_the_answer(cloud):
    before = len(invocations(cloud))
    outage(cloud, True)
    execution = cloud.start_execution(cloud.outputs["CallWorkflowArn"], {"currency": "EUR"})
    cloud.advance(0.5)
    assert execution.status == "RUNNING"
    outage(cloud, False)
    cloud.drain()

    assert (execution.status, execution.output) == ("SUCCEEDED", {"currency": "EUR", "rate": "1.0842"})
    started = invocations(cloud)[before:]
    assert [later - earlier for earlier, later in itertools.pairwise(started)] == [1]
    assert circuit(cloud) == {}, "a success writes nothing"


def test_a_permanent_failure_is_retried_3_times_with_backoff_then_opens_the_circuit_and_fails_mapped(cloud):
    before = len(invocations(cloud))
    outage(cloud, True)
    execution = call(cloud)

    started = invocations(cloud)[before:]
    assert [later - earlier for earlier, later in itertools.pairwise(started)] == [1, 2, 4]
    assert (execution.status, execution.error) == ("FAILED", "DependencyUnavailable")
    assert '"errorType":"RatesFeedDown"' in execution.cause
    assert execution.states()[-2:] == ["OpenAfterRetries", "DependencyUnavailable"]
    state = circuit(cloud)
    assert (state["state"], state["opened_by"], state["reason"], state["version"]) == (
        "OPEN",
        "execution",
        "RatesFeedDown",
        1,
    )
    assert state["opened_at"] == "2026-01-01T00:{:02d}:{:02d}.000Z".format(*divmod(int(started[-1]), 60))

    refused = call(cloud)
    assert (refused.status, refused.error) == ("FAILED", "CircuitOpen")
    assert len(invocations(cloud)) == before + 4, "open: the service is not invoked"


def test_a_probe_cannot_close_a_circuit_opened_after_its_read(cloud):
    control = cloud.outputs["ControlWorkflowArn"]
    closed_probe = cloud.start_execution(control, {"command": "probe"})
    cloud.drain()
    assert closed_probe.states()[-1] == "NotOpen"

    cloud.start_execution(control, {"command": "open", "reason": "first"})
    cloud.drain()
    cloud.function("Pattern/Dependency").duration = 5.0
    probe = cloud.start_execution(control, {"command": "probe"})
    cloud.advance(1)
    cloud.start_execution(control, {"command": "open", "reason": "again, during the probe"})
    cloud.drain()

    assert probe.states()[-2:] == ["CloseCircuit", "ChangedMeanwhile"]
    state = circuit(cloud)
    assert (state["state"], state["reason"], state["version"]) == ("OPEN", "again, during the probe", 2)

    unknown = cloud.start_execution(control, {"command": "close"})
    cloud.drain()
    assert (unknown.status, unknown.error) == ("FAILED", "UnknownCommand")
