"""Group SNS PublishBatch entries within its limits: 10 entries and 256 KiB of payload per call.

SNS counts a batch's size as the sum of its messages and their attributes (name, data type and
value). An entry too large to go alone is refused here rather than by SNS, so the caller can
report it instead of failing the batch::

    for batch in batches(entries):
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=batch)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024


class EntryTooLarge(ValueError):
    """One entry is over the batch limit on its own: SNS would refuse any batch holding it."""


def entry_size(entry: dict[str, Any]) -> int:
    """The bytes SNS counts for one entry: its message and each attribute's name, type and value."""
    size = len(entry["Message"].encode())
    for name, attribute in entry.get("MessageAttributes", {}).items():
        value = attribute.get("StringValue", attribute.get("BinaryValue", b""))
        size += len(name.encode()) + len(attribute["DataType"].encode())
        size += len(value if isinstance(value, bytes) else value.encode())
    return size


def batches(
    entries: Sequence[dict[str, Any]], *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[list[dict[str, Any]]]:
    """``entries`` in order, in batches of at most ``max_entries`` and ``max_bytes``."""
    batch: list[dict[str, Any]] = []
    used = 0
    for entry in entries:
        size = entry_size(entry)
        if size > max_bytes:
            raise EntryTooLarge(f"entry {entry['Id']}: {size} bytes, over SNS's {max_bytes} per batch")
        if batch and (len(batch) == max_entries or used + size > max_bytes):
            yield batch
            batch, used = [], 0
        batch.append(entry)
        used += size
    if batch:
        yield batch
