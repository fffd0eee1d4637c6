"""Messages per second through each asynchronous pattern in the local cloud, against the same moto calls.

One table, :data:`DRIVERS`, holds a driver per pattern. Its local-cloud side puts N messages in at
the pattern's entry through the SDK, drains the cloud on the virtual clock and counts the work done;
its raw side makes, straight to moto, the AWS calls the pattern's handlers and services make for
the same N messages (same item shapes), and counts the same work. Both sides must count N (or the
pattern's multiple of it), so a driver that stops doing the work fails instead of getting faster.

Timing is process CPU time (``getrusage`` user + system, what this process and its threads spent),
not wall time: the machine is shared, and CPU time does not count the minutes spent waiting for a
core. The local cloud's set-up (start, provisioning) and the raw side's (creating its resources) are
outside the timer, and so is a first message on each side (:data:`WARM_UP`). The local cloud runs its
handlers in this process, so their CPU time is counted.

Two more drivers, :data:`WEBHOOKS` and :data:`READINGS`, are table (e)'s delivery rows, played in
alternating rounds against a fresh moto interpreter by ``benchmarks/localcloud_bench.py``. This
module does not import the local cloud until a cloud starts: that interpreter imports these drivers,
and must run moto alone.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import gzip
import io
import json
import resource
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

if TYPE_CHECKING:
    from localcloud import LocalCloud

MESSAGES = 40
RUNS = 3
RATIO_TARGET = 2.0
REGION = "us-east-1"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Handlers print their structured logs and metrics; keep them out of the figures."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _clients(*services: str) -> list[Any]:
    return [boto3.client(service, region_name=REGION) for service in services]


def _table(dynamodb: Any, name: str, *keys: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def _receive_all(sqs: Any, url: str, **extra: Any) -> Iterator[list[dict]]:
    """Batches of up to 10, each deleted once the caller has handled it, as the event source mapping does."""
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **extra).get("Messages", []):
        yield messages
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def _in_tens(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), 10):
        yield items[start : start + 10]


def _count(dynamodb: Any, table: str) -> int:
    return dynamodb.scan(TableName=table, Select="COUNT")["Count"]


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


# ------------------------------------------------------------------------------------------ notifier

NOTIFIER_SUBSCRIBERS = ("Invoicing", "FraudReview", "EuShipping")


def _order_event(n: int) -> dict:
    """A placed order of 1,500.00 to France: every subscriber's filter selects it."""
    order = {"order_id": f"o-{n}", "customer_id": "c-1", "total_cents": 150_000, "country": "FR"}
    return {"event_id": f"e-{n}", "event_type": "order_placed", "order": order}


def _publish_orders(sns: Any, topic: str, ks: range) -> None:
    for k in ks:
        event = _order_event(k)
        sns.publish(
            TopicArn=topic,
            Message=json.dumps(event, separators=(",", ":")),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event["event_type"]}},
        )


def notifier_local(cloud: LocalCloud) -> Callable[[range], int]:
    sns, dynamodb = cloud.client("sns"), cloud.client("dynamodb")

    def run(ks: range) -> int:
        _publish_orders(sns, cloud.outputs["TopicArn"], ks)
        cloud.drain()
        return sum(_count(dynamodb, cloud.outputs[f"{s}InboxTableName"]) for s in NOTIFIER_SUBSCRIBERS)

    return run


def notifier_raw() -> Callable[[range], int]:
    sns, sqs, dynamodb = _clients("sns", "sqs", "dynamodb")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    queues = []
    for name in NOTIFIER_SUBSCRIBERS:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps({"event_type": ["order_placed"]}),
            },
        )
        _table(dynamodb, name, "event_id")
        queues.append((name, url))

    def run(ks: range) -> int:
        _publish_orders(sns, topic, ks)
        for name, url in queues:
            for messages in _receive_all(sqs, url):
                for message in messages:
                    event = json.loads(message["Body"])
                    order = event["order"]
                    dynamodb.put_item(
                        TableName=name,
                        Item={
                            "event_id": {"S": event["event_id"]},
                            "event_type": {"S": event["event_type"]},
                            "order_id": {"S": order["order_id"]},
                            "total_cents": {"N": str(order["total_cents"])},
                            "country": {"S": order["country"]},
                        },
                    )
        return sum(_count(dynamodb, name) for name, _ in queues)

    return run


# ------------------------------------------------------------------------------------------ fifo_consumer

FIFO_ACCOUNTS = 6


def _ledger_entries(ks: range) -> list[dict]:
    """Credits spread over a few accounts (message groups), each with its own deduplication id."""
    return [
        {
            "Id": str(k % 10),
            "MessageBody": json.dumps(
                {
                    "event_id": f"acc-{k % FIFO_ACCOUNTS}-{k}",
                    "account_id": f"acc-{k % FIFO_ACCOUNTS}",
                    "amount_cents": 100,
                },
                separators=(",", ":"),
            ),
            "MessageGroupId": f"acc-{k % FIFO_ACCOUNTS}",
            "MessageDeduplicationId": f"e-{k}",
        }
        for k in ks
    ]


