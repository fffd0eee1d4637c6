"""botocore's session initializers: one per function that registers one, however often the module
that registers it is imported again.

Powertools registers an initializer with botocore when it is imported (it puts
``PT/no-op/<version>`` into each request's User-Agent). A Lambda function imports it once per
execution environment; the local cloud runs every function in one process and imports Powertools
again at each cold start (:data:`~localcloud.services.lambda_.runtime.SANDBOXED`), so each cold
start added one more initializer to botocore's process-wide list, and every session made after it
(one per cloud start, and each a handler or Powertools makes) one more handler per request: late
in a test run, hundreds of copies of that suffix in each User-Agent, and their handlers copied with
each client and called on each request. A module imported again registers the same function again
(the same module and qualified name): it now takes the place of the one registered before.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import botocore

_register = botocore.register_initializer


def register_initializer(callback: Callable[[Any], None]) -> None:
    """botocore's ``register_initializer``, with an earlier import's copy of ``callback`` removed."""
    key = _key(callback)
    if key is not None:
        for registered in [c for c in botocore._INITIALIZERS if _key(c) == key]:
            botocore.unregister_initializer(registered)
    _register(callback)


def _key(callback: Any) -> tuple[str, str] | None:
    """Where a module-level function was defined; None for anything else (a closure may carry other
    values, a bound method another object), which is kept as it is."""
    if not isinstance(callback, types.FunctionType) or "<locals>" in callback.__qualname__:
        return None
    return callback.__module__, callback.__qualname__


def install() -> None:
    botocore.register_initializer = register_initializer
