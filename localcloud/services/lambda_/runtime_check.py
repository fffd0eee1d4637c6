"""Whether a function's ``Runtime`` can run in this process, on the test's interpreter.

A Python function whose minor version is the interpreter's runs as it would on AWS. One of another
minor version still runs, since its code is Python, but syntax and library differences would go
unseen: the local cloud says so once per function (a warning on the ``localcloud.lambda`` logger,
and ``runtime_warning`` in the data of the function's first invocation span, so the trace's lines
stay as they are), and ``strict_runtime=True`` makes it an error. Any other runtime
(Node.js, Java, .NET, Ruby, a custom ``provided`` runtime whose handler is not a Python module of
its code, a container image) cannot run here at all: invoking it raises :class:`UnsupportedRuntime`
naming the function and the runtime.

The check is made when a function is first invoked, not when it is provisioned: a stack keeps
starting when it holds CDK's own Node.js handlers (bucket deployments, auto-delete, AwsCustomResource,
the provider framework) that the local cloud does natively instead of running them.
"""

from __future__ import annotations

import logging
import re
import sys
import weakref
from typing import TYPE_CHECKING

from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel
    from localcloud.services.lambda_.runtime import LambdaFunction

log = logging.getLogger("localcloud.lambda")

PYTHON_RUNTIME = re.compile(r"python(\d+)\.(\d+)$")
#: Lambda's custom runtimes: a ``bootstrap`` executable in the code, the handler any string.
CUSTOM_RUNTIME = re.compile(r"provided(\.al2|\.al2023)?$")

#: The functions already warned about, per cloud (by logical id: a function's versions share it).
_warned: weakref.WeakKeyDictionary[Kernel, set[str]] = weakref.WeakKeyDictionary()


class UnsupportedRuntime(LocalCloudError):
    """A function whose runtime this process cannot run, or (``strict_runtime``) not as declared."""

    def __init__(self, function: LambdaFunction, reason: str) -> None:
        super().__init__(f"{function.logical_id} ({function.name}): {reason}")
        self.function_name = function.name
        self.runtime = function.runtime


def interpreter() -> str:
    """The runtime name of this interpreter, as Lambda spells it: ``python3.13``."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def check(kernel: Kernel, function: LambdaFunction) -> str | None:
    """Let ``function`` run on this interpreter, warn once that it declares another Python (the
    warning is returned, for the invocation's span), or raise :class:`UnsupportedRuntime`."""
    runtime = function.runtime
    here = interpreter()
    if runtime == here:
        return None
    if not runtime:
        raise UnsupportedRuntime(
            function,
            "has no Runtime (a container image function?); the local cloud runs Python functions only",
        )
    python = PYTHON_RUNTIME.match(runtime)
    if python is None and not (CUSTOM_RUNTIME.match(runtime) and _python_handler(function)):
        raise UnsupportedRuntime(
            function,
            f"runtime {runtime} cannot run in the local cloud, which runs Python handlers in-process "
            f"(this interpreter is {here}); replace the function, or keep it from being invoked offline",
        )
    reason = (
        f"declares {runtime} but runs on this interpreter, {here}"
        if python
        else f"declares the custom runtime {runtime}; its Python handler {function.handler} runs on {here}"
    )
    if kernel.strict_runtime:
        raise UnsupportedRuntime(
            function, f"{reason} (strict_runtime: run the tests on {runtime}, or declare {here})"
        )
    warned = _warned.setdefault(kernel, set())
    if function.logical_id in warned:
        return None
    warned.add(function.logical_id)
    message = f"{reason}: differences between the two go unseen offline"
    log.warning("%s: %s", function.name, message)
    return message


def _python_handler(function: LambdaFunction) -> bool:
    """Whether a custom runtime's handler names a Python module of its code, ``module.function``."""
    module, _, name = function.handler.rpartition(".")
    if not module or not name:
        return False
    path = module.replace(".", "/")
    return any(
        (root / f"{path}.py").is_file() or (root / path / "__init__.py").is_file()
        for root in (function.code_dir, *function.layer_dirs)
    )
