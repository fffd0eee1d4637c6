"""Local cloud figures: provisioning time per pattern stack, delivery and HTTP serving overhead
against raw moto, and how soon ``python -m localcloud serve`` answers its first request.

The delivery figure sends N webhooks through the scalable webhook's queue, worker and table in the
local cloud, and makes the same moto calls directly in a loop (send in batches, receive, put each
item, delete the batch), as a ratio. Timings use ``os.times().elapsed``: the local cloud freezes
Python's clocks while it runs.

The local cloud is imported inside the functions that start one: importing it changes moto (its
DynamoDB item lock) for the whole process, and the raw HTTP loop runs in a fresh interpreter that
imports this module without it (:func:`fresh_raw_moto_requests`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from moto import mock_aws

if TYPE_CHECKING:
    from localcloud.core.assembly import StackArtifact

DELIVERY_MESSAGES = 200
DELIVERY_RATIO_TARGET = 2.0
PROVISION_RUNS = 3
HTTP_ITEMS = 100
HTTP_RUNS = 3
HTTP_RATIO_TARGET = 2.0
FIRST_REQUEST_TARGET = 5.0
SERVE_PORT = 4599


def _now() -> float:
    return os.times().elapsed


def _cpu() -> float:
    """CPU seconds of this process, every thread's (the served run's client and server alike)."""
    times = os.times()
    return times.user + times.system


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Handlers print their structured logs and metrics; keep them out of the figures."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def provisioning_seconds(assembly: Path) -> dict[str, float]:
    """Median seconds to start the local cloud (provision every resource) for each pattern stack."""
    from localcloud import LocalCloud
    from patterns.registry import PATTERNS

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


def _id_table(dynamodb: object) -> None:
    """The raw-moto baselines' table: keyed by a string ``id``, like the patterns' tables."""
    dynamodb.create_table(  # type: ignore[attr-defined]
        TableName="bench",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def local_cloud_delivery(assembly: Path) -> float:
    from localcloud import LocalCloud

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
        _id_table(dynamodb)
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


def _readings() -> list[dict]:
    """The stream benchmark's records: 20 meters, in PutRecords batches of 100."""
    return [
        {"Data": json.dumps({"meter_id": f"m-{n % 20}", "kwh": n}).encode(), "PartitionKey": f"m-{n % 20}"}
        for n in range(DELIVERY_MESSAGES)
    ]


def _put_readings(put_batch: Callable[[list[dict]], object]) -> None:
    readings = _readings()
    for start in range(0, len(readings), 100):
        put_batch(readings[start : start + 100])


def stream_local_delivery(assembly: Path) -> float:
    """N readings through the data-streaming pattern: Kinesis, four virtual shards, the processor, DynamoDB."""
    from localcloud import LocalCloud

    with _quiet(), LocalCloud.from_assembly(assembly, "StreamProcessingStack") as cloud:
        kinesis, stream = cloud.client("kinesis"), cloud.outputs["StreamName"]
        start = _now()
        _put_readings(lambda records: kinesis.put_records(StreamName=stream, Records=records))
        cloud.drain()
        seconds = _now() - start
        items = cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])["Items"]
    counted = sum(int(item["readings"]["N"]) for item in items)
    if counted != DELIVERY_MESSAGES:
        raise RuntimeError(f"local cloud counted {counted} of {DELIVERY_MESSAGES} readings")
    return seconds


