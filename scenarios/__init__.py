"""Each registered pattern's scripted scenario: the catalog's "must show", failure path included.

A scenario is the module ``scenarios/<pattern_id>.py`` with one function, ``run(show)``, plus
``run_<variant>(show)`` for each of the pattern's registered variants (their own stacks). It drives
the pattern's stack in the local cloud through its front door (``show.cloud.api().post(...)``) and
records what must hold with :meth:`Show.that` and :meth:`Show.equal`. The demo
(``python -m scenarios``) runs every scenario and prints its trace; ``tests/e2e/test_scenarios.py``
runs them in the test suite, so the demo cannot rot. Every scenario also checks, after it ran, that
each function it invoked could write its log group and, if actively traced, send its X-Ray segments
(and each traced state machine its segments).

Example (``scenarios/my_pattern.py``)::

    def run(show: Show) -> None:
        answer = show.cloud.api().post("/orders", json={"sku": "A-1"})
        show.equal("an order is accepted", answer.status, 201)
        answer = show.cloud.api().post("/orders", json={})
        show.equal("an order without a sku is refused", answer.status, 400)
"""

from __future__ import annotations

import contextlib
import importlib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud import LocalCloud


@dataclass(frozen=True)
class Check:
    what: str
    held: bool
    detail: str = ""


@dataclass
class Show:
    """What a scenario is given: the running cloud, and the record of what it showed."""

    cloud: LocalCloud
    checks: list[Check] = field(default_factory=list)

    def that(self, what: str, held: bool, detail: Any = "") -> bool:
        """Record that ``what`` held (or not); ``detail`` says what was seen when it did not."""
        self.checks.append(Check(what, bool(held), "" if held else str(detail)))
        return bool(held)

    def equal(self, what: str, actual: Any, expected: Any) -> bool:
        return self.that(what, actual == expected, f"expected {expected!r}, got {actual!r}")


@dataclass
class Outcome:
    pattern_id: str
    checks: list[Check]
    error: str = ""
    """The traceback when the scenario raised instead of finishing."""
    trace: str = ""
    variant: str | None = None

    @property
    def label(self) -> str:
        return self.pattern_id if self.variant is None else f"{self.pattern_id} ({self.variant})"

    @property
    def held(self) -> bool:
        return not self.error and bool(self.checks) and all(check.held for check in self.checks)


def _module(pattern_id: str) -> Any:
    try:
        return importlib.import_module(f"{__name__}.{pattern_id}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{pattern_id}":
            raise
        raise LookupError(f"pattern {pattern_id!r} has no scenario: add scenarios/{pattern_id}.py") from None


def scenario_of(pattern_id: str, variant: str | None = None) -> Callable[[Show], None]:
    """The ``run`` function of ``scenarios/<pattern_id>.py`` (``run_<variant>`` for a variant's
    stack); every registered pattern and variant has one."""
    name = "run" if variant is None else f"run_{variant}"
    try:
        return getattr(_module(pattern_id), name)
    except AttributeError:
        raise LookupError(
            f"variant {variant!r} of {pattern_id!r} has no scenario: add {name}(show)"
        ) from None


@contextlib.contextmanager
def stack_parameters(pattern_id: str) -> Iterator[dict[str, str]]:
    """The CloudFormation parameters the pattern's stack must start with for its scenario.

    A scenario that needs a stand-in (the strangler's legacy server, say) defines
    ``parameters()``, a context manager that starts it and yields the parameters pointing at it.
    """
    factory = getattr(_module(pattern_id), "parameters", None)
    if factory is None:
        yield {}
        return
    with factory() as parameters:
        yield dict(parameters or {})


def _check_service_use(show: Show) -> None:
    """Checks every scenario gets: what Lambda does with each invoked function's role held, so a
    template without its logs or X-Ray grants fails its scenario as it would lose them on AWS."""
    lost_logs = show.cloud.dropped("logs")
    show.that("every invoked function's log lines reached its log group", not lost_logs, "; ".join(lost_logs))
    lost_segments = show.cloud.dropped("xray")
    show.that(
        "every actively traced function's and state machine's segments reached X-Ray",
        not lost_segments,
        "; ".join(lost_segments),
    )


def play(cloud: LocalCloud, pattern_id: str, variant: str | None = None) -> Outcome:
    """Run one pattern's (or variant's) scenario against its running stack; a scenario that raises
    has not held."""
    show = Show(cloud)
    error = ""
    try:
        scenario_of(pattern_id, variant)(show)
    except Exception:
        error = traceback.format_exc()
    _check_service_use(show)
    return Outcome(pattern_id, show.checks, error, cloud.trace.tree(), variant)
