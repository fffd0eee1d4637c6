"""Local cloud figures: provisioning time per pattern stack, delivery and HTTP serving overhead
against raw moto, and how soon ``python -m localcloud serve`` answers its first request.

The delivery figures put messages through the scalable webhook (SQS, worker, DynamoDB) and the
stream processor (Kinesis, processor, DynamoDB) in the local cloud, and make the handlers' calls
straight to moto in a loop (``benchmarks/async_bench.py``'s :data:`~benchmarks.async_bench.WEBHOOKS`
and :data:`~benchmarks.async_bench.READINGS`). Timings read ``CLOCK_MONOTONIC`` and the process's
CPU time directly: the local cloud freezes Python's clocks while it runs.

The local cloud is imported inside the functions that start one: importing it changes moto (its
DynamoDB item lock) for the whole process, and the raw loops run in a fresh interpreter that imports
this module without it (:class:`FreshRawLoop`).

Both the HTTP and the delivery figures are rounds on one cloud and one fresh moto interpreter,
alternating, after one untimed round on each side; each side's median and range (:func:`alternate`).
One run per cloud was at the mercy of a full garbage collection (about 0.13 s of CPU, in one round of
three or four), of the function's cold start, and of the other processes on the machine: single
delivery runs read 2.20x, 0.84x and 1.35x within a minute.
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
from typing import TYPE_CHECKING, Protocol

import boto3
from moto import mock_aws

if TYPE_CHECKING:
    from benchmarks.async_bench import Driver
    from localcloud.core.assembly import StackArtifact

DELIVERY_MESSAGES = 40
"""Messages per delivery round: six rounds a side (one untimed) put 240 through, where the single
run of 200 per side did; short rounds keep the rows' time down, a round's fixed costs (the drain, the
Scan) weigh more in them."""
DELIVERY_ROUNDS = 5
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


def _id_table(dynamodb: object) -> None:
    """The raw-moto baselines' table: keyed by a string ``id``, like the patterns' tables."""
    dynamodb.create_table(  # type: ignore[attr-defined]
        TableName="bench",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


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
    """Seconds and CPU seconds of each timed round on one side."""

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


class _DriverRounds:
    """Rounds of DELIVERY_MESSAGES messages through one side of an :class:`~benchmarks.async_bench.Driver`,
    numbered on from the last round's. Each round's run counts the work done in all (one Scan, on
    both sides) and must find every message of every round so far."""

    side = ""

    def __init__(self, driver: Driver, messages: int = DELIVERY_MESSAGES) -> None:
        self.driver, self.messages, self.sent = driver, messages, 0
        self._stack = contextlib.ExitStack()

    def _run(self) -> Callable[[range], int]:
        raise NotImplementedError

    def __enter__(self) -> _DriverRounds:
        try:
            self.run = self._run()
        except BaseException:  # a side that fails to start leaves nothing entered (stdout, a mock)
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def round(self) -> tuple[float, float]:
        """Seconds and CPU seconds of the process for one round's messages, put in and done."""
        ks = range(self.sent, self.sent + self.messages)
        start, cpu = _now(), _cpu()
        done = self.run(ks)
        wall, cpu = _now() - start, _cpu() - cpu
        self.sent = ks.stop
        if done != self.sent * self.driver.per_message:
            raise RuntimeError(
                f"{self.driver.pattern}: {self.side} did {done} of {self.sent * self.driver.per_message}"
            )
        return wall, cpu


class CloudDeliveryLoop(_DriverRounds):
    """The driver's local side: one cloud, started before any round, for every round."""

    side = "the local cloud"

    def __init__(self, assembly: Path, driver: Driver, messages: int = DELIVERY_MESSAGES) -> None:
        super().__init__(driver, messages)
        self.assembly = assembly

    def _run(self) -> Callable[[range], int]:
        from localcloud import LocalCloud

        self._stack.enter_context(_quiet())
        return self.driver.local(
            self._stack.enter_context(LocalCloud.from_assembly(self.assembly, self.driver.stack))
        )


class RawDeliveryLoop(_DriverRounds):
    """The driver's raw side: one mock, its clients, queue, stream and table made before any round."""

    side = "raw moto"

    def _run(self) -> Callable[[range], int]:
        self._stack.enter_context(mock_aws())
        return self.driver.raw()


