"""Local cloud figures: provisioning time per pattern stack, delivery and HTTP serving overhead
against raw moto, and how soon ``python -m localcloud serve`` answers its first request.

The delivery figure sends N webhooks through the scalable webhook's queue, worker and table in the
local cloud, and makes the same moto calls directly in a loop (send in batches, receive, put each
item, delete the batch), as a ratio. Timings read ``CLOCK_MONOTONIC`` and the process's CPU time
directly: the local cloud freezes Python's clocks while it runs.

The local cloud is imported inside the functions that start one: importing it changes moto (its
DynamoDB item lock) for the whole process, and the raw HTTP loop runs in a fresh interpreter that
imports this module without it (:class:`FreshRawLoop`).

The HTTP figures are rounds of HTTP_ITEMS request pairs on one served cloud and one fresh moto
interpreter, alternating, after one untimed round on each side; each side's median and range. A run
of 100 pairs is half a second, and one run per cloud was at the mercy of a full garbage collection
(about 0.13 s of CPU, in one round of three or four) and of the other processes on the machine.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import http.client
import io
import json
import socket
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
HTTP_ROUNDS = 5
HTTP_RATIO_TARGET = 2.0
FIRST_REQUEST_TARGET = 5.0


def _now() -> float:
    """The monotonic clock, read past the virtual clock's fakes (which freeze ``time.monotonic``)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def _cpu() -> float:
    """CPU seconds of this process, every thread's (the served run's client and server alike)."""
    return time.process_time()


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


@dataclasses.dataclass
class Rounds:
    """Seconds and CPU seconds of each timed round of HTTP_ITEMS pairs on one side."""

    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @staticmethod
    def spread(values: list[float]) -> str:
        """The median, then the range: ``0.52 (0.48-0.61)``."""
        return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


