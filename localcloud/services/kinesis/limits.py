"""Kinesis's request limits that moto does not enforce (or words otherwise), refused as AWS refuses them.

- a record: at most 1 MiB of data and partition key together ("The record size limit applies to the
  total size of the partition key and data blob"; moto counts the key in ``PutRecords`` only); a
  partition key: 1 to 256 characters (moto refuses a longer one as ``partition_key``), in
  ``PutRecord`` and in each record of ``PutRecords``, with AWS's validation wording (``Value at
  'records.1.member.data' failed to satisfy constraint``);
- an ``ExplicitHashKey``: digits without a leading zero (``0|([1-9][0-9]{0,38})``, a
  ``ValidationException``), at most 2^128 - 1 (an ``InvalidArgumentException``): moto raises its own
  exception, or a ``ValueError``, on either;
- a ``PutRecords`` request: at most 500 records and 5 MiB of data and partition keys in all (moto
  refuses both, the size without the keys);
- a ``GetRecords`` ``Limit``: at most 10,000 (botocore's model), as AWS's validation words it
  (kinesalite's tests, run against Kinesis itself, expect that wording; the API reference names
  ``InvalidArgumentException``). Below 1, botocore refuses the call before it leaves the client.

Every problem of a request is listed, as AWS's validation does (``2 validation errors detected: ...``).
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.errors import aws_error, refuse_limit_over

MAX_DATA_BYTES = 1024 * 1024
MAX_PARTITION_KEY = 256
MAX_REQUEST_BYTES = 5 * 1024 * 1024
HASH_KEY = re.compile(r"0|([1-9]\d{0,38})")
HASH_KEY_LIMIT = 2**128
MAX_GET_RECORDS = 10_000


def check_kinesis_request(operation: str, params: dict[str, Any]) -> None:
    if operation == "GetRecords":
        refuse_limit_over(operation, params, MAX_GET_RECORDS)
        return
    if operation == "PutRecord":
        problems = _record_problems(params, "")
    elif operation == "PutRecords":
        records = params.get("Records") or []
        problems = [p for i, r in enumerate(records, 1) for p in _record_problems(r, f"records.{i}.member.")]
        if not problems:
            size = sum(len(_data(r)) + len(str(r.get("PartitionKey", "")).encode()) for r in records)
            if size > MAX_REQUEST_BYTES:
                raise aws_error("InvalidArgumentException", "Records size exceeds 5 MB limit", operation)
    else:
        return
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise aws_error("ValidationException", f"{count}: {'; '.join(problems)}", operation)
    records = [params] if operation == "PutRecord" else params.get("Records") or []
    for record in records:
        if "ExplicitHashKey" in record and int(record["ExplicitHashKey"]) >= HASH_KEY_LIMIT:
            raise aws_error(
                "InvalidArgumentException",
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                f"Specified value was {record['ExplicitHashKey']}",
                operation,
            )


def _record_problems(record: dict[str, Any], where: str) -> list[str]:
    problems = []
    key = str(record.get("PartitionKey", ""))
    if len(_data(record)) + len(key.encode()) > MAX_DATA_BYTES:
        problems.append(
            f"Value at '{where}data' failed to satisfy constraint: Member must have length less than or "
            f"equal to {MAX_DATA_BYTES}"
        )
    if len(key) > MAX_PARTITION_KEY:
        problems.append(
            f"Value '{key}' at '{where}partitionKey' failed to satisfy constraint: Member must have length "
            f"less than or equal to {MAX_PARTITION_KEY}"
        )
    hash_key = record.get("ExplicitHashKey")
    if hash_key is not None and not HASH_KEY.fullmatch(str(hash_key)):
        problems.append(
            f"Value '{hash_key}' at '{where}explicitHashKey' failed to satisfy constraint: Member must "
            f"satisfy regular expression pattern: {HASH_KEY.pattern}"
        )
    return problems


def _data(record: dict[str, Any]) -> bytes:
    value = record.get("Data", b"")
    return value.encode() if isinstance(value, str) else bytes(value)
