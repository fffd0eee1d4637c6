"""A circuit breaker around any dependency call, its state in one DynamoDB item shared by every instance.

Put it around the call; answer :class:`CircuitOpen` with a 503 and its ``retry_after``::

    breaker = CircuitBreaker(Table(os.environ["CIRCUIT_TABLE_NAME"]), "rates-service")

    try:
        rates = breaker.call(lambda: fetch_rates(currency))
    except CircuitOpen as open_:
        return 503, {"Retry-After": str(open_.retry_after)}

- **closed**: every call goes through; a failure (an exception ``is_failure`` accepts) is counted,
  and ``failure_threshold`` failures within ``window_seconds`` of the window's first one open it.
  A success costs no write.
- **open**: no call goes through (:class:`CircuitOpen`, ``retry_after`` the seconds left) until
  ``open_seconds`` have passed since it opened.
- **half-open**: the first caller after that claims the one probe; everyone else fails fast. A
  successful probe closes the circuit; a failed one opens it again for twice as long, up to
  ``max_open_seconds``. A probe that never reports (its function timed out) is given up after
  ``probe_timeout_seconds`` and the next caller probes.

Every change is a read of the item, then a write conditional on the version read: a writer that
lost the race re-reads and decides again, so concurrent instances lose no failure and only one of
them opens the circuit or wins the probe. Each call costs one strongly consistent read; only
failures and transitions write.

The table needs a string partition key ``circuit``; the caller needs ``dynamodb:GetItem`` and
``dynamodb:UpdateItem`` on it. ``clock`` (seconds, ``time.time`` by default) is injectable for
tests; nothing here sleeps.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
KEY = "circuit"
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """When the circuit opens and for how long; read from ``CIRCUIT_*`` variables by :meth:`from_environ`."""

    failure_threshold: int = 5
    window_seconds: float = 60
    open_seconds: float = 30
    max_open_seconds: float = 600
    probe_timeout_seconds: float = 30
    #: Conditional writes tried before giving up on recording one change; each lost race means
    #: another writer's change landed, so this is the number of writers racing for one item.
    max_write_attempts: int = 100

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be 1 or more; got {self.failure_threshold}")
        for name in ("window_seconds", "open_seconds", "probe_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be more than 0; got {getattr(self, name)}")
        if self.max_open_seconds < self.open_seconds:
            raise ValueError(
                f"max_open_seconds ({self.max_open_seconds}) must be at least open_seconds ({self.open_seconds})"
            )
        if self.max_write_attempts < 1:
            raise ValueError(f"max_write_attempts must be 1 or more; got {self.max_write_attempts}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """``CIRCUIT_FAILURE_THRESHOLD``, ``CIRCUIT_WINDOW_SECONDS``, ``CIRCUIT_OPEN_SECONDS``,
        ``CIRCUIT_MAX_OPEN_SECONDS``, ``CIRCUIT_PROBE_TIMEOUT_SECONDS``; a missing one keeps its default."""
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(f"CIRCUIT_{setting.name.upper()}")
            if raw is not None:
                values[setting.name] = int(raw) if setting.type == "int" else float(raw)
        return cls(**values)


@dataclass(frozen=True)
class Circuit:
    """The stored item: the state and what decides the next transition. Times in epoch milliseconds."""

    circuit: str
    state: str = CLOSED
    version: int = 0
    """0 when no item exists yet; each write adds one."""
    failures: int = 0
    """Failures counted since the window started (closed), or since the circuit opened."""
    window_started_ms: int = 0
    opened_at_ms: int = 0
    open_ms: int = 0
    """How long the circuit stays open this time: ``open_seconds``, doubled by each failed probe."""
    probe_started_ms: int = 0
    probe_version: int = 0
    """The version that claimed the probe in flight: only that probe may close or reopen."""
    opens: int = 0
    """Times it opened from closed."""
    reopens: int = 0
    """Times a failed probe opened it again."""


class CircuitOpen(Exception):
    """The call was not made: the circuit is open, or half-open with another caller's probe in flight."""

    def __init__(self, circuit: Circuit, retry_after: int) -> None:
        state = "open" if circuit.state == OPEN else "half-open, a probe is in flight"
        super().__init__(f"circuit {circuit.circuit} is {state}; retry after {retry_after} s")
        self.circuit = circuit
        self.retry_after = retry_after


class CircuitContention(Exception):
    """A change lost ``max_write_attempts`` races in a row and was not recorded."""


Transition = Callable[[Circuit, Circuit], None]


