"""Fan-out / fan-in: a job of 50 chunks gives its exact aggregate once, though a chunk arrives twice;
a chunk that fails every retry marks its job partial and names the chunk."""

from __future__ import annotations

from scenarios import Show


def run(show: Show) -> None:
    cloud = show.cloud
    dynamodb = cloud.client("dynamodb")
    jobs = cloud.outputs["JobsTableName"]

    def job(job_id: str) -> dict:
        item = dynamodb.get_item(TableName=jobs, Key={"job_id": {"S": job_id}, "part": {"S": "job"}})["Item"]
        return {name: next(iter(value.values())) for name, value in item.items()}

    lines = [f"sku-{i % 13},{i % 7 + 1},{100 + i}" for i in range(500)]
    started = cloud.invoke("Pattern/Splitter", {"job_id": "orders-1", "lines": lines, "chunk_size": 10})
    show.equal(
        "a job of 500 orders is split into 50 chunks, answered 202", started["Payload"].get("chunks"), 50
    )
    cloud.invoke("Pattern/Worker", {"job_id": "orders-1", "chunk": 7, "lines": lines[70:80]}, "Event")
    cloud.drain()
    done = job("orders-1")
    revenue = sum((i % 7 + 1) * (100 + i) for i in range(500))
    show.equal(
        "its aggregate is exact, though chunk 7 was delivered twice",
        (done["status"], done["orders"], done["revenue_cents"], done["settled"]),
        ("COMPLETE", "500", str(revenue), "50"),
    )
    points = cloud.metrics("ServerlessPatterns", "JobsComplete", {"service": "fan_out_fan_in"})
    show.equal("exactly one worker finished the job", sum(p.sum for p in points), 1)

    bad = lines[:30]
    bad[14] = "sku-x,two,100"
    cloud.invoke("Pattern/Splitter", {"job_id": "orders-2", "lines": bad, "chunk_size": 10})
    cloud.drain()
    partial = job("orders-2")
    show.equal(
        "a chunk that failed every retry marks the job partial and names the chunk",
        (partial["status"], partial.get("failed_chunks")),
        ("PARTIAL", ["1"]),
    )
    refused = cloud.invoke("Pattern/Splitter", {"job_id": "orders-3", "lines": [], "chunk_size": 10})
    show.equal("a job without lines is refused with 400", refused["Payload"]["statusCode"], 400)
