"""Circuit Breaker, as deployed: the rate service's outage opens the circuit after five failures;
while open, callers get a 503 with Retry-After at once and the service is not called; after the
timeout one probe goes through, a failed probe doubles the timeout, and once the service is back a
probe closes the circuit. Each failing call waits 2 virtual seconds on the sick service.
"""

from __future__ import annotations

from scenarios import Show

SICK_SECONDS = 2.0
THRESHOLD = 5


def run(show: Show) -> None:
    cloud = show.cloud
    ddb = cloud.client("dynamodb")
    rates_table, circuit_table = cloud.outputs["RatesTableName"], cloud.outputs["CircuitTableName"]
    ddb.put_item(TableName=rates_table, Item={"currency": {"S": "EUR"}, "rate": {"S": "1.0842"}})
    dependency, caller = cloud.function("Pattern/Dependency"), cloud.function("Pattern/Caller")
    api = cloud.api()

    def circuit() -> dict:
        item = ddb.get_item(
            TableName=circuit_table, Key={"circuit": {"S": "rates-service"}}, ConsistentRead=True
        ).get("Item", {})
        return {k: v.get("S") or int(v["N"]) for k, v in item.items()}

    def calls() -> int:
        return len(cloud.trace.find("invoke", target=dependency.name))

    def last_took() -> float:
        span = cloud.trace.find("invoke", target=caller.name)[-1]
        return span.ended - span.at

    show.equal("GET /rates/EUR answers through the closed circuit", api.get("/rates/EUR").status, 200)
    show.equal("a success writes nothing: no circuit item", circuit(), {})
    show.equal(
        "an unknown currency is the service's answer, 404, not a failure", api.get("/rates/XYZ").status, 404
    )
    show.equal("a malformed currency is refused with 400", api.get("/rates/EUR-USD").status, 400)

    ddb.put_item(TableName=rates_table, Item={"currency": {"S": "OUTAGE"}})
    dependency.duration = SICK_SECONDS
    before = calls()
    statuses = [api.get("/rates/EUR").status for _ in range(THRESHOLD)]
    show.equal("during the outage each call fails with 502", statuses, [502] * THRESHOLD)
    show.equal("a call to the sick service waits it out (2 s)", last_took(), SICK_SECONDS)
    state = circuit()
    show.equal(
        "five failures within the window open the circuit, once",
        (state.get("state"), state.get("failures"), state.get("opens")),
        ("OPEN", THRESHOLD, 1),
    )

    refused = api.get("/rates/EUR")
    show.equal(
        "open: a 503 with Retry-After, not a stack trace",
        (refused.status, refused.header("Retry-After")),
        (503, "30"),
    )
    show.equal("open: the answer is at once (0 s)", last_took(), 0.0)
    show.equal("open: the service is not called", calls(), before + THRESHOLD)

    cloud.advance(30)
    show.equal(
        "after 30 s one probe goes through; the service still fails: 502", api.get("/rates/EUR").status, 502
    )
    state = circuit()
    show.equal(
        "the failed probe opens it again for twice as long (60 s)",
        (state.get("state"), state.get("open_ms"), state.get("reopens")),
        ("OPEN", 60_000, 1),
    )
    show.equal("so the next caller is told 60 s", api.get("/rates/EUR").header("Retry-After"), "60")

    ddb.delete_item(TableName=rates_table, Key={"currency": {"S": "OUTAGE"}})
    dependency.duration = 0.0
    cloud.advance(60)
    show.equal("the service is back: the next probe answers 200", api.get("/rates/EUR").status, 200)
    state = circuit()
    show.equal("and closes the circuit", (state.get("state"), state.get("failures")), ("CLOSED", 0))
    show.equal("closed: calls go through again", api.get("/rates/EUR").status, 200)
    show.equal(
        "the service was called 5 times in the outage, once per probe, then per call",
        calls() - before,
        THRESHOLD + 3,
    )
