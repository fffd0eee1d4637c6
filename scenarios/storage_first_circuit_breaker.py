"""Storage-First + Circuit Breaker, as deployed: the fulfilment service goes down; the first failures
open the circuit; the recovery check disables the processor's event source mapping, so the requests
posted during the outage wait in SQS unreceived; its probes back off while the service stays down;
once it is back a probe closes the circuit, the check enables the mapping, and every stored request
is processed once, none in the dead-letter queue.
"""

from __future__ import annotations

from scenarios import Show

DURING_OUTAGE = 8


def run(show: Show) -> None:
    cloud = show.cloud
    ddb, sqs = cloud.client("dynamodb"), cloud.client("sqs")
    out = cloud.outputs
    uuid = out["EventSourceMappingId"]
    api = cloud.api()

    def post(n: int) -> str:
        answer = api.post("/requests", json={"type": "order.placed", "payload": {"order_id": f"o-{n}"}})
        return answer.json()["requestId"] if answer.status == 202 else f"refused {answer.status}"

    def deliveries() -> dict[str, int]:
        items = ddb.scan(TableName=out["FulfilmentTableName"])["Items"]
        return {i["request_id"]["S"]: int(i["deliveries"]["N"]) for i in items if "deliveries" in i}

    def processed() -> set[str]:
        return {i["request_id"]["S"] for i in ddb.scan(TableName=out["ProcessedTableName"])["Items"]}

    def circuit() -> str:
        item = ddb.get_item(TableName=out["CircuitTableName"], Key={"circuit": {"S": "fulfilment-service"}})
        return item["Item"]["state"]["S"] if "Item" in item else "CLOSED"

    def mapping() -> str:
        return cloud.client("lambda").get_event_source_mapping(UUID=uuid)["State"]

    def waiting(queue: str) -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=out[queue],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    first = post(0)
    cloud.drain()
    show.equal(
        "a request is stored, then processed once", (first in processed(), deliveries().get(first)), (True, 1)
    )
    refused = api.post("/requests", json={"type": "order.shipped", "payload": {}})
    show.equal("a body outside the model is refused by API Gateway: 400", refused.status, 400)

    ddb.put_item(TableName=out["FulfilmentTableName"], Item={"request_id": {"S": "OUTAGE"}})
    ids = {post(n) for n in range(1, DURING_OUTAGE + 1)}
    show.equal("during the outage every request is still stored: 202", len(ids), DURING_OUTAGE)
    cloud.advance(1)
    show.equal("five failures open the circuit; the rest of the batch is held unsent", circuit(), "OPEN")
    cloud.advance(60)
    show.equal("the recovery check disables the processor's event source mapping", mapping(), "Disabled")
    processor = cloud.function("Pattern/Intake/Processor").name
    invoked = len(cloud.trace.find("invoke", target=processor))
    cloud.advance(90)
    show.equal(
        "held: all stored, none received again, none dead-lettered, none processed",
        (
            waiting("QueueUrl"),
            len(cloud.trace.find("invoke", target=processor)) - invoked,
            waiting("DeadLetterQueueUrl"),
            len(ids & processed()),
        ),
        (DURING_OUTAGE, 0, 0, 0),
    )

    ddb.delete_item(TableName=out["FulfilmentTableName"], Key={"request_id": {"S": "OUTAGE"}})
    for _ in range(11):
        if circuit() == "CLOSED":
            break
        cloud.advance(60)
    show.equal(
        "the service is back: a probe closes the circuit and the mapping is enabled",
        (circuit(), mapping()),
        ("CLOSED", "Enabled"),
    )
    cloud.drain()
    accepted = deliveries()
    show.equal("every stored request is processed after recovery", ids <= processed(), True)
    show.equal("none twice", {accepted.get(i) for i in ids}, {1})
    show.equal(
        "the queue and the dead-letter queue are empty",
        (waiting("QueueUrl"), waiting("DeadLetterQueueUrl")),
        (0, 0),
    )
