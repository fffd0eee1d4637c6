"""Convert each uploaded inventory CSV into validated JSON lines in the output bucket, once.

Invoked asynchronously by S3 (one record per event). The object is read as a stream with
``IfMatch`` on the event's ETag, so what is converted is exactly what was notified: an object
overwritten since then fails the precondition and is skipped, its own event converts the new
content. The JSON lines go to a temporary file that spills to ``/tmp`` past 8 MiB, and are written
only when every row is valid, so a bad object never leaves a partial output. Before writing, the
output's MD5 is compared with the ETag of the output already there (S3-managed encryption keeps the
ETag the MD5): a re-upload of the same content writes nothing, so no new version and no event.

Any failure raises, so Lambda retries the event and then sends it, with the error, to the failure
queue: an object too large, not UTF-8, with a hostile field or a bad row (:class:`rows.Rejected`,
the message names the bucket, key and reason), a key outside the filter, or an S3 error.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from rows import Rejected, records
from shared.observability import instrument, logger, metrics

UPLOAD_BUCKET = os.environ["UPLOAD_BUCKET_NAME"]
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET_NAME"]
INPUT_PREFIX = os.environ.get("INPUT_PREFIX", "")
INPUT_SUFFIX = os.environ.get("INPUT_SUFFIX", "")
OUTPUT_PREFIX = os.environ["OUTPUT_PREFIX"]
OUTPUT_SUFFIX = ".jsonl"
MAX_OBJECT_BYTES = int(os.environ["MAX_OBJECT_BYTES"])
MAX_FIELD_BYTES = int(os.environ["MAX_FIELD_BYTES"])
#: Output kept in memory up to this size, then in /tmp.
SPOOL_BYTES = 8 * 1024 * 1024

s3 = boto3.client("s3")


class ObjectRejected(Exception):
    """An uploaded object that cannot be converted; the message names it and says why."""


def output_key(key: str) -> str:
    """``incoming/2026/stock.csv`` -> ``validated/2026/stock.jsonl``."""
    name = key[len(INPUT_PREFIX) : len(key) - len(INPUT_SUFFIX)]
    return f"{OUTPUT_PREFIX}{name}{OUTPUT_SUFFIX}"


def _refuse_a_loop(bucket: str, key: str) -> None:
    """The construct refuses a configuration that loops; this keeps a changed one from looping too."""
    if bucket != UPLOAD_BUCKET or not (key.startswith(INPUT_PREFIX) and key.endswith(INPUT_SUFFIX)):
        raise ObjectRejected(f"s3://{bucket}/{key}: outside this function's upload filter")
    target = output_key(key)
    if OUTPUT_BUCKET == UPLOAD_BUCKET and target.startswith(INPUT_PREFIX) and target.endswith(INPUT_SUFFIX):
        raise ObjectRejected(f"s3://{bucket}/{key}: its output would trigger this function again")


def _current_etag(key: str) -> str | None:
    listed = s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=key, MaxKeys=1).get("Contents", [])
    return listed[0]["ETag"].strip('"') if listed and listed[0]["Key"] == key else None


def convert(bucket: str, key: str, etag: str, size: int) -> dict[str, Any]:
    """Convert one object; returns what was done, raises :class:`ObjectRejected` for a bad object."""
    where = f"s3://{bucket}/{key}"
    _refuse_a_loop(bucket, key)
    if size > MAX_OBJECT_BYTES:
        raise ObjectRejected(f"{where}: {size} bytes, larger than the limit of {MAX_OBJECT_BYTES} bytes")
    try:
        body = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PreconditionFailed", "412"):
            logger.info("object changed since its event; its newer event converts it", extra={"key": key})
            return {"key": key, "skipped": "superseded"}
        raise
    digest = hashlib.md5(usedforsecurity=False)
    count = 0
    with body, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        try:
            for row in records(body, max_bytes=MAX_OBJECT_BYTES, max_field=MAX_FIELD_BYTES):
                line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
                digest.update(line)
                spool.write(line)
                count += 1
        except Rejected as error:
            raise ObjectRejected(f"{where}: {error}") from None
        target = output_key(key)
        if _current_etag(target) == digest.hexdigest():
            logger.info("output already up to date", extra={"key": key, "output_key": target})
            metrics.add_metric(name="ObjectsUnchanged", unit=MetricUnit.Count, value=1)
            return {"key": key, "output_key": target, "rows": count, "written": False}
        spool.seek(0)
        s3.put_object(
            Bucket=OUTPUT_BUCKET,
            Key=target,
            Body=spool,
            ContentType="application/x-ndjson",
            ContentMD5=base64.b64encode(digest.digest()).decode(),
            Metadata={"source-bucket": bucket, "source-key": key, "source-etag": etag},
        )
    metrics.add_metric(name="ObjectsConverted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RowsConverted", unit=MetricUnit.Count, value=count)
    logger.info("object converted", extra={"key": key, "output_key": target, "rows": count})
    return {"key": key, "output_key": target, "rows": count, "written": True}


@instrument
def handler(event: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    if not isinstance(event, dict) or not event.get("Records"):
        raise ObjectRejected("not an S3 event notification: no Records")
    done = []
    for record in event["Records"]:
        s3_part = record["s3"]
        key = unquote_plus(s3_part["object"]["key"])
        done.append(
            convert(s3_part["bucket"]["name"], key, s3_part["object"]["eTag"], int(s3_part["object"]["size"]))
        )
    return done
