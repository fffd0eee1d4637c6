"""Run a Lambda function in this process, from its asset folder, the way the Python runtime does.

Each function imports its handler from its own code folder with its layers on the path and its own
environment variables, and keeps its modules to itself: two functions that both have a
``handler.py`` or a ``shared`` package never see each other's. Module-level code runs once per
cold start; :meth:`LambdaFunction.reset` makes the next invocation cold again.

One handler at a time, concurrency in virtual time. The process has one ``sys.modules`` and
``sys.path``, so each run swaps its own in and puts what was there back exactly, and runs never
overlap in real time. A run started outside any invocation waits for the one in progress. A run
started from inside an invocation (a synchronous invoke from the handler's thread, or from a thread
or thread-pool task it started) waits only for that invocation's other nested runs: the invocation
is waiting for them anyway, so its threads can never deadlock on it. ``os.environ`` (and
``os.getenv``) answer each thread with its own invocation's environment, so a caller's threads still
see theirs while one of them runs a callee; the process's own environment is never changed.

Time: an invocation starts at a virtual moment, and so does each thread or pool task its handler
starts (at the moment it was started). A synchronous call made from one of them starts there and,
once it returns, moves that thread's cursor to the callee's end, so sequential calls follow each
other and calls from different threads overlap. The invocation lasts until the later of its own
``duration`` and the latest end of the calls it made. ``context.get_remaining_time_in_millis()``
counts down on the calling thread's cursor.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from localcloud.core import speedups
from localcloud.core.clock import VirtualClock
from localcloud.errors import LocalCloudError
from localcloud.services.lambda_ import warm

#: Installed packages each function imports afresh, as if bundled, though the process has them once:
#: they keep per-sandbox state at module level (Powertools' pending metrics, dimensions and metadata
#: are class attributes shared by every ``Metrics``, and its cold-start flag is a module global), so a
#: shared copy lets a callee's flush take its caller's metrics and the first function's cold start
#: stand for all. Importing them again costs a few milliseconds per cold start.
SANDBOXED = frozenset({"aws_lambda_powertools"})


class InvocationEnded(LocalCloudError):
    """A thread a handler left running invoked a function after its invocation had returned."""


@dataclass
class InvocationResult:
    payload: Any
    error: dict[str, Any] | None
    cold_start: bool
    request_id: str
    duration: float = 0.0
    """Virtual seconds the invocation lasted: its own ``duration`` or, if later, the end of the
    latest synchronous call it made."""
    version: str = "$LATEST"
    """The version that ran (``ExecutedVersion``)."""

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class LambdaContext:
    """The context object the Python runtime passes: names, limits, and the remaining time."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    _deadline: float
    _clock: VirtualClock
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        """Counted on the calling thread's cursor, so it shrinks by the calls that thread waited for."""
        return max(0, round((self._deadline - virtual_now(self._clock)) * 1000))


@dataclass(eq=False)
class Invocation:
    """An invocation while its handler runs: where its nested runs take turns, and how long it waited."""

    function: LambdaFunction
    parent: Invocation | None
    start: float
    """Virtual seconds since the cloud started, as on the trace."""
    latest: float = 0.0
    """The latest moment a synchronous call it made returned (or its caller gave up)."""
    environ: dict[str, str] = field(default_factory=dict, repr=False)
    """What ``os.environ`` is for its threads."""
    ended: bool = False
    turn: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """Held by the nested run in progress, so the invocation's threads run their calls one at a time."""

    def __post_init__(self) -> None:
        self.latest = self.start

    def lineage(self) -> Iterator[Invocation]:
        invocation: Invocation | None = self
        while invocation is not None:
            yield invocation
            invocation = invocation.parent

    def end(self) -> None:
        """Wait for a nested run still in progress (a thread's call the handler did not wait for)."""
        with self.turn:
            self.ended = True


@dataclass(frozen=True)
class Cursor:
    """Where one thread of an invocation is on the virtual clock."""

    invocation: Invocation
    at: float
    forked: bool = False
    """A thread or pool task the handler started, rather than the handler's own thread."""