def raw_loop(name: str) -> RawLoop | RawDeliveryLoop:
    """The raw side named ``http`` (:class:`RawLoop`) or by a delivery driver's pattern."""
    from benchmarks.async_bench import READINGS, WEBHOOKS

    if name == "http":
        return RawLoop()
    for driver in (WEBHOOKS, READINGS):
        if driver.pattern == name:
            return RawDeliveryLoop(driver)
    raise ValueError(f"no raw loop named {name!r}")


#: The fresh interpreter's program: refuses to run if anything imported the local cloud, then plays
#: a round of the raw loop named by its argument for each line it reads and prints its two figures.
RAW_IN_FRESH_PROCESS = """
import sys
from benchmarks.localcloud_bench import raw_loop
loop = raw_loop(sys.argv[1])
assert not any(name.split(".")[0] == "localcloud" for name in sys.modules), "the local cloud is imported"
with loop:
    for _ in sys.stdin:
        print(*loop.round(), flush=True)
"""


class FreshRawLoop:
    """A raw loop (:func:`raw_loop`) in a new interpreter, as a program using moto alone runs it: in
    this one a local cloud runs, and its changes to moto and botocore (the DynamoDB item lock, the
    hooks, :mod:`localcloud.core.speedups`) stay installed for the rest of the process; and while
    the cloud runs, its moto mock is this process's, so a mock of the raw loop's own here would
    share its backends and hooks. The interpreter lives for every round, as the cloud does, so the
    two alternate round by round."""

    def __init__(self, name: str = "http") -> None:
        self.name = name

    def __enter__(self) -> FreshRawLoop:
        self._process = subprocess.Popen(
            [sys.executable, "-c", RAW_IN_FRESH_PROCESS, self.name],
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


class _Loop(Protocol):
    def round(self) -> tuple[float, float]: ...


def alternate(local: _Loop, raw: _Loop, rounds: int) -> tuple[Rounds, Rounds]:
    """``rounds`` timed rounds on each side, local and raw alternating round by round, so that the
    machine's noise falls on both alike. The caller plays an untimed warm-up round on each side
    first (the function's cold start; moto's and botocore's first calls)."""
    local_rounds, raw_rounds = Rounds(), Rounds()
    for _ in range(rounds):
        local_rounds.add(*local.round())
        raw_rounds.add(*raw.round())
    return local_rounds, raw_rounds


def http_figures(assembly: Path, rounds: int = HTTP_ROUNDS) -> HttpFigures:
    """:func:`alternate` rounds of HTTP_ITEMS pairs, served and raw, after a warm-up round on each
    side; then the same rounds of the raw loop in this process."""
    here = Rounds()
    with ServedLoop(assembly) as served_loop, FreshRawLoop() as raw_loop:
        first = served_loop.warm_up()
        raw_loop.round()
        served, raw = alternate(served_loop, raw_loop, rounds)
    with RawLoop() as here_loop:
        here_loop.round()
        for _ in range(rounds):
            here.add(*here_loop.round())
    return HttpFigures(served, raw, here, first)


@dataclasses.dataclass
class DeliveryFigures:
    driver: Driver
    local: Rounds
    raw: Rounds
    """In a fresh interpreter (:class:`FreshRawLoop`)."""
    here: Rounds
    """In this process after its cloud stopped, with the local cloud's changes to moto: moto alone
    counts an SQS queue's messages again for each message received and sent, which they remove."""


def delivery_figures(assembly: Path, driver: Driver, rounds: int = DELIVERY_ROUNDS) -> DeliveryFigures:
    """:func:`alternate` rounds of DELIVERY_MESSAGES messages through ``driver`` in one cloud and in
    one fresh moto interpreter, after a warm-up round on each side; then the same rounds of the raw
    loop in this process."""
    here = Rounds()
    with FreshRawLoop(driver.pattern) as raw_loop, CloudDeliveryLoop(assembly, driver) as local_loop:
        raw_loop.round()
        local_loop.round()
        local, raw = alternate(local_loop, raw_loop, rounds)
    with RawDeliveryLoop(driver) as here_loop:
        here_loop.round()
        for _ in range(rounds):
            here.add(*here_loop.round())
    return DeliveryFigures(driver, local, raw, here)


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