def _send_entries(sqs: Any, url: str, entries: list[dict]) -> None:
    for batch in _in_tens(entries):
        sqs.send_message_batch(QueueUrl=url, Entries=batch)


def _applied_entries(dynamodb: Any, table: str) -> int:
    return sum(len(item["entries"]["L"]) for item in dynamodb.scan(TableName=table)["Items"])


def fifo_local(cloud: LocalCloud) -> Callable[[range], int]:
    sqs, dynamodb = cloud.client("sqs"), cloud.client("dynamodb")

    def run(ks: range) -> int:
        _send_entries(sqs, cloud.outputs["QueueUrl"], _ledger_entries(ks))
        cloud.drain()
        return _applied_entries(dynamodb, cloud.outputs["TableName"])

    return run


def fifo_raw() -> Callable[[range], int]:
    sqs, dynamodb = _clients("sqs", "dynamodb")
    url = sqs.create_queue(QueueName="ledger.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    _table(dynamodb, "ledger", "account_id")

    def run(ks: range) -> int:
        _send_entries(sqs, url, _ledger_entries(ks))
        for messages in _receive_all(sqs, url, AttributeNames=["All"]):
            for message in messages:
                entry = json.loads(message["Body"])
                key = {"account_id": {"S": entry["account_id"]}}
                account = dynamodb.get_item(TableName="ledger", Key=key, ConsistentRead=True).get("Item")
                balance = int(account["balance_cents"]["N"]) if account else 0
                version = int(account["version"]["N"]) if account else 0
                values = {
                    ":balance": {"N": str(balance + entry["amount_cents"])},
                    ":next": {"N": str(version + 1)},
                    ":none": {"L": []},
                    ":event": {"L": [{"S": entry["event_id"]}]},
                }
                if account is not None:
                    values[":version"] = {"N": str(version)}
                dynamodb.update_item(
                    TableName="ledger",
                    Key=key,
                    UpdateExpression="SET #balance = :balance, #version = :next, "
                    "#entries = list_append(if_not_exists(#entries, :none), :event)",
                    ConditionExpression="attribute_not_exists(account_id)"
                    if account is None
                    else "#version = :version",
                    ExpressionAttributeNames={
                        "#balance": "balance_cents",
                        "#version": "version",
                        "#entries": "entries",
                    },
                    ExpressionAttributeValues=values,
                )
        return _applied_entries(dynamodb, "ledger")

    return run


# ------------------------------------------------------------------------------------------ distributed_trigger

TRIGGER_SUBSCRIBERS = ("FraudReview", "CustomerCare")


def _declined_lines(ks: range, now_ms: int) -> list[dict]:
    return [
        {
            "timestamp": now_ms,
            "message": json.dumps(
                {
                    "level": "WARNING",
                    "message": "payment declined",
                    "event": "payment_declined",
                    "payment_id": f"p-{k}",
                    "customer_id": "c-1",
                    "amount_cents": 25_000,
                    "currency": "EUR",
                    "reason": "card_declined",
                }
            ),
        }
        for k in ks
    ]


def trigger_local(cloud: LocalCloud) -> Callable[[range], int]:
    logs, sqs = cloud.client("logs"), cloud.client("sqs")
    group = cloud.outputs["LogGroupName"]
    logs.create_log_stream(logGroupName=group, logStreamName="bench")

    def run(ks: range) -> int:
        now = int(cloud.clock.now().timestamp() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName="bench", logEvents=_declined_lines(ks, now))
        cloud.drain()
        return sum(_queue_depth(sqs, cloud.outputs[f"{s}QueueUrl"]) for s in TRIGGER_SUBSCRIBERS)

    return run


def trigger_raw() -> Callable[[range], int]:
    """Logs' put, then the trigger's calls: its payload gzip'd and decoded, one PublishBatch per 10
    events to a topic with every subscriber's queue subscribed (raw delivery)."""
    logs, sns, sqs = _clients("logs", "sns", "sqs")
    logs.create_log_group(logGroupName="payments")
    logs.create_log_stream(logGroupName="payments", logStreamName="bench")
    topic = sns.create_topic(Name="payments")["TopicArn"]
    urls = []
    for name in TRIGGER_SUBSCRIBERS:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        urls.append(url)

    def run(ks: range) -> int:
        lines = _declined_lines(ks, 1_767_225_600_000)
        logs.put_log_events(logGroupName="payments", logStreamName="bench", logEvents=lines)
        payload = {
            "messageType": "DATA_MESSAGE",
            "logGroup": "payments",
            "logStream": "bench",
            "logEvents": lines,
        }
        data = base64.b64encode(gzip.compress(json.dumps(payload).encode()))
        decoded = json.loads(gzip.decompress(base64.b64decode(data)))
        entries = [
            {
                "Id": str(k),
                "Message": json.dumps(
                    {
                        "event_id": str(k),
                        "event_type": "payment_declined",
                        "payment": json.loads(e["message"]),
                    }
                ),
                "MessageAttributes": {
                    "event_type": {"DataType": "String", "StringValue": "payment_declined"}
                },
            }
            for k, e in enumerate(decoded["logEvents"])
        ]
        for batch in _in_tens(entries):
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=batch)
        return sum(_queue_depth(sqs, url) for url in urls)

    return run