_cursor: contextvars.ContextVar[Cursor | None] = contextvars.ContextVar("localcloud_cursor", default=None)
_FOLLOWED: list[contextvars.ContextVar[Any]] = []
_MISSING = object()
#: Held by the run in progress that was started outside any invocation (reentrant: the local cloud
#: may run a function from its own code on the thread that holds it).
_OUTSIDE = threading.RLock()
#: The process's ``sys.path`` before the outermost run in progress: every run's path starts from it.
_base_path: list[str] | None = None
#: The invocations whose handlers are running, outermost first.
_running: list[Invocation] = []


def follow_into_threads(variable: contextvars.ContextVar[Any]) -> None:
    """Let ``variable``'s value at the moment a handler starts a thread, or submits a task to a thread
    pool, hold in that thread or task too: Python leaves new threads' context empty."""
    if variable not in _FOLLOWED:
        _FOLLOWED.append(variable)


def virtual_now(clock: VirtualClock) -> float:
    """This thread's moment: its cursor while its invocation runs, never before the clock's."""
    now = clock.elapsed()
    cursor = _cursor.get()
    if cursor is not None and not cursor.invocation.ended:
        return max(now, cursor.at)
    return now


@dataclass
class Call:
    """A synchronous invocation about to run: when it starts, and which thread of whom waits for it."""

    at: float
    caller: Cursor | None

    @property
    def parent(self) -> Invocation | None:
        return self.caller.invocation if self.caller else None

    def waited_until(self, moment: float) -> None:
        """The calling thread got its answer (or stopped waiting) at ``moment``: move its cursor there."""
        if self.caller is None:
            return
        _cursor.set(replace(self.caller, at=moment))
        invocation = self.caller.invocation
        invocation.latest = max(invocation.latest, moment)


@contextmanager
def call_turn(clock: VirtualClock) -> Iterator[Call]:
    """Wait until a function may run synchronously for the calling thread, and hold that turn.

    Inside an invocation the turn is the invocation's own, so its threads' calls run one at a time
    while it waits for them; outside any, the turn is the process's.
    """
    cursor = _cursor.get()
    while cursor is not None:
        if cursor.invocation.ended:
            if not cursor.forked:
                break  # a context the local cloud kept (a Step Functions execution's): outside
            cursor = _thawed(cursor)
        with cursor.invocation.turn:
            if not cursor.invocation.ended:
                yield Call(max(clock.elapsed(), cursor.at), cursor)
                return
    with _OUTSIDE:
        yield Call(clock.elapsed(), None)


def outside_turn() -> threading.RLock:
    """The turn of runs started outside any invocation: hold it to change what they share."""
    return _OUTSIDE


def _thawed(cursor: Cursor) -> Cursor:
    """A thread left running by an invocation that has returned belongs to its execution environment:
    on AWS it is frozen until the environment's next invocation, so its call joins the one running."""
    function = cursor.invocation.function
    current = next((i for i in reversed(_running) if i.function is function and not i.ended), None)
    if current is None:
        raise InvocationEnded(
            f"a thread {function.name}'s handler left running invoked a function while no invocation "
            f"of {function.name} runs; Lambda freezes the execution environment between invocations, "
            "so the call would wait for the next one: wait for the threads' work before returning"
        )
    return Cursor(current, current.start, forked=True)


