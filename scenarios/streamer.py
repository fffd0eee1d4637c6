"""They say I'm a streamer: records posted to the API reach S3 through Kinesis and Firehose as GZIP JSON
lines under a timestamped prefix, after the buffer interval or as soon as the buffer is full; a bad
body is refused with a 400 and reaches nothing."""

from __future__ import annotations

import gzip
import json

from scenarios import Show

INTERVAL = 60


def run(show: Show) -> None:
    cloud = show.cloud
    api = cloud.api()
    prefix = f"records/{cloud.clock.now():%Y/%m/%d/%H}/"
    readings = [("meter-a", {"kwh": n}) for n in range(3)] + [("meter-b", {"kwh": 10 + n}) for n in range(2)]
    answers = [api.post(f"/records/{key}", json=body) for key, body in readings[:2]]
    batch = api.post("/records", json={"records": [{"partitionKey": k, "data": d} for k, d in readings[2:]]})
    show.equal(
        "PutRecord answers each record's shard and sequence number",
        [(a.status, sorted(a.json())) for a in answers],
        [(200, ["sequenceNumber", "shardId"])] * 2,
    )
    show.equal(
        "PutRecords answers failedRecordCount and a result per record",
        (batch.status, batch.json()["failedRecordCount"], len(batch.json()["records"])),
        (200, 0, 3),
    )

    cloud.advance(INTERVAL - 1)
    show.equal("nothing is written before the buffer interval", objects(cloud), {})
    cloud.advance(1)
    written = objects(cloud)
    show.that(
        "after the interval one GZIP object lies under the timestamp prefix",
        len(written) == 1 and all(k.startswith(prefix) and k.endswith(".gz") for k in written),
        list(written),
    )
    lines = [json.loads(line) for body in written.values() for line in body.splitlines()]
    show.equal("it decompresses to exactly what was posted, in order", lines, [d for _, d in readings])

    big = "x" * (600 * 1024)
    before = cloud.clock.elapsed()
    api.post("/records/meter-c", json={"blob": big, "n": 1})
    cloud.advance(1)  # a shard takes 1 MiB a second: the second half comes a second later
    api.post("/records/meter-c", json={"blob": big, "n": 2})
    cloud.advance(0)
    full = {k: v for k, v in objects(cloud).items() if k not in written}
    show.that(
        "a full buffer (1 MiB) is written at once, long before the interval",
        cloud.clock.elapsed() == before + 1 and [len(v.splitlines()) for v in full.values()] == [2],
        list(full),
    )

    cloud.advance(1)
    chunk = "y" * (400 * 1024)
    burst = api.post(
        "/records",
        json={"records": [{"partitionKey": "meter-d", "data": {"chunk": chunk, "n": n}} for n in range(3)]},
    )
    show.equal(
        "past a shard's 1 MiB a second, PutRecords stores the records that fit and counts the others as failed",
        (
            burst.status,
            burst.json()["failedRecordCount"],
            [r.get("errorCode") for r in burst.json()["records"]],
        ),
        (200, 1, [None, None, "ProvisionedThroughputExceededException"]),
    )
    cloud.advance(1)
    show.equal(
        "the caller retries the failed record a second later and it is stored",
        api.post("/records/meter-d", json={"chunk": chunk, "n": 2}).status,
        200,
    )
    cloud.advance(0)
    delivered = objects(cloud)
    retried = [v for k, v in delivered.items() if k not in written and k not in full]
    show.equal(
        "the retried record follows the two stored ones, once",
        [[json.loads(line)["n"] for line in body.splitlines()] for body in retried],
        [[0, 1, 2]],
    )

    refused = [
        api.post("/records", json={"records": [{"partitionKey": "", "data": {"kwh": 1}}]}),
        api.post("/records", json={"records": [{"partitionKey": "meter-a", "data": "not an object"}]}),
        api.post("/records/meter-a", body=b"[1, 2]", headers={"Content-Type": "application/json"}),
        api.post(f"/records/{'k' * 257}", json={"kwh": 1}),
    ]
    show.equal("bad bodies and keys are refused with a 400", [r.status for r in refused], [400] * 4)
    show.that(
        "each refusal names what is wrong",
        "partitionKey" in refused[0].json()["message"]
        and "data" in refused[1].json()["message"]
        and "partitionKey" in refused[3].json()["message"],
        [r.json() for r in refused],
    )
    cloud.drain()
    show.equal("a refused record reaches neither the stream nor the bucket", objects(cloud), delivered)
    show.equal(
        "every record went API -> Kinesis -> Firehose -> S3 without a Lambda function",
        (len(cloud.trace.find("invoke")), len(cloud.trace.find("deliver"))),
        (0, 3),
    )


def objects(cloud) -> dict[str, bytes]:
    s3 = cloud.client("s3")
    bucket = cloud.outputs["BucketName"]
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        o["Key"]: gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in listed
    }
