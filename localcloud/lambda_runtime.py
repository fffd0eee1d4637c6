"""Run a Lambda function in this process, from its asset folder, the way the Python runtime does.

Each function imports its handler from its own code folder with its layers on the path and its own
environment variables, and keeps its modules to itself: two functions that both have a
``handler.py`` or a ``shared`` package never see each other's. Module-level code runs once per
cold start; :meth:`LambdaFunction.reset` makes the next invocation cold again.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from localcloud.clock import VirtualClock


@dataclass
class InvocationResult:
    payload: Any
    error: dict[str, Any] | None
    cold_start: bool
    request_id: str

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
        return max(0, int((self._deadline - self._clock.elapsed()) * 1000))


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
    reserved_concurrency: int | None = None
    duration: float = 0.0
    """Virtual seconds each invocation lasts: 0 by default; set it to see concurrency over time."""
    _modules: dict[str, ModuleType] | None = field(default=None, repr=False)
    _entry: Any = field(default=None, repr=False)
    cold_starts: int = 0

    @property
    def is_warm(self) -> bool:
        return self._modules is not None

    def reset(self) -> None:
        """Forget the loaded modules: the next invocation is a cold start."""
        self._modules = None
        self._entry = None

    def run(self, event: Any, clock: VirtualClock) -> InvocationResult:
        """Invoke the handler once; an exception becomes the error payload Lambda returns."""
        request_id = str(uuid.uuid4())
        cold = not self.is_warm
        context = LambdaContext(
            function_name=self.name,
            function_version="$LATEST",
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory_size,
            aws_request_id=request_id,
            log_group_name=self.log_group or f"/aws/lambda/{self.name}",
            log_stream_name=f"{clock.now():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            _deadline=clock.elapsed() + self.timeout,
            _clock=clock,
        )
        with self._isolated(request_id):
            try:
                if cold:
                    self._entry = self._load()
                    self.cold_starts += 1
                payload = self._entry(event, context)
            except Exception as error:
                if cold and self._entry is None:
                    self._modules = None
                return InvocationResult(_error_payload(error), _error_payload(error), cold, request_id)
        return InvocationResult(payload, None, cold, request_id)

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

    def _own_names(self) -> set[str]:
        """Top-level module names this function's code and layers provide."""
        names = set()
        for root in self._roots():
            for entry in root.iterdir():
                if entry.suffix == ".py":
                    names.add(entry.stem)
                elif entry.is_dir() and (entry / "__init__.py").exists():
                    names.add(entry.name)
        return names

    @contextmanager
    def _isolated(self, request_id: str) -> Iterator[None]:
        own = self._own_names()
        shadowed = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] in own}
        for name in shadowed:
            del sys.modules[name]
        if self._modules is not None:
            sys.modules.update(self._modules)
        saved_path = sys.path[:]
        sys.path[:0] = [str(root) for root in self._roots()]
        importlib.invalidate_caches()
        saved_env = {key: os.environ.get(key) for key in self._lambda_environment(request_id)}
        os.environ.update(self._lambda_environment(request_id))
        try:
            yield
        finally:
            loaded = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] in own}
            for name in loaded:
                del sys.modules[name]
            if self._entry is not None:
                self._modules = loaded
            sys.modules.update(shadowed)
            sys.path[:] = saved_path
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _lambda_environment(self, request_id: str) -> dict[str, str]:
        region = self.arn.split(":")[3]
        return {
            **self.environment,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group or f"/aws/lambda/{self.name}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": self.handler,
            "_X_AMZN_TRACE_ID": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
        }


def _error_payload(error: BaseException) -> dict[str, Any]:
    """The payload Lambda's Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": "",
        "stackTrace": traceback.format_exception(type(error), error, error.__traceback__)[1:],
    }
