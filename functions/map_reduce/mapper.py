"""Map: count the words of one batch of S3 objects (a child execution of the Distributed Map).

Invoked by Step Functions with ``{"Items": [{"Key", "Size", ...}], "BatchInput": {"bucket"}}``, the
items being the ItemReader's S3 listing. Each object is read and counted with :mod:`words`; the
answer is the batch's partial count, which the reducer sums. An object that is not UTF-8 text, or
larger than ``MAX_OBJECT_BYTES``, fails the batch with ``UnreadableObject`` naming its key: the
workflow retries it, then the Map Run records the batch as failed and the reducer reports its keys.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import instrument, logger, metrics
from words import count_words

MAX_OBJECT_BYTES = int(os.environ.get("MAX_OBJECT_BYTES", str(1024 * 1024)))
s3 = boto3.client("s3")


class UnreadableObject(Exception):
    """An input object that is not countable text; retrying will not change it."""


def read_text(bucket: str, key: str, size: int) -> str:
    if size > MAX_OBJECT_BYTES:
        raise UnreadableObject(f"{key}: {size} bytes, over the {MAX_OBJECT_BYTES} a mapper reads")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableObject(f"{key}: not UTF-8 text ({error.reason} at byte {error.start})") from None


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("Items"), list):
        raise UnreadableObject("expected a Distributed Map batch: {'Items': [...], 'BatchInput': {...}}")
    bucket = (event.get("BatchInput") or {}).get("bucket") or os.environ["INPUT_BUCKET_NAME"]
    counts: Counter[str] = Counter()
    for item in event["Items"]:
        counts.update(count_words(read_text(bucket, item["Key"], int(item.get("Size", 0)))))
    metrics.add_metric(name="ObjectsMapped", unit=MetricUnit.Count, value=len(event["Items"]))
    logger.info("batch counted", extra={"objects": len(event["Items"]), "distinct": len(counts)})
    return {"files": len(event["Items"]), "words": sum(counts.values()), "counts": dict(counts)}
