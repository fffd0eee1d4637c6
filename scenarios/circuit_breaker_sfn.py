"""Circuit Breaker (Step Functions), as deployed, on the virtual clock: three callers meet a blip of the
rate service and their retries hide it, but the three failed invocations raise the alarm on the
service's errors when its minute is evaluated; EventBridge hands the alarm's state change to the
control workflow, which opens the circuit. While it is open a call fails fast without invoking the
service; the scheduled health check probes once a minute and closes the circuit when the service
answers. A call that fails through all its retries opens the circuit itself and fails with the
workflow's own error.
"""

from __future__ import annotations

import itertools
from typing import Any

from scenarios import Show

CALLERS = 3
PERIOD = 60


def run(show: Show) -> None:
    cloud = show.cloud
    ddb = cloud.client("dynamodb")
    rates, circuits = cloud.outputs["RatesTableName"], cloud.outputs["CircuitTableName"]
    workflow, alarm = cloud.outputs["CallWorkflowArn"], cloud.outputs["AlarmName"]
    dependency = cloud.function("Pattern/Dependency")
    ddb.put_item(TableName=rates, Item={"currency": {"S": "EUR"}, "rate": {"S": "1.0842"}})

    def outage(on: bool) -> None:
        if on:
            ddb.put_item(TableName=rates, Item={"currency": {"S": "OUTAGE"}})
        else:
            ddb.delete_item(TableName=rates, Key={"currency": {"S": "OUTAGE"}})

    def circuit() -> dict[str, Any]:
        item = ddb.get_item(TableName=circuits, Key={"circuit": {"S": "rates-service"}}, ConsistentRead=True)
        return {k: v.get("S") or int(v["N"]) for k, v in item.get("Item", {}).items()}

    def calls() -> int:
        return len(cloud.trace.find("invoke", target=dependency.name))

    def alarm_state() -> str:
        described = cloud.client("cloudwatch").describe_alarms(AlarmNames=[alarm])
        return described["MetricAlarms"][0]["StateValue"]

    def to_next_period() -> None:
        """CloudWatch's periods are aligned on the epoch: on to the start of the next one."""
        cloud.advance(PERIOD - cloud.clock.now().timestamp() % PERIOD)

    to_next_period()
    answered = cloud.start_execution(workflow, {"currency": "EUR"})
    cloud.drain()
    show.equal(
        "closed: the workflow calls the rate service and answers with its rate",
        (answered.status, answered.output),
        ("SUCCEEDED", {"currency": "EUR", "rate": "1.0842"}),
    )
    show.equal("a success writes nothing: no circuit item", circuit(), {})

    outage(True)
    before = calls()
    blipped = [cloud.start_execution(workflow, {"currency": "EUR"}) for _ in range(CALLERS)]
    cloud.advance(0.5)
    show.equal(
        "a blip: each caller's first call fails", (calls() - before, blipped[0].status), (3, "RUNNING")
    )
    outage(False)
    cloud.advance(5)
    show.equal(
        "each is retried 1 s later and succeeds: the retries hide the blip from the callers",
        [(e.status, e.states().count("CallDependency")) for e in blipped],
        [("SUCCEEDED", 1)] * CALLERS,
    )
    show.equal("so the workflow never opened the circuit", circuit(), {})

    outage(True)
    to_next_period()
    show.equal("but the alarm counted 3 errors in its minute: ALARM", alarm_state(), "ALARM")
    opened = circuit()
    show.equal(
        "its state change reached EventBridge, whose rule ran the control workflow: OPEN, by the alarm",
        (opened.get("state"), opened.get("opened_by"), opened.get("reason", "")[:36]),
        ("OPEN", "alarm", "Threshold Crossed: 1 out of the last"),
    )

    before = calls()
    refused = cloud.start_execution(workflow, {"currency": "EUR"})
    cloud.drain()
    show.equal(
        "open: the call fails fast with CircuitOpen",
        (refused.status, refused.error, refused.states()[-1]),
        ("FAILED", "CircuitOpen", "CircuitOpen"),
    )
    show.equal("open: the rate service is not invoked", calls(), before)

    cloud.advance(PERIOD)
    show.equal(
        "a minute on, the health check probes once; the service still fails: still OPEN",
        (calls() - before, circuit().get("state")),
        (1, "OPEN"),
    )
    outage(False)
    cloud.advance(PERIOD)
    show.equal(
        "the service is back: the next health check closes the circuit", circuit().get("state"), "CLOSED"
    )
    again = cloud.start_execution(workflow, {"currency": "EUR"})
    cloud.drain()
    show.equal("closed: calls go through again", again.status, "SUCCEEDED")

    outage(True)
    before = calls()
    failed = cloud.start_execution(workflow, {"currency": "EUR"})
    cloud.drain()
    # The call's own invokes: where the start second puts a minute's end in the retries' 7 s, the alarm's
    # control workflow probes the dependency in the same seconds.
    caller = workflow.rsplit(":", 1)[-1]
    invokes = cloud.trace.find("invoke", target=dependency.name)[before:]
    starts = [span.at for span in invokes if span.source == caller]
    show.equal(
        "a lasting failure: the call and its 3 retries, 1, 2 and 4 s apart, all fail",
        [later - earlier for earlier, later in itertools.pairwise(starts)],
        [1, 2, 4],
    )
    show.equal(
        "then the workflow opens the circuit itself and fails with its own error",
        (failed.status, failed.error, "RatesFeedDown" in (failed.cause or ""), circuit().get("opened_by")),
        ("FAILED", "DependencyUnavailable", True, "execution"),
    )
    outage(False)
    cloud.advance(2 * PERIOD)
    final = circuit()
    show.equal(
        "its 4 errors raise the alarm at the minute's end, which opens it too; the health check closes it",
        (final.get("state"), final.get("opened_by"), alarm_state()),
        ("CLOSED", "alarm", "OK"),
    )