@dataclass
class LambdaFunction:
    """One deployed function: its configuration from the template and its in-process runtime."""

    logical_id: str
    name: str
    arn: str
    handler: str
    runtime: str
    code_dir: Path
    layer_dirs: list[Path]
    environment: dict[str, str]
    role_arn: str
    timeout: int = 3
    memory_size: int = 128
    log_group: str = ""
    tracing: bool = False
    """Active tracing (``TracingConfig.Mode: Active``): Lambda sends a segment for each invocation."""
    reserved_concurrency: int | None = None
    duration: float = 0.0
    """Virtual seconds each invocation lasts: 0 by default; set it to see concurrency over time."""
    version: str = "$LATEST"
    """A published version's number (its ``arn`` then ends with it); see :mod:`.versions`."""
    _modules: dict[str, ModuleType] | None = field(default=None, repr=False)
    _entry: Any = field(default=None, repr=False)
    _names: frozenset[str] | None = field(default=None, repr=False)
    _loggers: dict[str, Any] | None = field(default=None, repr=False)
    """Its Powertools loggers in ``logging``'s registry, kept between runs as its modules are."""
    cold_starts: int = 0

    @property
    def log_group_name(self) -> str:
        """``LoggingConfig.LogGroup``, else the group Lambda writes to by default."""
        return self.log_group or f"/aws/lambda/{self.name}"

    @property
    def is_warm(self) -> bool:
        return self._modules is not None or warm.holds(self)

    def reset(self) -> None:
        """Forget the loaded modules: the next invocation is a cold start."""
        with _OUTSIDE:
            warm.evict(self)
        self._modules = None
        self._entry = None
        self._loggers = None

    def run(self, event: Any, clock: VirtualClock, call: Call | None = None) -> InvocationResult:
        """Invoke the handler once, at ``call``'s moment (now, if none); an exception becomes the error
        payload Lambda returns. The caller must hold the turn ``call`` came with (:func:`call_turn`)."""
        follow_threads()
        call = call or Call(clock.elapsed(), None)
        request_id = str(uuid.uuid4())
        cold = not self.is_warm
        invocation = Invocation(self, call.parent, call.at)
        invocation.environ = {**_process_environ(), **self._lambda_environment(request_id)}
        context = LambdaContext(
            function_name=self.name,
            function_version=self.version,
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory_size,
            aws_request_id=request_id,
            log_group_name=self.log_group_name,
            log_stream_name=f"{clock.now():%Y/%m/%d}/[{self.version}]{uuid.uuid4().hex}",
            _deadline=call.at + self.timeout,
            _clock=clock,
        )
        error: dict[str, Any] | None = None
        token = _cursor.set(Cursor(invocation, call.at))
        _running.append(invocation)
        try:
            with self._isolated(invocation):
                try:
                    if cold:
                        self._entry = self._load()
                        self.cold_starts += 1
                    payload = self._entry(event, context)
                except Exception as failure:
                    if cold and self._entry is None:
                        self._modules = None
                    payload = error = _error_payload(failure)
                finally:
                    invocation.end()
        finally:
            _running.remove(invocation)
            _cursor.reset(token)
        duration = max(self.duration, invocation.latest - invocation.start)
        return InvocationResult(payload, error, cold, request_id, duration, self.version)

    # ------------------------------------------------------------------------------------- isolation

    def _load(self) -> Any:
        module_name, _, function_name = self.handler.rpartition(".")
        module = importlib.import_module(module_name)
        entry = getattr(module, function_name, None)
        if not callable(entry):
            raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
        return entry

    def _roots(self) -> list[Path]:
        return [self.code_dir, *self.layer_dirs]

    def _own_names(self) -> frozenset[str]:
        """Top-level module names this function's code and layers provide, and the installed ones
        it must not share (:data:`SANDBOXED`)."""
        if self._names is None:
            names = set(SANDBOXED)
            for root in self._roots():
                for entry in root.iterdir():
                    if entry.suffix == ".py":
                        names.add(entry.stem)
                    elif entry.is_dir() and (entry / "__init__.py").exists():
                        names.add(entry.name)
            self._names = frozenset(names)
        return self._names

    @contextmanager
    def _isolated(self, invocation: Invocation) -> Iterator[None]:
        """Swap in this function's modules and path over whatever is there (the test process's, or
        the calling functions') and put that back exactly afterwards."""
        global _base_path
        outermost = _base_path is None
        if outermost:
            in_place = warm.resident(self)
            if in_place is not None and warm.allowed():
                _base_path = in_place.base_path
                try:
                    yield
                finally:
                    _base_path = None
                return
            warm.evict()
            _base_path = sys.path[:]
        base_path = _base_path
        hidden = self._own_names().union(*(outer.function._own_names() for outer in invocation.lineage()))
        stashed = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] in hidden}
        for name in stashed:
            del sys.modules[name]
        if self._modules is not None:
            sys.modules.update(self._modules)
        held_loggers = _take_powertools_loggers()
        logging.root.manager.loggerDict.update(self._loggers or {})
        saved_path = sys.path[:]
        sys.path[:] = [*(str(root) for root in self._roots()), *base_path]
        importlib.invalidate_caches()
        try:
            yield
        finally:
            if outermost and self._entry is not None and warm.allowed():
                warm.keep(self, stashed, saved_path, base_path, held_loggers)
            else:
                self._swap_out(stashed, saved_path, held_loggers)
            if outermost:
                _base_path = None

    def _swap_out(
        self,
        stashed: dict[str, ModuleType],
        saved_path: list[str],
        held_loggers: dict[str, Any] | None = None,
    ) -> None:
        """Take this function's modules and Powertools loggers out of the process (kept for its next
        run, if it loaded), and put back the modules, loggers and path its run put aside."""
        own = self._own_names()
        loaded = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] in own}
        for name in loaded:
            del sys.modules[name]
        loggers = _take_powertools_loggers()
        if self._entry is not None:
            self._modules = loaded
            self._loggers = loggers
        sys.modules.update(stashed)
        logging.root.manager.loggerDict.update(held_loggers or {})
        sys.path[:] = saved_path

    def _lambda_environment(self, request_id: str) -> dict[str, str]:
        region = self.arn.split(":")[3]
        return {
            **self.environment,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": self.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group or f"/aws/lambda/{self.name}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": self.handler,
            "_X_AMZN_TRACE_ID": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
        }


