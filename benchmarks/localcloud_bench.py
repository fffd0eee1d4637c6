"""Local cloud figures: provisioning time per pattern stack, and delivery overhead against raw moto.

The delivery figure sends N webhooks through the scalable webhook's queue, worker and table in the
local cloud, and makes the same moto calls directly in a loop (send in batches, receive, put each
item, delete the batch), as a ratio. Timings use ``os.times().elapsed``: the local cloud freezes
Python's clocks while it runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
from moto import mock_aws

from localcloud import LocalCloud
from patterns.registry import PATTERNS

DELIVERY_MESSAGES = 200
DELIVERY_RATIO_TARGET = 2.0
PROVISION_RUNS = 3


def _now() -> float:
    return os.times().elapsed


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Handlers print their structured logs and metrics; keep them out of the figures."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def provisioning_seconds(assembly: Path) -> dict[str, float]:
    """Median seconds to start the local cloud (provision every resource) for each pattern stack."""
    medians = {}
    for pattern in PATTERNS:
        runs = []
        for _ in range(PROVISION_RUNS):
            cloud = LocalCloud.from_assembly(assembly, pattern.stack_name)
            start = _now()
            cloud.start()
            runs.append(_now() - start)
            cloud.stop()
        medians[pattern.stack_name] = statistics.median(runs)
    return medians


def _webhook(n: int) -> str:
    return json.dumps({"id": f"evt_{n}", "type": "bench", "data": {"n": n}})


def _send_all(send_batch: Callable[[list[dict]], object]) -> None:
    for start in range(0, DELIVERY_MESSAGES, 10):
        send_batch([{"Id": str(i), "MessageBody": _webhook(start + i)} for i in range(10)])


def local_cloud_delivery(assembly: Path) -> float:
    with _quiet(), LocalCloud.from_assembly(assembly, "ScalableWebhookStack") as cloud:
        queue = cloud.outputs["QueueUrl"]
        sqs = cloud.client("sqs")
        start = _now()
        _send_all(lambda entries: sqs.send_message_batch(QueueUrl=queue, Entries=entries))
        cloud.drain()
        seconds = _now() - start
        stored = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"], Select="COUNT")["Count"]
    if stored != DELIVERY_MESSAGES:
        raise RuntimeError(f"local cloud stored {stored} of {DELIVERY_MESSAGES} webhooks")
    return seconds


def raw_moto_delivery() -> float:
    with mock_aws():
        sqs, dynamodb = (boto3.client(s, region_name="us-east-1") for s in ("sqs", "dynamodb"))
        queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
        dynamodb.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        start = _now()
        _send_all(lambda entries: sqs.send_message_batch(QueueUrl=queue, Entries=entries))
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                event = json.loads(message["Body"])
                dynamodb.put_item(
                    TableName="bench",
                    Item={
                        "id": {"S": event["id"]},
                        "type": {"S": event["type"]},
                        "data": {"S": json.dumps(event["data"])},
                    },
                    ConditionExpression="attribute_not_exists(id)",
                )
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return _now() - start
