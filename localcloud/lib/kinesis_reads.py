"""What a Kinesis reader (a Lambda event source mapping, a Firehose delivery stream) asks moto
before a read: whether GetRecords would return anything, so an idle shard costs no call."""

from __future__ import annotations


def nothing_after(account: str, region: str, stream_arn: str, iterator: str) -> bool:
    """Whether moto holds no record after ``iterator`` in its shard (so GetRecords would read
    nothing); False when that cannot be told (an iterator moto did not make, a stream gone)."""
    from moto.kinesis.exceptions import StreamNotFoundError
    from moto.kinesis.models import kinesis_backends
    from moto.kinesis.utils import decompose_shard_iterator

    try:
        stream_name, shard_id, last_sequence = decompose_shard_iterator(iterator)
        last = int(last_sequence)
    except ValueError:
        return False
    backend = kinesis_backends[account][region]
    try:
        # As moto's GetRecords finds it: by the iterator's stream name, else the call's ARN.
        stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    except StreamNotFoundError:
        return False
    moto_shard = stream.shards.get(shard_id)
    if moto_shard is None:
        return False
    # Sequence numbers grow with each put, so the newest record is the last one.
    return not moto_shard.records or next(reversed(moto_shard.records)) <= last
