"""Event driven: an uploaded CSV converted once into JSON lines; a bad one reported with its key."""

from __future__ import annotations

import json

from scenarios import Show

STOCK = b'sku,name,quantity,price_cents\nA-1,"Lamp, brass",3,1299\nB-22,Chair,0,4500\n'


def run(show: Show) -> None:
    cloud = show.cloud
    s3 = cloud.client("s3")
    uploads, outputs = cloud.outputs["UploadBucketName"], cloud.outputs["OutputBucketName"]

    s3.put_object(Bucket=uploads, Key="incoming/stock.csv", Body=STOCK)
    cloud.drain()
    body = s3.get_object(Bucket=outputs, Key="validated/stock.jsonl")["Body"].read().decode()
    show.equal(
        "an uploaded CSV becomes validated JSON lines in the output bucket",
        [json.loads(line)["sku"] for line in body.splitlines()],
        ["A-1", "B-22"],
    )

    s3.put_object(Bucket=uploads, Key="incoming/stock.csv", Body=STOCK)
    cloud.drain()
    versions = s3.list_object_versions(Bucket=outputs, Prefix="validated/stock.jsonl").get("Versions", [])
    show.equal("a re-upload of the same object writes no second output", len(versions), 1)

    s3.put_object(
        Bucket=uploads, Key="incoming/bad.csv", Body=b"sku,name,quantity,price_cents\nA-1,Lamp,x,1\n"
    )
    cloud.drain()
    transformer = cloud.function("Pattern/Transformer").name
    attempts = [s.at for s in cloud.trace.find("invoke", target=transformer) if s.outcome != "ok"]
    show.equal(
        "a bad object is tried once, then retried after 1 and 2 more minutes",
        [at - attempts[0] for at in attempts],
        [0, 60, 180],
    )
    messages = (
        cloud.client("sqs").receive_message(QueueUrl=cloud.outputs["FailureQueueUrl"]).get("Messages", [])
    )
    reasons = [json.loads(m["Body"])["responsePayload"]["errorMessage"] for m in messages]
    show.equal(
        "then the failure queue holds its record, naming the bucket, the key and the reason",
        reasons,
        [f"s3://{uploads}/incoming/bad.csv: line 2: quantity: expected a whole number, got 'x'"],
    )
    listed = s3.list_objects_v2(Bucket=outputs).get("Contents", [])
    show.equal(
        "no partial output, and nothing written invoked the function again",
        ([o["Key"] for o in listed], len(cloud.trace.find("invoke", target=transformer))),
        (["validated/stock.jsonl"], 5),
    )
