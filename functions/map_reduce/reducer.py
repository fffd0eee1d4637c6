"""Reduce: sum the mappers' partial counts from the Map Run's results and write one result object.

Invoked by the workflow with the Distributed Map's output (``ResultWriterDetails``: the bucket and
key of ``manifest.json``) and the execution's name. It reads the manifest, sums the counts of every
SUCCEEDED child, and names every object of every FAILED child (with its error) so nothing is lost
silently. The result goes to ``<RESULT_PREFIX><execution name>.json`` in the output bucket:
``{"status": "COMPLETE" | "PARTIAL", "files", "words", "counts", "failed": [...]}``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics

RESULT_PREFIX = os.environ.get("RESULT_PREFIX", "counts/")
s3 = boto3.client("s3")


def read_json(bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def reduce(bucket: str, manifest: dict[str, Any]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    files = 0
    for entry in manifest["ResultFiles"].get("SUCCEEDED", []):
        for child in read_json(bucket, entry["Key"]):
            partial = json.loads(child["Output"])
            counts.update(partial["counts"])
            files += partial["files"]
    failed = [
        {
            "keys": [item["Key"] for item in json.loads(child["Input"])["Items"]],
            "error": child.get("Error"),
            "cause": (child.get("Cause") or "")[:500],
        }
        for entry in manifest["ResultFiles"].get("FAILED", [])
        for child in read_json(bucket, entry["Key"])
    ]
    return {
        "status": "PARTIAL" if failed else "COMPLETE",
        "files": files,
        "words": sum(counts.values()),
        "counts": dict(sorted(counts.items())),
        "failed": failed,
    }


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    details = event["map"]["ResultWriterDetails"]
    result = reduce(details["Bucket"], read_json(details["Bucket"], details["Key"]))
    key = f"{RESULT_PREFIX}{event['execution']}.json"
    s3.put_object(
        Bucket=os.environ["OUTPUT_BUCKET_NAME"],
        Key=key,
        Body=json.dumps(result).encode(),
        ContentType="application/json",
    )
    failed_files = sum(len(batch["keys"]) for batch in result["failed"])
    metrics.add_metric(name="FilesReduced", unit=MetricUnit.Count, value=result["files"])
    metrics.add_metric(name="FilesFailed", unit=MetricUnit.Count, value=failed_files)
    logger.info(
        "counts written", extra={"key": key, "status": result["status"], "failed_files": failed_files}
    )
    return {
        "status": result["status"],
        "result_key": key,
        "files": result["files"],
        "failed_files": failed_files,
    }