# ------------------------------------------------------------------------------------------ event_driven

STOCK_CSV = b'sku,name,quantity,price_cents\nA-1,"Lamp, brass",3,1299\nB-22,Chair,0,4500\n'


def _jsonl(body: bytes) -> bytes:
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows).encode()


def event_driven_local(cloud: LocalCloud) -> Callable[[range], int]:
    s3 = cloud.client("s3")
    uploads, outputs = cloud.outputs["UploadBucketName"], cloud.outputs["OutputBucketName"]

    def run(ks: range) -> int:
        for k in ks:
            s3.put_object(Bucket=uploads, Key=f"incoming/stock-{k}.csv", Body=STOCK_CSV)
        cloud.drain()
        return s3.list_objects_v2(Bucket=outputs, Prefix="validated/").get("KeyCount", 0)

    return run


def event_driven_raw() -> Callable[[range], int]:
    """Each upload's calls: the put, then the transformer's list of the output, conditional get
    and put (S3's own notification is left to the local cloud's side: moto cannot run the function)."""
    (s3,) = _clients("s3")
    for bucket in ("uploads", "outputs"):
        s3.create_bucket(Bucket=bucket)

    def run(ks: range) -> int:
        for k in ks:
            etag = s3.put_object(Bucket="uploads", Key=f"incoming/stock-{k}.csv", Body=STOCK_CSV)[
                "ETag"
            ].strip('"')
            s3.list_objects_v2(Bucket="outputs", Prefix=f"validated/stock-{k}.jsonl", MaxKeys=1)
            body = s3.get_object(Bucket="uploads", Key=f"incoming/stock-{k}.csv", IfMatch=etag)["Body"].read()
            s3.put_object(
                Bucket="outputs",
                Key=f"validated/stock-{k}.jsonl",
                Body=_jsonl(body),
                ContentType="application/x-ndjson",
                Metadata={
                    "source-bucket": "uploads",
                    "source-key": f"incoming/stock-{k}.csv",
                    "source-etag": etag,
                },
            )
        return s3.list_objects_v2(Bucket="outputs", Prefix="validated/").get("KeyCount", 0)

    return run


# ------------------------------------------------------------------------------------------ fan_out_fan_in


def _job_lines(ks: range) -> list[str]:
    """One line a chunk: N chunks, N worker invocations."""
    return [f"sku-{k % 13},{k % 7 + 1},{100 + k}" for k in ks]


def fan_out_local(cloud: LocalCloud) -> Callable[[range], int]:
    lambda_, dynamodb = cloud.client("lambda"), cloud.client("dynamodb")
    jobs = cloud.outputs["JobsTableName"]

    settled: list[int] = []

    def run(ks: range) -> int:
        job_id = f"bench-{ks.start}"
        payload = json.dumps({"job_id": job_id, "lines": _job_lines(ks), "chunk_size": 1})
        lambda_.invoke(FunctionName=cloud.outputs["SplitterFunctionName"], Payload=payload)
        cloud.drain()
        job = dynamodb.get_item(TableName=jobs, Key={"job_id": {"S": job_id}, "part": {"S": "job"}})["Item"]
        settled.append(int(job["settled"]["N"]) if job["status"]["S"] == "COMPLETE" else 0)
        return sum(settled)

    return run


