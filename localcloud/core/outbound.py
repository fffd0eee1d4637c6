"""Network I/O that a request waits on outside the cloud (an HTTP integration's backend).

The localhost server (:mod:`localcloud.server`) answers requests one at a time under its lock on
the cloud. A backend that answers slowly (up to API Gateway's 29 s integration timeout) would hold
every other client meanwhile, so the server lets each request it answers go of the cloud while such
I/O lasts (:func:`serving`), and other requests are answered meanwhile. The I/O wrapped in
:func:`waiting` must touch nothing of the cloud: what it returns is applied once the cloud is taken
back. Outside a served request (a test's client, a delivery on the pump) or inside someone's code
(a function's invocation, whose modules and moment must stay its own), the cloud is kept.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from localcloud.core import hooks

LetGo = Callable[[], AbstractContextManager[object]]
"""Lets go of the cloud for the block it wraps, and takes it back after."""

_let_go: contextvars.ContextVar[LetGo | None] = contextvars.ContextVar("localcloud_let_go", default=None)


@contextmanager
def serving(let_go: LetGo) -> Iterator[None]:
    """While this thread answers a served request: :func:`waiting` blocks may use ``let_go``."""
    token = _let_go.set(let_go)
    try:
        yield
    finally:
        _let_go.reset(token)


@contextmanager
def waiting() -> Iterator[None]:
    """Wrap blocking network I/O that touches nothing of the cloud; the cloud is let go of while it
    lasts where the request is served and no one's code is running on this thread."""
    let_go = _let_go.get()
    if let_go is None or hooks.principal() is not None:
        yield
        return
    with let_go():
        yield