class CircuitBreaker:
    """The breaker of one named circuit; see the module docstring.

    :param table: a :class:`shared.dynamodb.Table` (or anything with its ``get_item``,
        ``update_item`` and ``ConditionalCheckFailed``).
    :param is_failure: which exceptions of the call count against the dependency (all by default);
        one it rejects (a refusal of bad input, say) is re-raised and counts as an answer.
    :param on_transition: called with the circuit before and after each change of state, to log it
        or emit a metric.
    """

    def __init__(
        self,
        table: Any,
        name: str,
        settings: Settings | None = None,
        *,
        clock: Callable[[], float] | None = None,
        is_failure: Callable[[BaseException], bool] | None = None,
        on_transition: Transition | None = None,
    ) -> None:
        self.table = table
        self.name = name
        self.settings = settings or Settings()
        self._clock = clock or (lambda: time.time())  # looked up per call: a frozen clock replaces it
        self._is_failure = is_failure or (lambda error: isinstance(error, Exception))
        self._on_transition = on_transition

    def read(self) -> Circuit:
        item = self.table.get_item({KEY: self.name}, ConsistentRead=True)
        if item is None:
            return Circuit(self.name)
        known = {f.name for f in fields(Circuit)}
        return Circuit(**{k: v if k in (KEY, "state") else int(v) for k, v in item.items() if k in known})

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` if the circuit lets it through, else :class:`CircuitOpen`; its outcome is recorded."""
        circuit, claimed = self._change(self._claim_probe)
        if claimed:
            return self._probe(fn, circuit)
        if circuit.state != CLOSED:
            raise CircuitOpen(circuit, self._retry_after(circuit))
        try:
            result = fn()
        except BaseException as error:
            if self._is_failure(error):
                self._change(self._count_failure)
            raise
        return result

    def _probe(self, fn: Callable[[], T], probe: Circuit) -> T:
        try:
            result = fn()
        except BaseException as error:
            if self._is_failure(error):
                self._change(lambda c, now: self._reopen(c, now, probe.probe_version))
            else:
                self._change(lambda c, now: self._close(c, probe.probe_version))
            raise
        self._change(lambda c, now: self._close(c, probe.probe_version))
        return result

    # ------------------------------------------------------------------ transitions: what to write, or None

    def _claim_probe(self, circuit: Circuit, now: int) -> Circuit | None:
        due = (circuit.state == OPEN and now >= circuit.opened_at_ms + circuit.open_ms) or (
            circuit.state == HALF_OPEN
            and now >= circuit.probe_started_ms + self.settings.probe_timeout_seconds * 1000
        )
        if not due:
            return None
        return replace(circuit, state=HALF_OPEN, probe_started_ms=now, probe_version=circuit.version + 1)

    def _count_failure(self, circuit: Circuit, now: int) -> Circuit:
        if circuit.state != CLOSED:
            return replace(circuit, failures=circuit.failures + 1)  # a call begun before it opened
        window_ms = self.settings.window_seconds * 1000
        if circuit.failures == 0 or now - circuit.window_started_ms >= window_ms:
            circuit = replace(circuit, failures=1, window_started_ms=now)
        else:
            circuit = replace(circuit, failures=circuit.failures + 1)
        if circuit.failures < self.settings.failure_threshold:
            return circuit
        return replace(
            circuit,
            state=OPEN,
            opened_at_ms=now,
            open_ms=round(self.settings.open_seconds * 1000),
            opens=circuit.opens + 1,
        )

    def _reopen(self, circuit: Circuit, now: int, probe_version: int) -> Circuit | None:
        if circuit.state != HALF_OPEN or circuit.probe_version != probe_version:
            return None  # the probe was given up and another caller's decides
        longer = min(circuit.open_ms * 2, round(self.settings.max_open_seconds * 1000))
        return replace(
            circuit,
            state=OPEN,
            opened_at_ms=now,
            open_ms=longer,
            probe_started_ms=0,
            reopens=circuit.reopens + 1,
        )

    def _close(self, circuit: Circuit, probe_version: int) -> Circuit | None:
        if circuit.state != HALF_OPEN or circuit.probe_version != probe_version:
            return None
        return replace(
            circuit,
            state=CLOSED,
            failures=0,
            window_started_ms=0,
            opened_at_ms=0,
            open_ms=0,
            probe_started_ms=0,
        )

    # ------------------------------------------------------------------------------------------ storage

    def _change(self, decide: Callable[[Circuit, int], Circuit | None]) -> tuple[Circuit, bool]:
        """Read, decide, write conditional on the version read; on a lost race, read and decide again.

        Answers the circuit as it now stands and whether this call wrote it.
        """
        for _ in range(self.settings.max_write_attempts):
            current = self.read()
            wanted = decide(current, self._now_ms())
            if wanted is None:
                return current, False
            wanted = replace(wanted, version=current.version + 1)
            if self._write(wanted, expected_version=current.version):
                if wanted.state != current.state and self._on_transition is not None:
                    self._on_transition(current, wanted)
                return wanted, True
        raise CircuitContention(
            f"circuit {self.name}: {self.settings.max_write_attempts} conditional writes in a row lost the race"
        )

    def _write(self, circuit: Circuit, *, expected_version: int) -> bool:
        values = {k: v for k, v in asdict(circuit).items() if k != KEY}
        names = {f"#{k}": k for k in values}
        condition = "attribute_not_exists(#circuit)" if expected_version == 0 else "#version = :expected"
        try:
            self.table.update_item(
                {KEY: self.name},
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, "#circuit": KEY} if expected_version == 0 else names,
                values={
                    **{f":{k}": v for k, v in values.items()},
                    **({":expected": expected_version} if expected_version else {}),
                },
            )
        except self.table.ConditionalCheckFailed:
            return False
        return True

    def _now_ms(self) -> int:
        return math.floor(self._clock() * 1000)

    def _retry_after(self, circuit: Circuit) -> int:
        if circuit.state == OPEN:
            left_ms = circuit.opened_at_ms + circuit.open_ms - self._now_ms()
            return max(1, math.ceil(left_ms / 1000))
        return 1
