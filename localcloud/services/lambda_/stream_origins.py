"""Kinesis and DynamoDB streams: trace each record written, so the deliveries it causes hang under
the span that wrote it.

DynamoDB items count when written one at a time (PutItem, UpdateItem, DeleteItem) to a table with a
stream; a batch or transaction write is delivered all the same, only without a cause in the trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.service import observes
from localcloud.services.lambda_.event_sources.streams import origin_key

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel


@observes("kinesis", "PutRecord", "PutRecords")
def records_put(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    stream_arn = params.get("StreamARN") or (
        f"arn:{cloud.partition}:kinesis:{cloud.region}:{cloud.account}:stream/{params['StreamName']}"
    )
    written = [parsed] if "SequenceNumber" in parsed else parsed.get("Records", [])
    for record in written:
        if "SequenceNumber" not in record:  # a failed entry of PutRecords
            continue
        cloud.record_send(
            f"kinesis:{stream_arn.rsplit('/', 1)[-1]}",
            f"record {record['ShardId']}:{record['SequenceNumber']}",
            origin=origin_key(stream_arn, record["ShardId"], record["SequenceNumber"]),
        )


@observes("dynamodb", "PutItem", "UpdateItem", "DeleteItem")
def item_written(cloud: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[cloud.account][cloud.region].get_table(params["TableName"].rsplit("/", 1)[-1])
    shard = table.stream_shard
    if shard is None or not shard.items:
        return
    change = shard.items[-1].record
    stream_arn = f"{table.table_arn}/stream/{table.latest_stream_label}"
    key = origin_key(stream_arn, shard.id, change["dynamodb"]["SequenceNumber"])
    if cloud.origin_of(key) is not None:
        return  # the write changed nothing, so the stream's last record is an earlier write's
    cloud.record_send(
        f"dynamodb:{table.name}", f"{change['eventName']} {change['dynamodb']['SequenceNumber']}", origin=key
    )