def fan_out_raw() -> Callable[[range], int]:
    """The splitter's put, then each worker's transaction (chunk item and job counters) and its
    conditional finish (the Lambda invokes between them are the local cloud's: moto cannot run them)."""
    (dynamodb,) = _clients("dynamodb")
    _table(dynamodb, "jobs", "job_id", "part")

    settled: list[int] = []

    def run(ks: range) -> int:
        job_key = {"job_id": {"S": f"bench-{ks.start}"}, "part": {"S": "job"}}
        dynamodb.put_item(
            TableName="jobs",
            Item={
                **job_key,
                "status": {"S": "RUNNING"},
                "chunks": {"N": str(len(ks))},
                "settled": {"N": "0"},
                "failed": {"N": "0"},
                "orders": {"N": "0"},
                "revenue_cents": {"N": "0"},
                "digest": {"S": "0" * 64},
                "created_at": {"S": "2026-01-01T00:00:00.000+00:00"},
            },
            ConditionExpression="attribute_not_exists(job_id)",
        )
        for chunk, line in enumerate(_job_lines(ks)):
            _, quantity, price = line.split(",")
            adds = {"orders": 1, "revenue_cents": int(quantity) * int(price)}
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": "jobs",
                            "Item": {
                                "job_id": job_key["job_id"],
                                "part": {"S": f"chunk#{chunk:05d}"},
                                "status": {"S": "OK"},
                                "settled_at": {"S": "2026-01-01T00:00:00.000+00:00"},
                                **{name: {"N": str(value)} for name, value in adds.items()},
                            },
                            "ConditionExpression": "attribute_not_exists(part)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": "jobs",
                            "Key": job_key,
                            "UpdateExpression": "ADD settled :one, #orders :orders, #revenue_cents :revenue_cents",
                            "ConditionExpression": "#status = :running",
                            "ExpressionAttributeNames": {
                                "#status": "status",
                                "#orders": "orders",
                                "#revenue_cents": "revenue_cents",
                            },
                            "ExpressionAttributeValues": {
                                ":one": {"N": "1"},
                                ":running": {"S": "RUNNING"},
                                **{f":{name}": {"N": str(value)} for name, value in adds.items()},
                            },
                        }
                    },
                ]
            )
            with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
                dynamodb.update_item(
                    TableName="jobs",
                    Key=job_key,
                    UpdateExpression="SET #status = :finished, finished_at = :now",
                    ConditionExpression="settled = chunks AND #status = :running AND failed = :zero",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":finished": {"S": "COMPLETE"},
                        ":now": {"S": "2026-01-01T00:00:00.000+00:00"},
                        ":running": {"S": "RUNNING"},
                        ":zero": {"N": "0"},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        job = dynamodb.get_item(TableName="jobs", Key=job_key)["Item"]
        settled.append(int(job["settled"]["N"]) if job["status"]["S"] == "COMPLETE" else 0)
        return sum(settled)

    return run


# ------------------------------------------------------------------------------------------ frugal_consumer


def _orders(ks: range) -> list[dict]:
    return [
        {
            "Id": str(k % 10),
            "MessageBody": json.dumps({"id": f"o-{k}", "customer": f"c-{k % 7}", "total_cents": 100 + k}),
        }
        for k in ks
    ]


def _stored_orders(dynamodb: Any, table: str) -> int:
    return _count(dynamodb, table) - 1  # the limiter's own item


def frugal_local(cloud: LocalCloud) -> Callable[[range], int]:
    sqs, dynamodb = cloud.client("sqs"), cloud.client("dynamodb")

    def run(ks: range) -> int:
        for batch in _in_tens(_orders(ks)):
            sqs.send_message_batch(QueueUrl=cloud.outputs["QueueUrl"], Entries=batch)
        cloud.drain()
        return _stored_orders(dynamodb, cloud.outputs["TableName"])

    return run


def frugal_raw() -> Callable[[range], int]:
    """Per batch: the store's limiter read and conditional put, then a conditional put per order
    (the consumer's Lambda invoke of the store is the local cloud's: moto cannot run it; the local
    side also pays for any batch the store throttles and the queue hands back)."""
    sqs, dynamodb = _clients("sqs", "dynamodb")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    _table(dynamodb, "store", "id")

    def run(ks: range) -> int:
        for batch in _in_tens(_orders(ks)):
            sqs.send_message_batch(QueueUrl=url, Entries=batch)
        at = 1_767_225_600_000
        for messages in _receive_all(sqs, url):
            at += 1000
            limiter = dynamodb.get_item(TableName="store", Key={"id": {"S": "#limiter"}}, ConsistentRead=True)
            version = int(limiter["Item"]["version"]["N"]) if "Item" in limiter else 0
            dynamodb.put_item(
                TableName="store",
                Item={
                    "id": {"S": "#limiter"},
                    "version": {"N": str(version + 1)},
                    "recent": {"L": [{"N": str(at)}] * len(messages)},
                },
                ConditionExpression="attribute_not_exists(id) OR version = :version",
                ExpressionAttributeValues={":version": {"N": str(version)}},
            )
            for message in messages:
                order = json.loads(message["Body"])
                dynamodb.put_item(
                    TableName="store",
                    Item={
                        "id": {"S": order["id"]},
                        "customer": {"S": order["customer"]},
                        "total_cents": {"N": str(order["total_cents"])},
                        "written_at": {"N": str(at)},
                    },
                    ConditionExpression="attribute_not_exists(id)",
                )
        return _stored_orders(dynamodb, "store")

    return run


# ------------------------------------------------------------------------------------------ realtime_analytics

ANALYTICS_METRICS = 5


def _measurements(ks: range) -> list[dict]:
    return [
        {
            "Data": json.dumps(
                {"metric": f"m{k % ANALYTICS_METRICS}.latency_ms", "value": 100 + k % 50}
            ).encode(),
            "PartitionKey": f"m{k % ANALYTICS_METRICS}.latency_ms",
        }
        for k in ks
    ]


def _put_in_hundreds(kinesis: Any, stream: str, records: list[dict]) -> None:
    for start in range(0, len(records), 100):
        kinesis.put_records(StreamName=stream, Records=records[start : start + 100])


def _counted(dynamodb: Any, table: str) -> int:
    return sum(int(item["count"]["N"]) for item in dynamodb.scan(TableName=table)["Items"])


def analytics_local(cloud: LocalCloud) -> Callable[[range], int]:
    kinesis, dynamodb = cloud.client("kinesis"), cloud.client("dynamodb")

    def run(ks: range) -> int:
        _put_in_hundreds(kinesis, cloud.outputs["StreamName"], _measurements(ks))
        cloud.drain()
        return _counted(dynamodb, cloud.outputs["TableName"])

    return run


def _shard_records(kinesis: Any, stream: str) -> Iterator[dict]:
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        yield from kinesis.get_records(ShardIterator=iterator)["Records"]


def analytics_raw() -> Callable[[range], int]:
    """Put, read each shard, then one conditional put per metric and window, as the final invoke makes."""
    kinesis, dynamodb = _clients("kinesis", "dynamodb")
    kinesis.create_stream(StreamName="metrics", ShardCount=1)
    _table(dynamodb, "metrics", "metric", "window")

    def run(ks: range) -> int:
        _put_in_hundreds(kinesis, "metrics", _measurements(ks))
        state: dict[str, list[int]] = {}
        for record in list(_shard_records(kinesis, "metrics"))[-len(ks) :]:
            data = json.loads(record["Data"])
            count, total, low, high = state.get(data["metric"], [0, 0, data["value"], data["value"]])
            state[data["metric"]] = [
                count + 1,
                total + data["value"],
                min(low, data["value"]),
                max(high, data["value"]),
            ]
        for metric, (count, total, low, high) in sorted(state.items()):
            figures = {"count": count, "sum": total, "min": low, "max": high, "avg": total / count}
            dynamodb.put_item(
                TableName="metrics",
                Item={
                    "metric": {"S": metric},
                    "window": {"S": f"2026-01-01T00:{ks.start:02d}:00Z#shardId-000000000000"},
                    "window_start": {"S": "2026-01-01T00:00:00Z"},
                    "window_end": {"S": "2026-01-01T00:05:00Z"},
                    "shard_id": {"S": "shardId-000000000000"},
                    **{name: {"N": str(value)} for name, value in figures.items()},
                    "expires_at": {"N": "1767830400"},
                },
                ConditionExpression="attribute_not_exists(#metric)",
                ExpressionAttributeNames={"#metric": "metric"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        return _counted(dynamodb, "metrics")

    return run


# ------------------------------------------------------------------------------------------ streamer


def _clicks(ks: range) -> list[dict]:
    """JSON lines, as the API's mapping template writes each record (one line each)."""
    return [
        {
            "Data": json.dumps({"click": k, "page": f"/p/{k % 9}"}).encode() + b"\n",
            "PartitionKey": f"u-{k % 4}",
        }
        for k in ks
    ]


def _lines_in(s3: Any, bucket: str) -> int:
    lines = 0
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
        lines += len(gzip.decompress(body).splitlines())
    return lines


def streamer_local(cloud: LocalCloud) -> Callable[[range], int]:
    kinesis, s3 = cloud.client("kinesis"), cloud.client("s3")

    def run(ks: range) -> int:
        _put_in_hundreds(kinesis, cloud.outputs["StreamName"], _clicks(ks))
        cloud.drain()
        return _lines_in(s3, cloud.outputs["BucketName"])

    return run


def streamer_raw() -> Callable[[range], int]:
    """Put, then what Firehose does: read the shard, one GZIP object of the records, then the same read-back."""
    kinesis, s3 = _clients("kinesis", "s3")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    s3.create_bucket(Bucket="clicks")

    def run(ks: range) -> int:
        _put_in_hundreds(kinesis, "clicks", _clicks(ks))
        body = b"".join(record["Data"] for record in list(_shard_records(kinesis, "clicks"))[-len(ks) :])
        s3.put_object(
            Bucket="clicks", Key=f"clicks/2026/01/01/00/clicks-{ks.start}", Body=gzip.compress(body)
        )
        return _lines_in(s3, "clicks")

    return run


# ------------------------------------------------------------------------------------------ pub_sub

PUB_SUB_QUEUES = ("Thumbnail", "Resize", "Metadata")


def _photo() -> bytes:
    """A small PNG photo stand-in: the pattern's Pillow work is in both sides."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _outputs(s3: Any, bucket: str) -> int:
    return s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)


def pub_sub_local(cloud: LocalCloud) -> Callable[[range], int]:
    s3, photo = cloud.client("s3"), _photo()

    def run(ks: range) -> int:
        for k in ks:
            s3.put_object(Bucket=cloud.outputs["UploadBucketName"], Key=f"uploads/photo-{k}.png", Body=photo)
        cloud.drain()
        return _outputs(s3, cloud.outputs["OutputBucketName"])

    return run


def _derived(kind: str, data: bytes, key: str) -> tuple[str, bytes]:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if kind == "Metadata":
        image.getexif()
        found = {"format": image.format, "width": image.width, "height": image.height, "mode": image.mode}
        image.load()
        return f"metadata/{key}.json", json.dumps(found).encode()
    image.load()
    image.thumbnail((128, 128) if kind == "Thumbnail" else (1024, 1024), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f"{kind.lower()}/{key}", buffer.getvalue()


def pub_sub_raw() -> Callable[[range], int]:
    """Each upload: the put, S3's event published to the topic (moto's S3 does not notify SNS),
    fanned out to three queues; each subscriber's conditional get, Pillow work and put."""
    s3, sns, sqs = _clients("s3", "sns", "sqs")
    for bucket in ("uploads", "outputs"):
        s3.create_bucket(Bucket=bucket)
    topic = sns.create_topic(Name="uploads")["TopicArn"]
    queues = []
    for name in PUB_SUB_QUEUES:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        queues.append((name, url))
    photo = _photo()

    def run(ks: range) -> int:
        for k in ks:
            key = f"uploads/photo-{k}.png"
            etag = s3.put_object(Bucket="uploads", Key=key, Body=photo)["ETag"].strip('"')
            record = {
                "s3": {
                    "bucket": {"name": "uploads"},
                    "object": {"key": key, "eTag": etag, "size": len(photo)},
                }
            }
            sns.publish(
                TopicArn=topic,
                Message=json.dumps({"Records": [{"eventName": "ObjectCreated:Put", **record}]}),
            )
        for name, url in queues:
            for messages in _receive_all(sqs, url):
                for message in messages:
                    item = json.loads(message["Body"])["Records"][0]["s3"]["object"]
                    data = s3.get_object(Bucket="uploads", Key=item["key"], IfMatch=item["eTag"])[
                        "Body"
                    ].read()
                    target, body = _derived(name, data, item["key"].removeprefix("uploads/"))
                    s3.put_object(
                        Bucket="outputs",
                        Key=target,
                        Body=body,
                        Metadata={"source-key": item["key"], "source-etag": item["eTag"]},
                    )
        return _outputs(s3, "outputs")

    return run


# ------------------------------------------------------------------------------------------ map_reduce


def _document(k: int) -> bytes:
    return f"the quick brown fox {k % 17} jumps over the lazy dog {k % 5}\n".encode() * 20


def map_reduce_local(cloud: LocalCloud) -> Callable[[range], int]:
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    counted: list[int] = []

    def run(ks: range) -> int:
        name, prefix = f"bench-{ks.start}", f"{cloud.outputs['InputPrefix']}bench-{ks.start}/"
        for k in ks:
            s3.put_object(
                Bucket=cloud.outputs["InputBucketName"], Key=f"{prefix}doc-{k:05d}.txt", Body=_document(k)
            )
        sfn.start_execution(
            stateMachineArn=cloud.outputs["StateMachineArn"], name=name, input=json.dumps({"prefix": prefix})
        )
        cloud.drain()
        key = f"{cloud.outputs['CountsPrefix']}{name}.json"
        result = json.loads(s3.get_object(Bucket=cloud.outputs["OutputBucketName"], Key=key)["Body"].read())
        counted.append(result["files"] if result["status"] == "COMPLETE" else 0)
        return sum(counted)

    return run


def map_reduce_raw() -> Callable[[range], int]:
    """The uploads, then what the workflow's calls come to: the ItemReader's listing, each mapper's
    gets (a batch of 10), the ResultWriter's results and manifest, the reducer's reads and its put
    (the Step Functions executions between them are the local cloud's: moto does not run them)."""
    from collections import Counter

    (s3,) = _clients("s3")
    for bucket in ("input", "output"):
        s3.create_bucket(Bucket=bucket)
    counted: list[int] = []

    def run(ks: range) -> int:
        prefix = f"input/bench-{ks.start}/"
        for k in ks:
            s3.put_object(Bucket="input", Key=f"{prefix}doc-{k:05d}.txt", Body=_document(k))
        listed = s3.list_objects_v2(Bucket="input", Prefix=prefix)["Contents"]
        children = []
        for batch in _in_tens(listed):
            counts: Counter[str] = Counter()
            for item in batch:
                counts.update(s3.get_object(Bucket="input", Key=item["Key"])["Body"].read().decode().split())
            items = [{"Key": item["Key"], "Size": item["Size"]} for item in batch]
            output = {"files": len(batch), "words": sum(counts.values()), "counts": dict(counts)}
            children.append({"Input": json.dumps({"Items": items}), "Output": json.dumps(output)})
        results = f"results/bench-{ks.start}/"
        s3.put_object(Bucket="output", Key=f"{results}SUCCEEDED_0.json", Body=json.dumps(children).encode())
        manifest = {"ResultFiles": {"SUCCEEDED": [{"Key": f"{results}SUCCEEDED_0.json"}]}}
        s3.put_object(Bucket="output", Key=f"{results}manifest.json", Body=json.dumps(manifest).encode())
        read = json.loads(s3.get_object(Bucket="output", Key=f"{results}manifest.json")["Body"].read())
        total: Counter[str] = Counter()
        files = 0
        for entry in read["ResultFiles"]["SUCCEEDED"]:
            for child in json.loads(s3.get_object(Bucket="output", Key=entry["Key"])["Body"].read()):
                partial = json.loads(child["Output"])
                total.update(partial["counts"])
                files += partial["files"]
        result = {"status": "COMPLETE", "files": files, "counts": dict(sorted(total.items()))}
        s3.put_object(Bucket="output", Key=f"counts/bench-{ks.start}.json", Body=json.dumps(result).encode())
        counted.append(files)
        return sum(counted)

    return run


# ------------------------------------------------------------------------------------------ the delivery rows


def _webhooks(ks: range) -> list[dict]:
    return [
        {"Id": str(k % 10), "MessageBody": json.dumps({"id": f"evt_{k}", "type": "bench", "data": {"n": k}})}
        for k in ks
    ]


def webhooks_local(cloud: LocalCloud) -> Callable[[range], int]:
    sqs, dynamodb = cloud.client("sqs"), cloud.client("dynamodb")

    def run(ks: range) -> int:
        _send_entries(sqs, cloud.outputs["QueueUrl"], _webhooks(ks))
        cloud.drain()
        return _count(dynamodb, cloud.outputs["TableName"])

    return run


def webhooks_raw() -> Callable[[range], int]:
    """Send, then per batch of 10 (the mapping's batch size) the worker's conditional put of each
    webhook, as it writes it, and the batch's delete."""
    sqs, dynamodb = _clients("sqs", "dynamodb")
    url = sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    _table(dynamodb, "webhooks", "id")

    def run(ks: range) -> int:
        _send_entries(sqs, url, _webhooks(ks))
        for messages in _receive_all(sqs, url):
            for message in messages:
                event = json.loads(message["Body"])
                dynamodb.put_item(
                    TableName="webhooks",
                    Item={
                        "id": {"S": event["id"]},
                        "type": {"S": event["type"]},
                        "data": {"S": json.dumps(event["data"], separators=(",", ":"))},
                        "received_at": {"S": datetime.now(UTC).isoformat(timespec="milliseconds")},
                    },
                    ConditionExpression="attribute_not_exists(id)",
                )
        return _count(dynamodb, "webhooks")

    return run


METERS = 20


def _readings(ks: range) -> list[dict]:
    """Meter readings, each meter's put with the meter as partition key."""
    return [
        {
            "Data": json.dumps({"meter_id": f"m-{k % METERS}", "kwh": k}).encode(),
            "PartitionKey": f"m-{k % METERS}",
        }
        for k in ks
    ]


def _readings_counted(dynamodb: Any, table: str) -> int:
    return sum(int(item["readings"]["N"]) for item in dynamodb.scan(TableName=table)["Items"])


def readings_local(cloud: LocalCloud) -> Callable[[range], int]:
    kinesis, dynamodb = cloud.client("kinesis"), cloud.client("dynamodb")

    def run(ks: range) -> int:
        _put_in_hundreds(kinesis, cloud.outputs["StreamName"], _readings(ks))
        cloud.drain()
        return _readings_counted(dynamodb, cloud.outputs["TableName"])

    return run


def readings_raw() -> Callable[[range], int]:
    """Put, read each of the two shards on from where the last run stopped, then the processor's
    conditional update of each reading's meter (the pattern's stream is KMS-encrypted; moto's is not)."""
    kinesis, dynamodb = _clients("kinesis", "dynamodb")
    kinesis.create_stream(StreamName="readings", ShardCount=2)
    _table(dynamodb, "readings", "meter_id")
    iterators = [
        kinesis.get_shard_iterator(
            StreamName="readings", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for shard in kinesis.list_shards(StreamName="readings")["Shards"]
    ]

    def run(ks: range) -> int:
        _put_in_hundreds(kinesis, "readings", _readings(ks))
        for shard, iterator in enumerate(iterators):
            answer = kinesis.get_records(ShardIterator=iterator)
            iterators[shard] = answer["NextShardIterator"]
            for record in answer["Records"]:
                reading = json.loads(record["Data"])
                dynamodb.update_item(
                    TableName="readings",
                    Key={"meter_id": {"S": reading["meter_id"]}},
                    UpdateExpression="ADD #total :kwh, #readings :one SET #last = :sequence",
                    ConditionExpression="attribute_not_exists(#last) OR #last < :sequence",
                    ExpressionAttributeNames={
                        "#total": "total_kwh",
                        "#readings": "readings",
                        "#last": "last_sequence",
                    },
                    ExpressionAttributeValues={
                        ":kwh": {"N": str(reading["kwh"])},
                        ":one": {"N": "1"},
                        ":sequence": {"S": record["SequenceNumber"].zfill(129)},
                    },
                )
        return _readings_counted(dynamodb, "readings")

    return run


# ------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Driver:
    """One asynchronous pattern's two sides. ``local`` and ``raw`` set up (untimed) and return a
    run: it puts in the messages numbered by its range, waits for the work, and answers how much
    work it finds done in all, ``per_message`` units per message."""

    pattern: str
    stack: str
    path: str
    local: Callable[[LocalCloud], Callable[[range], int]]
    raw: Callable[[], Callable[[range], int]]
    per_message: int = 1
    share: float = 1.0
    """This pattern's messages as a share of N: image work is slow, a stream's records are cheap."""

    def messages(self, n: int) -> int:
        return max(1, round(n * self.share))


DRIVERS: tuple[Driver, ...] = (
    Driver(
        "notifier",
        "NotifierStack",
        "SNS Publish -> 3 filtered SQS subscriptions -> subscribers -> DynamoDB",
        notifier_local,
        notifier_raw,
        per_message=len(NOTIFIER_SUBSCRIBERS),
    ),
    Driver("fifo_consumer", "FifoConsumerStack", "SQS FIFO -> consumer -> DynamoDB", fifo_local, fifo_raw),
    Driver(
        "distributed_trigger",
        "DistributedTriggerStack",
        "PutLogEvents -> subscription filter -> trigger -> SNS PublishBatch -> 2 SQS queues",
        trigger_local,
        trigger_raw,
        per_message=len(TRIGGER_SUBSCRIBERS),
    ),
    Driver(
        "event_driven",
        "EventDrivenStack",
        "S3 PutObject -> notification -> transformer -> S3",
        event_driven_local,
        event_driven_raw,
    ),
    Driver(
        "fan_out_fan_in",
        "FanOutFanInStack",
        "splitter -> N async workers (Event) -> DynamoDB transaction",
        fan_out_local,
        fan_out_raw,
    ),
    Driver(
        "frugal_consumer",
        "FrugalConsumerStack",
        "SQS -> consumer (max concurrency 2) -> store function -> DynamoDB",
        frugal_local,
        frugal_raw,
    ),
    Driver(
        "realtime_analytics",
        "RealtimeAnalyticsStack",
        "Kinesis -> tumbling-window aggregator -> DynamoDB",
        analytics_local,
        analytics_raw,
        share=5,
    ),
    Driver(
        "streamer",
        "StreamerStack",
        "Kinesis -> Firehose (buffer, GZIP) -> S3",
        streamer_local,
        streamer_raw,
        share=5,
    ),
    Driver(
        "pub_sub",
        "PubSubStack",
        "S3 upload -> SNS -> 3 SQS queues -> thumbnail, resize, metadata -> S3",
        pub_sub_local,
        pub_sub_raw,
        per_message=len(PUB_SUB_QUEUES),
        share=0.25,
    ),
    Driver(
        "map_reduce",
        "MapReduceStack",
        "S3 objects -> Distributed Map (ItemReader, batches of 10) -> mappers -> ResultWriter -> reducer -> S3",
        map_reduce_local,
        map_reduce_raw,
    ),
)


#: Table (e)'s delivery rows (``benchmarks/localcloud_bench.py``: alternating rounds, wall and CPU).
WEBHOOKS = Driver(
    "scalable_webhook",
    "ScalableWebhookStack",
    "webhooks SQS -> worker -> DynamoDB",
    webhooks_local,
    webhooks_raw,
)
READINGS = Driver(
    "stream_processing",
    "StreamProcessingStack",
    "readings Kinesis -> processor -> DynamoDB",
    readings_local,
    readings_raw,
)


WARM_UP = 1
"""Messages put through first, untimed, on both sides: the figure is the steady state, not the
functions' cold starts (imports, clients) nor botocore's first use of each operation."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(pattern: str, side: str, run: Callable[[range], int], n: int, per_message: int) -> float:
    warm = run(range(WARM_UP))
    start = cpu_seconds()
    done = run(range(WARM_UP, WARM_UP + n)) - warm
    seconds = cpu_seconds() - start
    if done != n * per_message:
        raise RuntimeError(f"{pattern}: {side} did {done} of {n * per_message}")
    return seconds


def local_run(assembly: Path, driver: Driver, n: int) -> float:
    from localcloud import LocalCloud

    with _quiet(), LocalCloud.from_assembly(assembly, driver.stack) as cloud:
        return _timed(driver.pattern, "the local cloud", driver.local(cloud), n, driver.per_message)


def raw_run(driver: Driver, n: int) -> float:
    with mock_aws():
        return _timed(driver.pattern, "raw moto", driver.raw(), n, driver.per_message)


@dataclass(frozen=True)
class Figure:
    driver: Driver
    messages: int
    local: float
    raw: float

    @property
    def ratio(self) -> float:
        return self.local / self.raw


def measure(assembly: Path, n: int = MESSAGES, runs: int = RUNS, only: tuple[str, ...] = ()) -> list[Figure]:
    """Median CPU seconds of ``runs`` alternating runs of each side, per driver."""
    figures = []
    for driver in DRIVERS:
        if only and driver.pattern not in only:
            continue
        count, local, raw = driver.messages(n), [], []
        for _ in range(runs):
            local.append(local_run(assembly, driver, count))
            raw.append(raw_run(driver, count))
        figures.append(Figure(driver, count, statistics.median(local), statistics.median(raw)))
    return figures


def main() -> None:
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("assembly", type=Path)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--only", nargs="*", default=())
    args = parser.parse_args()
    for figure in measure(args.assembly, args.messages, args.runs, tuple(args.only)):
        print(
            f"{figure.driver.pattern:22} local {figure.local:6.3f} s  raw {figure.raw:6.3f} s  "
            f"{figure.ratio:5.2f}x  {figure.messages / figure.local:7.0f} msg/s",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