class ServedLoop:
    """The simple web service served on localhost, one cloud and one server for every round. Each
    round makes HTTP_ITEMS creates and reads on one keep-alive connection, as an HTTP client library
    or a browser keeps one. ``stage_limits`` keeps the stage's own throttle (see
    :func:`_at_account_limits`)."""

    def __init__(self, assembly: Path, *, stage_limits: bool = False) -> None:
        from localcloud.core.assembly import load_stack

        self.artifact = load_stack(assembly, "SimpleWebServiceStack")
        if not stage_limits:
            self.artifact = _at_account_limits(self.artifact)
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ServedLoop:
        from localcloud import LocalCloud
        from localcloud.server import LocalServer

        self._stack.enter_context(_quiet())
        cloud = self._stack.enter_context(LocalCloud(self.artifact))
        server = LocalServer(cloud).start()  # real time: the stage throttle refills as on AWS
        self._stack.callback(server.close)
        door = server.front_doors[0]
        self.port = int(door.url.split(":")[2].split("/")[0])
        self.stage = door.base_path
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self._stack.callback(self.connection.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def pair(self, n: int) -> None:
        item = {"name": f"item {n}", "price_cents": n}
        status, body = _http(self.port, "POST", f"{self.stage}/items", item, self.connection)
        if status != 201:
            raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
        status, body = _http(
            self.port, "GET", f"{self.stage}/items/{json.loads(body)['id']}", None, self.connection
        )
        if status != 200:
            raise RuntimeError(f"GET answered {status}: {body[:200]!r}")

    def warm_up(self) -> float:
        """An untimed round; returns the seconds of its first pair, which carries the function's cold
        start (its imports and client)."""
        start = _now()
        self.pair(0)
        first = _now() - start
        for n in range(1, HTTP_ITEMS):
            self.pair(n)
        return first

    def round(self) -> tuple[float, float]:
        """Seconds and CPU seconds of the process (client and server threads) for HTTP_ITEMS pairs."""
        start, cpu = _now(), _cpu()
        for n in range(HTTP_ITEMS):
            self.pair(n)
        return _now() - start, _cpu() - cpu


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


class RawLoop:
    """The DynamoDB calls the simple web service makes per request pair, straight to moto: the same
    PutItem (item, condition) and GetItem (key) its handler sends, with one client and table made
    before any round."""

    def __enter__(self) -> RawLoop:
        self._mock = mock_aws()
        self._mock.start()
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        _id_table(self.dynamodb)
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()

    def round(self) -> tuple[float, float]:
        """Seconds and CPU seconds for HTTP_ITEMS pairs."""
        start, cpu = _now(), _cpu()
        for n in range(HTTP_ITEMS):
            item = _stored_item(n)
            self.dynamodb.put_item(
                TableName="bench", Item=item, ConditionExpression="attribute_not_exists(id)"
            )
            self.dynamodb.get_item(TableName="bench", Key={"id": item["id"]})
        return _now() - start, _cpu() - cpu


def raw_moto_requests() -> tuple[float, float]:
    """One round of :class:`RawLoop` in a mock of its own."""
    with RawLoop() as loop:
        return loop.round()


#: The fresh interpreter's program: refuses to run if anything imported the local cloud, then plays
#: a round of :class:`RawLoop` for each line it reads and prints its two figures.
RAW_IN_FRESH_PROCESS = """
import sys
from benchmarks.localcloud_bench import RawLoop
assert not any(name.split(".")[0] == "localcloud" for name in sys.modules), "the local cloud is imported"
with RawLoop() as loop:
    for _ in sys.stdin:
        print(*loop.round(), flush=True)
"""


class FreshRawLoop:
    """:class:`RawLoop` in a new interpreter, as a program using moto alone runs it: in this one a
    local cloud runs, and its changes to moto and botocore (the DynamoDB item lock, the hooks,
    :mod:`localcloud.core.speedups`) stay installed for the rest of the process. The interpreter
    lives for every round, as the served cloud does, so the two alternate round by round."""

    def __enter__(self) -> FreshRawLoop:
        self._process = subprocess.Popen(
            [sys.executable, "-c", RAW_IN_FRESH_PROCESS],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        if self._process.wait(timeout=30) != 0 and exc[0] is None:
            raise RuntimeError(f"the raw loop's interpreter exited with {self._process.returncode}")

    def round(self) -> tuple[float, float]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("round\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the raw loop's interpreter exited with {self._process.wait()}")
        wall, cpu = line.split()
        return float(wall), float(cpu)


@dataclasses.dataclass
class HttpFigures:
    served: Rounds
    raw: Rounds
    """In a fresh interpreter (:class:`FreshRawLoop`)."""
    here: Rounds
    """In the served run's process after its cloud stopped, where moto and botocore carry the local
    cloud's changes."""
    first: float
    """The served warm-up's first pair, with the function's cold start."""


def http_figures(assembly: Path, rounds: int = HTTP_ROUNDS) -> HttpFigures:
    """``rounds`` timed rounds of HTTP_ITEMS pairs on each side, served and raw alternating round by
    round, so that the machine's noise falls on both alike; one untimed warm-up round on each side
    first (the function's cold start; moto's and botocore's first calls). Then the same rounds of the
    raw loop in this process."""
    served, raw, here = Rounds(), Rounds(), Rounds()
    with ServedLoop(assembly) as served_loop, FreshRawLoop() as raw_loop:
        first = served_loop.warm_up()
        raw_loop.round()
        for _ in range(rounds):
            served.add(*served_loop.round())
            raw.add(*raw_loop.round())
    with RawLoop() as here_loop:
        here_loop.round()
        for _ in range(rounds):
            here.add(*here_loop.round())
    return HttpFigures(served, raw, here, first)


def at_stage_limits(assembly: Path) -> str:
    """Seconds of one round served under the stage's own throttle (the function's cold start
    included), or that it throttled: the figure before :func:`_at_account_limits`, kept beside the
    new one."""
    try:
        with ServedLoop(assembly, stage_limits=True) as loop:
            return f"{loop.round()[0]:.2f}"
    except RuntimeError as throttled:
        return str(throttled).split(":")[0].replace("answered", "throttled,")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def first_request_after_serve(port: int | None = None) -> float:
    """Seconds from starting ``python -m localcloud serve simple_web_service`` (synth included) to
    its first answered request, on a free port unless told (another ``serve`` may hold any fixed one)."""
    port = port or _free_port()
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