def stream_raw_delivery() -> float:
    """The same readings with the moto calls the pattern makes, in a loop: put, read each shard,
    one conditional update per record."""
    with mock_aws():
        kinesis, dynamodb = (boto3.client(s, region_name="us-east-1") for s in ("kinesis", "dynamodb"))
        kinesis.create_stream(StreamName="bench", ShardCount=2)
        dynamodb.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "meter_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "meter_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        start = _now()
        _put_readings(lambda records: kinesis.put_records(StreamName="bench", Records=records))
        for shard in kinesis.list_shards(StreamName="bench")["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName="bench", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for record in kinesis.get_records(ShardIterator=iterator)["Records"]:
                reading = json.loads(record["Data"])
                dynamodb.update_item(
                    TableName="bench",
                    Key={"meter_id": {"S": reading["meter_id"]}},
                    UpdateExpression="ADD total_kwh :kwh, readings :one SET last_sequence = :sequence",
                    ConditionExpression="attribute_not_exists(last_sequence) OR last_sequence < :sequence",
                    ExpressionAttributeValues={
                        ":kwh": {"N": str(reading["kwh"])},
                        ":one": {"N": "1"},
                        ":sequence": {"S": record["SequenceNumber"].zfill(128)},
                    },
                )
        return _now() - start


def _http(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request, on ``connection`` (kept open for the next) or on a connection of its own."""
    own = connection is None
    if connection is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, payload, {"Content-Type": "application/json"} if payload else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def _at_account_limits(artifact: StackArtifact) -> StackArtifact:
    """The stack with its stages' method limits raised to the account's (10,000 per second, burst
    5,000). The pattern's stage allows 100 requests per second and a burst of 50 per method: 100
    pairs served faster than 0.5 s are throttled (429), on AWS as here, so the stage's limit, not the
    local cloud, would set the figure. Every request still passes the throttle check."""
    template = copy.deepcopy(artifact.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Stage":
            for setting in resource["Properties"].get("MethodSettings", []):
                setting.update(ThrottlingRateLimit=10_000, ThrottlingBurstLimit=5_000)
    return dataclasses.replace(artifact, template=template)


def local_server_requests(assembly: Path, *, stage_limits: bool = False) -> tuple[float, float, float]:
    """Seconds for HTTP_ITEMS creates and reads through the simple web service served on localhost,
    of those the first pair's, which carries the function's cold start (its imports and client), and
    the CPU seconds of the process meanwhile (client and server).
    The requests share one keep-alive connection, as an HTTP client library or a browser keeps one.
    ``stage_limits`` keeps the stage's own throttle (see :func:`_at_account_limits`)."""
    from localcloud import LocalCloud
    from localcloud.core.assembly import load_stack
    from localcloud.server import LocalServer

    artifact = load_stack(assembly, "SimpleWebServiceStack")
    if not stage_limits:
        artifact = _at_account_limits(artifact)
    with _quiet(), LocalCloud(artifact) as cloud:
        server = LocalServer(cloud).start()  # real time: the stage throttle refills as on AWS
        port = int(server.front_doors[0].url.split(":")[2].split("/")[0])
        stage = server.front_doors[0].base_path
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            start, cpu = _now(), _cpu()
            first = 0.0
            for n in range(HTTP_ITEMS):
                item = {"name": f"item {n}", "price_cents": n}
                status, body = _http(port, "POST", f"{stage}/items", item, connection)
                if status != 201:
                    raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
                status, body = _http(port, "GET", f"{stage}/items/{json.loads(body)['id']}", None, connection)
                if status != 200:
                    raise RuntimeError(f"GET answered {status}: {body[:200]!r}")
                if n == 0:
                    first = _now() - start
            return _now() - start, first, _cpu() - cpu
        finally:
            connection.close()
            server.close()


def _stored_item(n: int) -> dict[str, dict[str, str]]:
    """The item the simple web service stores for the served run's ``n``-th POST, as it sends it:
    a random UUID key, the body's two fields and the two timestamps it adds."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {
        "id": {"S": str(uuid.uuid4())},
        "name": {"S": f"item {n}"},
        "price_cents": {"N": str(n)},
        "created_at": {"S": now},
        "updated_at": {"S": now},
    }


def raw_moto_requests() -> tuple[float, float]:
    """The DynamoDB calls the simple web service makes per request pair, straight to moto: the same
    PutItem (item, condition) and GetItem (key) its handler sends; seconds and CPU seconds."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        _id_table(dynamodb)
        start, cpu = _now(), _cpu()
        for n in range(HTTP_ITEMS):
            item = _stored_item(n)
            dynamodb.put_item(TableName="bench", Item=item, ConditionExpression="attribute_not_exists(id)")
            dynamodb.get_item(TableName="bench", Key={"id": item["id"]})
        return _now() - start, _cpu() - cpu


#: The fresh interpreter's program: refuses to run if anything imported the local cloud.
RAW_IN_FRESH_PROCESS = """
import sys
from benchmarks.localcloud_bench import raw_moto_requests
assert not any(name.split(".")[0] == "localcloud" for name in sys.modules), "the local cloud is imported"
print(*raw_moto_requests())
"""


def fresh_raw_moto_requests() -> tuple[float, float]:
    """:func:`raw_moto_requests` in a new interpreter, as a program using moto alone runs it: in this
    one a local cloud has run, and its changes to moto and botocore (the DynamoDB item lock, the
    hooks, :mod:`localcloud.core.speedups`) stay installed for the rest of the process."""
    done = subprocess.run(
        [sys.executable, "-c", RAW_IN_FRESH_PROCESS],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


def median_http_runs(
    assembly: Path,
) -> tuple[tuple[float, float, float], tuple[float, float], tuple[float, float]]:
    """The served run of median length (with its first pair and CPU), and the raw runs of median
    length (with their CPU) in a fresh interpreter (:func:`fresh_raw_moto_requests`) and in this
    process after the served run, where moto and botocore carry the local cloud's changes; HTTP_RUNS
    of each, alternating so that machine noise falls on all alike."""
    served, fresh, here = [], [], []
    for _ in range(HTTP_RUNS):
        served.append(local_server_requests(assembly))
        fresh.append(fresh_raw_moto_requests())
        here.append(raw_moto_requests())
    return sorted(served)[len(served) // 2], sorted(fresh)[len(fresh) // 2], sorted(here)[len(here) // 2]


def at_stage_limits(assembly: Path) -> str:
    """Seconds served under the stage's own throttle, or that it throttled: the figure before
    :func:`_at_account_limits`, kept beside the new one."""
    try:
        return f"{local_server_requests(assembly, stage_limits=True)[0]:.2f}"
    except RuntimeError as throttled:
        return str(throttled).split(":")[0].replace("answered", "throttled,")


def first_request_after_serve(port: int = SERVE_PORT) -> float:
    """Seconds from starting ``python -m localcloud serve simple_web_service`` (synth included) to
    its first answered request."""
    start = _now()
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "serve", "simple_web_service", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while process.poll() is None:
            try:
                status, _ = _http(port, "GET", "/prod/items")
                if status == 200:
                    return _now() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"serve exited with {process.returncode} before answering")
    finally:
        process.terminate()
        process.wait()
