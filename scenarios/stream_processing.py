"""Data streaming: meters totalled in order and once, one shard's meters processed in concurrent
batches, and a bad reading bisected out to the failure queue while the rest of the shard goes on."""

from __future__ import annotations

import json

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    kinesis, stream = cloud.client("kinesis"), cloud.outputs["StreamName"]
    processor = cloud.function("Processor").name

    def put(meter: str, kwh: object) -> str:
        data = json.dumps({"meter_id": meter, "kwh": kwh}).encode()
        return kinesis.put_record(StreamName=stream, Data=data, PartitionKey=meter)["SequenceNumber"]

    def total(meter: str) -> tuple[int, int] | None:
        item = cloud.client("dynamodb").get_item(
            TableName=cloud.outputs["TableName"], Key={"meter_id": {"S": meter}}
        )
        found = item.get("Item")
        return None if found is None else (int(found["total_kwh"]["N"]), int(found["readings"]["N"]))

    meters = [f"meter-{n}" for n in range(1, 7)]
    for kwh in (3, 5, 8):
        for meter in meters:
            put(meter, kwh)
    cloud.advance(4)
    show.equal("the batching window holds small batches for 5 s", total("meter-1"), None)
    cloud.drain()
    show.equal(
        "each meter's total is the sum of its readings",
        {m: total(m) for m in meters},
        {m: (16, 3) for m in meters},
    )
    first = [d for d in cloud.trace.find("deliver", target=processor)]
    show.that(
        "a shard's meters go in several batches at once (parallelization factor 4)",
        len(first) > 2 and len({d.at for d in first}) == 1,
        [(d.at, d.detail) for d in first],
    )

    put("meter-1", 10)
    poison = put("meter-1", -1)  # a negative reading: fails every time
    put("meter-1", 20)
    for meter in meters[1:]:
        put(meter, 1)
    cloud.drain()
    show.equal("meter-1's good readings are counted once each", total("meter-1"), (46, 5))
    show.equal(
        "the other meters go on",
        {m: total(m) for m in meters[1:]},
        {m: (17, 4) for m in meters[1:]},
    )
    messages = cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["FailureQueueUrl"])
    infos = [json.loads(m["Body"])["KinesisBatchInfo"] for m in messages.get("Messages", [])]
    show.equal(
        "the bad reading alone reaches the failure queue as Lambda's batch info",
        [(i["startSequenceNumber"], i["endSequenceNumber"], i["batchSize"]) for i in infos],
        [(poison, poison, 1)],
    )