def _take_powertools_loggers() -> dict[str, Any]:
    """Powertools' loggers, and their children, taken out of ``logging``'s registry, which the process
    has once: a Powertools ``Logger`` reuses the logger its service name finds there configured, its
    handler, level and appended keys, so functions sharing a service name would share them (and a
    callee's ``clear_state`` would clear its caller's), where on AWS each sandbox has its own."""
    registry = logging.root.manager.loggerDict
    roots = {name for name, found in registry.items() if hasattr(found, "powertools_buffer_config")}
    if not roots:
        return {}
    return {
        name: registry.pop(name)
        for name in list(registry)
        if name in roots or any(name.startswith(f"{root}.") for root in roots)
    }


def _error_payload(error: BaseException) -> dict[str, Any]:
    """The payload Lambda's Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": "",
        "stackTrace": traceback.format_exception(type(error), error, error.__traceback__)[1:],
    }


# ---------------------------------------------------------------------------------------- threads


def _fork() -> list[tuple[contextvars.ContextVar[Any], Any]] | None:
    """What a thread or pool task started now must carry: the followed variables, and a cursor of its
    own at this thread's moment. None outside a running invocation."""
    cursor = _cursor.get()
    if cursor is None or cursor.invocation.ended:
        return None
    values = [(variable, variable.get(_MISSING)) for variable in _FOLLOWED]
    carried = [(variable, value) for variable, value in values if value is not _MISSING]
    return [*carried, (_cursor, replace(cursor, forked=True))]


def _run_with(
    values: list[tuple[contextvars.ContextVar[Any], Any]], fn: Callable[..., Any], /, *args, **kwargs
):
    tokens = [(variable, variable.set(value)) for variable, value in values]
    try:
        return fn(*args, **kwargs)
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


_thread_start = threading.Thread.start
_pool_submit = ThreadPoolExecutor.submit


def _start(self: threading.Thread) -> None:
    values = _fork()
    if values is not None:
        run = self.run
        self.run = lambda: _run_with(values, run)  # type: ignore[method-assign]
    _thread_start(self)


def _submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    values = _fork()
    if values is None:
        return _pool_submit(self, fn, *args, **kwargs)
    return _pool_submit(self, _run_with, values, fn, *args, **kwargs)


# ---------------------------------------------------------------------------------------- environment


class InvocationEnviron(MutableMapping[str, str]):
    """Stands in for ``os.environ``: inside an invocation (its handler's thread, or a thread it
    started) the invocation's environment, anywhere else the process's."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process

    def _data(self) -> MutableMapping[str, str]:
        cursor = _cursor.get()
        if cursor is not None and (cursor.forked or not cursor.invocation.ended):
            return cursor.invocation.environ
        return self.process

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(value if isinstance(key, str) else key).__name__}")
        self._data()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def copy(self) -> dict[str, str]:
        return dict(self._data())

    def __repr__(self) -> str:
        return f"environ({dict(self._data())!r})"


def _process_environ() -> dict[str, str]:
    environ = os.environ
    return speedups.environ_copy(environ.process if isinstance(environ, InvocationEnviron) else environ)


def follow_threads() -> None:
    """Once per process: hook thread starts and pool submissions, so a handler's threads stay its
    own, and answer ``os.environ`` per invocation."""
    if threading.Thread.start is not _start:
        threading.Thread.start = _start  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]
    if not isinstance(os.environ, InvocationEnviron):
        os.environ = InvocationEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003
        # A session made before reads the process's environment for good (botocore keeps the
        # mapping it saw): without AWS_REGION there, a handler's import-time client had no region.
        boto3.DEFAULT_SESSION = None
