"""Keep a warm function's modules and path in place between its invocations while a server runs.

Each run swaps the function's modules and path in and puts the process's back (see
:mod:`localcloud.services.lambda_.runtime`), so tests importing the same names never see a function's. A
server owns its thread's process state between requests, so while :func:`in_place_while_serving`
holds, a function's modules stay after its outermost run, and its next run skips both swaps. Any
other function's run, a nested run, :meth:`LambdaFunction.reset` and the end of the block put the
process's modules and path back first, so environment isolation between functions, cold starts and
init-once are as without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.services.lambda_.runtime import LambdaFunction


@dataclass
class Resident:
    """The function whose modules and path are in place, and what its run put aside."""

    function: LambdaFunction
    stashed: dict[str, ModuleType]
    saved_path: list[str]
    base_path: list[str]
    loggers: dict[str, Any] | None = None
    """The Powertools loggers its run put aside."""


_allowed = 0
_resident: Resident | None = None


@contextlib.contextmanager
def in_place_while_serving() -> Iterator[None]:
    """Let warm functions stay in place during the block; put the process's state back after it."""
    from localcloud.services.lambda_.runtime import outside_turn

    global _allowed
    _allowed += 1
    try:
        yield
    finally:
        _allowed -= 1
        if not _allowed:
            with outside_turn():
                evict()


def allowed() -> bool:
    return _allowed > 0


def resident(function: LambdaFunction) -> Resident | None:
    """What ``function``'s last run left in place, if it is the resident one."""
    return _resident if _resident is not None and _resident.function is function else None


def holds(function: LambdaFunction) -> bool:
    return resident(function) is not None


def keep(
    function: LambdaFunction,
    stashed: dict[str, ModuleType],
    saved_path: list[str],
    base_path: list[str],
    loggers: dict[str, Any] | None = None,
) -> None:
    global _resident
    _resident = Resident(function, stashed, saved_path, base_path, loggers)


def evict(function: LambdaFunction | None = None) -> None:
    """Put back the process's modules and path under the resident function (only if it is
    ``function``, when given)."""
    global _resident
    if _resident is None or (function is not None and _resident.function is not function):
        return
    current, _resident = _resident, None
    current.function._swap_out(current.stashed, current.saved_path, current.loggers)
