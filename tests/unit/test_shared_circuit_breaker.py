"""The shared circuit breaker against moto: every transition on an injected clock, and the race of
20 instances reporting failures at once, played in its worst interleaving."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import FrozenInstanceError, asdict, astuple

import boto3
import pytest

from shared.circuit_breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Circuit,
    CircuitBreaker,
    CircuitContention,
    CircuitOpen,
    Settings,
)
from shared.dynamodb import Table

pytestmark = pytest.mark.unit


def settings() -> Settings:
    """Built by each test, not at import: settings the code wrongly refuses fail a test, not the collection."""
    return Settings(
        failure_threshold=3, window_seconds=10, open_seconds=30, max_open_seconds=100, probe_timeout_seconds=5
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class DependencyDown(Exception):
    pass


class Dependency:
    """A dependency whose health the test switches, counting the calls that reach it."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def __call__(self) -> str:
        self.calls += 1
        if self.failing:
            raise DependencyDown("down")
        return "answer"


@pytest.fixture
def table(aws):
    boto3.client("dynamodb").create_table(
        TableName="circuits",
        AttributeDefinitions=[{"AttributeName": "circuit", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "circuit", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Table("circuits")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def transitions():
    return []


@pytest.fixture
def breaker(table, clock, transitions):
    return CircuitBreaker(
        table,
        "rates",
        settings(),
        clock=clock,
        on_transition=lambda a, b: transitions.append((a.state, b.state)),
    )


def fail(breaker: CircuitBreaker, dependency: Dependency, times: int) -> None:
    dependency.failing = True
    for _ in range(times):
        with pytest.raises(DependencyDown):
            breaker.call(dependency)


def open_circuit(breaker, dependency):
    fail(breaker, dependency, settings().failure_threshold)
    assert breaker.read().state == OPEN


def test_a_closed_circuit_passes_calls_and_a_success_writes_nothing(breaker, table):
    dependency = Dependency()
    assert breaker.call(dependency) == "answer"
    assert dependency.calls == 1
    assert table.get_item({"circuit": "rates"}) is None, "a success costs no write"


def test_failures_below_the_threshold_keep_it_closed_and_the_threshold_opens_it(breaker, clock, transitions):
    dependency = Dependency()
    fail(breaker, dependency, 2)
    assert (breaker.read().state, breaker.read().failures) == (CLOSED, 2)
    clock.advance(9.9)
    fail(breaker, dependency, 1)
    circuit = breaker.read()
    assert (circuit.state, circuit.failures, circuit.opens, circuit.open_ms) == (OPEN, 3, 1, 30_000)
    assert transitions == [(CLOSED, OPEN)]


def test_failures_further_apart_than_the_window_do_not_open_it(breaker, clock):
    dependency = Dependency()
    fail(breaker, dependency, 2)
    clock.advance(10)
    fail(breaker, dependency, 2)
    circuit = breaker.read()
    assert (circuit.state, circuit.failures) == (CLOSED, 2), "the window started again at the third failure"


def test_an_open_circuit_fails_fast_without_calling_the_dependency(breaker, clock):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    clock.advance(12.5)
    with pytest.raises(CircuitOpen, match="circuit rates is open; retry after 18 s") as refused:
        breaker.call(dependency)
    assert refused.value.retry_after == 18
    assert (refused.value.circuit.circuit, refused.value.circuit.state) == ("rates", OPEN)
    assert dependency.calls == 3, "not called while open"


def test_after_the_timeout_one_probe_goes_through_and_its_success_closes(breaker, table, clock, transitions):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    clock.advance(30)
    dependency.failing = False
    other = CircuitBreaker(table, "rates", settings(), clock=clock)
    refused: list[CircuitOpen] = []

    def probe() -> str:
        assert breaker.read().state == HALF_OPEN
        try:
            other.call(dependency)  # another instance while the probe is in flight
        except CircuitOpen as error:
            refused.append(error)
        return dependency()

    assert breaker.call(probe) == "answer"
    assert [str(e) for e in refused] == ["circuit rates is half-open, a probe is in flight; retry after 1 s"]
    assert dependency.calls == 4, "only the probe reached the dependency"
    assert breaker.read() == Circuit("rates", CLOSED, version=5, probe_version=4, opens=1), (
        "closing forgets the window, the open timeout and the probe"
    )
    assert transitions == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_a_failed_probe_reopens_for_twice_as_long_up_to_the_cap(breaker, clock, transitions):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    waits = []
    for _ in range(4):
        clock.advance(breaker.read().open_ms / 1000 - 0.001)
        with pytest.raises(CircuitOpen):
            breaker.call(dependency)
        clock.advance(0.001)
        with pytest.raises(DependencyDown):
            breaker.call(dependency)
        waits.append(breaker.read().open_ms)
        assert breaker.read().probe_started_ms == 0, "the failed probe is over"
    assert waits == [60_000, 100_000, 100_000, 100_000]
    circuit = breaker.read()
    assert (circuit.state, circuit.opens, circuit.reopens) == (OPEN, 1, 4)
    assert transitions[:3] == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN)]


def test_a_probe_that_never_reports_is_given_up_and_its_late_answer_ignored(breaker, table, clock):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    clock.advance(30)
    dependency.failing = False
    other = CircuitBreaker(table, "rates", settings(), clock=clock)

    def slow_probe() -> str:
        clock.advance(5)  # the probe's function runs past the probe timeout
        assert other.call(dependency) == "answer", "the next caller takes the probe over"
        return "late"

    assert breaker.call(slow_probe) == "late"
    circuit = breaker.read()
    assert circuit.state == CLOSED and circuit.version == 6, (
        "3 failures, 2 claims, 1 close: the late probe wrote nothing"
    )


def test_a_refusal_the_caller_does_not_count_passes_through(table, clock):
    breaker = CircuitBreaker(
        table, "rates", settings(), clock=clock, is_failure=lambda e: not isinstance(e, LookupError)
    )

    def refuse() -> str:
        raise KeyError("unknown currency")

    for _ in range(5):
        with pytest.raises(KeyError):
            breaker.call(refuse)
    assert breaker.read().state == CLOSED and table.get_item({"circuit": "rates"}) is None


def test_an_unwritten_circuit_reads_as_closed_with_nothing_counted(breaker):
    assert asdict(breaker.read()) == {
        "circuit": "rates",
        "state": CLOSED,
        "version": 0,
        "failures": 0,
        "window_started_ms": 0,
        "opened_at_ms": 0,
        "open_ms": 0,
        "probe_started_ms": 0,
        "probe_version": 0,
        "opens": 0,
        "reopens": 0,
    }


def test_every_read_is_strongly_consistent(breaker, table, monkeypatch):
    reads = []
    real_get = table.get_item

    def get_item(key, **kwargs):
        reads.append(kwargs)
        return real_get(key, **kwargs)

    monkeypatch.setattr(table, "get_item", get_item)
    dependency = Dependency()
    breaker.call(dependency)
    fail(breaker, dependency, 1)
    assert reads and all(kwargs == {"ConsistentRead": True} for kwargs in reads)


def test_the_threshold_counts_failures_up_to_the_last_millisecond_of_the_window(breaker, clock):
    dependency = Dependency()
    fail(breaker, dependency, 2)
    clock.advance(9.999)
    fail(breaker, dependency, 1)
    assert (breaker.read().state, breaker.read().failures) == (OPEN, 3)


def test_the_window_starts_at_the_first_failure_whatever_the_clocks_origin(breaker, clock):
    clock.now = 5.0  # a clock counting from boot, not from the epoch
    dependency = Dependency()
    fail(breaker, dependency, 1)
    assert (breaker.read().failures, breaker.read().window_started_ms) == (1, 5_000)
    clock.advance(9.999)
    fail(breaker, dependency, 1)
    assert (breaker.read().failures, breaker.read().window_started_ms) == (2, 5_000)


@pytest.mark.parametrize(("left", "retry_after"), [(1.001, 2), (1.0, 1)])
def test_retry_after_rounds_the_seconds_left_up(breaker, clock, left, retry_after):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    clock.advance(30 - left)
    with pytest.raises(CircuitOpen) as refused:
        breaker.call(dependency)
    assert refused.value.retry_after == retry_after


def test_retry_after_is_never_0_when_the_timeout_ends_while_the_call_is_refused(breaker, clock):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    clock.advance(30 - 0.001)
    ticking = Clock()
    ticking.now = clock.now

    def tick() -> float:
        ticking.advance(0.002)  # each reading 2 ms later: the read itself takes time
        return ticking.now - 0.002

    breaker._clock = tick
    with pytest.raises(CircuitOpen) as refused:
        breaker.call(dependency)
    assert refused.value.retry_after == 1
    assert breaker.read().state == OPEN, "the decision was taken 1 ms before the timeout's end"


def test_the_probe_is_given_up_exactly_at_its_timeout(breaker, table, clock):
    dependency = Dependency()
    open_circuit(breaker, dependency)
    clock.advance(30)
    dependency.failing = False
    other = CircuitBreaker(table, "rates", settings(), clock=clock)

    def slow_probe() -> str:
        in_flight = breaker.read()
        assert (in_flight.state, in_flight.probe_version) == (HALF_OPEN, in_flight.version), (
            "the probe is held by the version that claimed it"
        )
        clock.advance(4.999)
        with pytest.raises(CircuitOpen):
            other.call(dependency)
        clock.advance(0.001)
        assert other.call(dependency) == "answer"
        return "late"

    assert breaker.call(slow_probe) == "late"
    assert dependency.calls == 4


def test_a_probe_refused_as_bad_input_is_an_answer_and_closes(table, clock):
    breaker = CircuitBreaker(
        table, "rates", settings(), clock=clock, is_failure=lambda e: not isinstance(e, LookupError)
    )
    open_circuit(breaker, Dependency())
    clock.advance(30)

    def refuse() -> str:
        raise KeyError("unknown currency")

    with pytest.raises(KeyError):
        breaker.call(refuse)
    assert breaker.read().state == CLOSED


@pytest.mark.parametrize(("late_fails", "final"), [(True, (CLOSED, 0)), (False, (OPEN, 1))])
def test_a_given_up_probe_reporting_while_the_next_is_in_flight_changes_nothing(
    breaker, table, clock, late_fails, final
):
    open_circuit(breaker, Dependency())
    clock.advance(30)
    other = CircuitBreaker(table, "rates", settings(), clock=clock)
    first_claimed, next_claimed = threading.Event(), threading.Event()
    seen = []

    def late_probe() -> str:
        first_claimed.set()
        next_claimed.wait(5)
        if late_fails:
            raise DependencyDown("late")
        return "late"

    def first_caller() -> None:
        with contextlib.suppress(DependencyDown):
            breaker.call(late_probe)

    thread = threading.Thread(target=first_caller)
    thread.start()
    first_claimed.wait(5)
    clock.advance(5)

    def next_probe() -> str:
        next_claimed.set()
        thread.join(5)  # the given-up probe reports while this one is in flight
        in_flight = breaker.read()
        seen.append((in_flight.state, in_flight.probe_version == in_flight.version))
        if not late_fails:
            raise DependencyDown("down")
        return "answer"

    with contextlib.suppress(DependencyDown):
        other.call(next_probe)
    assert seen == [(HALF_OPEN, True)], "the late report wrote nothing"
    assert (breaker.read().state, breaker.read().reopens) == final, "the probe in flight decided"


def test_settings_default_to_the_documented_values():
    assert astuple(Settings()) == (5, 60, 30, 600, 30, 100)
    assert Settings.from_environ({}) == Settings()


def test_settings_and_a_read_circuit_are_values_no_caller_can_change(breaker):
    with pytest.raises(FrozenInstanceError):
        settings().failure_threshold = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        breaker.read().state = OPEN  # type: ignore[misc]


@pytest.mark.parametrize("name", ["window_seconds", "open_seconds", "probe_timeout_seconds"])
def test_a_duration_must_be_more_than_0(name):
    with pytest.raises(ValueError, match=f"^{name} must be more than 0; got 0$"):
        Settings(**{name: 0})
    assert getattr(Settings(**{name: 0.001}), name) == 0.001


def test_settings_accept_their_smallest_values():
    assert Settings(failure_threshold=1).failure_threshold == 1
    assert Settings(open_seconds=30, max_open_seconds=30).max_open_seconds == 30
    assert Settings(max_write_attempts=1).max_write_attempts == 1
    with pytest.raises(ValueError, match=r"^max_write_attempts must be 1 or more; got 0$"):
        Settings(max_write_attempts=0)


# ---------------------------------------------------------------------------------- the race


class Turnstile:
    """Makes worker threads' first ``rounds`` DynamoDB calls in turn, round-robin over the workers
    still in it: each worker reads the item (to be let through, then to count its failure) before
    any of them writes it, the interleaving that loses updates when a write does not check what it
    read. After those rounds, the workers that lost the race retry in any order, one call at a time."""

    def __init__(self, workers: int, rounds: int = 3) -> None:
        self.order = list(range(workers))
        self.rounds = rounds
        self.turn = 0
        self.lock = threading.Lock()
        self.one_call = threading.Lock()
        self.go = [threading.Event() for _ in range(workers)]
        self.go[0].set()
        self.calls = [0] * workers

    def step(self, worker: int, call):
        self.calls[worker] += 1
        if self.calls[worker] > self.rounds:
            self.leave(worker)
            with self.one_call:
                return call()
        if not self.go[worker].wait(timeout=10):
            raise RuntimeError(f"worker {worker} never got its turn")
        self.go[worker].clear()
        try:
            with self.one_call:
                return call()
        finally:
            with self.lock:
                self.turn = (self.turn + 1) % len(self.order)
                self.go[self.order[self.turn]].set()

    def leave(self, worker: int) -> None:
        with self.lock:
            if worker not in self.order:
                return
            index = self.order.index(worker)
            self.order.pop(index)
            if not self.order:
                return
            if index < self.turn:
                self.turn -= 1
            self.turn %= len(self.order)
            self.go[self.order[self.turn]].set()


class TurnTable:
    def __init__(self, table: Table, turnstile: Turnstile, worker: int) -> None:
        self.table, self.turnstile, self.worker = table, turnstile, worker
        self.ConditionalCheckFailed = table.ConditionalCheckFailed

    def get_item(self, *args, **kwargs):
        return self.turnstile.step(self.worker, lambda: self.table.get_item(*args, **kwargs))

    def update_item(self, *args, **kwargs):
        return self.turnstile.step(self.worker, lambda: self.table.update_item(*args, **kwargs))


def race(table: Table, clock: Clock, breaker_class=CircuitBreaker, workers: int = 20):
    """``workers`` instances each call the failing dependency once, their calls interleaved."""
    turnstile = Turnstile(workers)
    dependency = Dependency()
    dependency.failing = True
    opened, errors = [], []

    def work(worker: int) -> None:
        breaker = breaker_class(
            TurnTable(table, turnstile, worker),
            "rates",
            Settings(failure_threshold=5, max_write_attempts=workers),
            clock=clock,
            on_transition=lambda a, b: opened.append(b.state),
        )
        try:
            breaker.call(dependency)
        except DependencyDown:
            pass
        except Exception as error:
            errors.append(error)
        finally:
            turnstile.leave(worker)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return dependency, opened


def test_twenty_concurrent_failures_are_all_counted_and_open_the_circuit_once(table, clock):
    dependency, opened = race(table, clock)
    circuit = CircuitBreaker(table, "rates").read()
    assert dependency.calls == 20, "every worker was let through while the circuit was closed"
    assert (circuit.failures, circuit.state, circuit.opens) == (20, OPEN, 1)
    assert opened == [OPEN], "one worker opened it"
    assert circuit.version == 20, "one write per failure landed; the other writes lost a race and retried"


class Unconditional(CircuitBreaker):
    """The same breaker with writes that do not check the version they read."""

    def _write(self, circuit, *, expected_version):
        values = {k: v for k, v in vars(circuit).items() if k != "circuit"}
        self.table.update_item(
            {"circuit": self.name},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
            ExpressionAttributeNames={f"#{k}": k for k in values},
            values={f":{k}": v for k, v in values.items()},
        )
        return True


def test_without_the_condition_the_same_interleaving_loses_updates(table, clock):
    dependency, opened = race(table, clock, Unconditional)
    circuit = CircuitBreaker(table, "rates").read()
    assert dependency.calls == 20
    assert circuit.failures == 1, "every worker read 0 failures and wrote 1"
    assert opened == []


def test_a_change_that_keeps_losing_the_race_says_so(table, clock):
    breaker = CircuitBreaker(table, "rates", Settings(max_write_attempts=2), clock=clock)
    rival = CircuitBreaker(table, "rates", clock=clock)
    real_update = table.update_item

    def contended(*args, **kwargs):
        table.update_item = real_update
        rival._change(rival._count_failure)  # a rival's write lands between the read and this write
        table.update_item = contended
        return real_update(*args, **kwargs)

    table.update_item = contended
    dependency = Dependency()
    dependency.failing = True
    with pytest.raises(CircuitContention, match="2 conditional writes in a row lost the race"):
        breaker.call(dependency)
    assert rival.read().failures == 2, "the rival's two failures landed; this one was not recorded"


def test_settings_refuse_what_cannot_work_and_read_the_environment():
    with pytest.raises(ValueError, match="failure_threshold must be 1 or more"):
        Settings(failure_threshold=0)
    with pytest.raises(ValueError, match=r"max_open_seconds \(10\) must be at least open_seconds \(30\)"):
        Settings(max_open_seconds=10)
    settings = Settings.from_environ({"CIRCUIT_FAILURE_THRESHOLD": "7", "CIRCUIT_OPEN_SECONDS": "2.5"})
    assert (settings.failure_threshold, settings.open_seconds, settings.window_seconds) == (7, 2.5, 60)
