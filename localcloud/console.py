"""What ``serve`` and the demo show a person: the trace, and the stack's own output only when asked.

While a stack runs, its functions print (Powertools' JSON log lines, its EMF metric lines) and moto
logs what it does (its Step Functions interpreter an ERROR line per failed state, with the whole
failure event). All of it is also somewhere a person can read it: the functions' lines in their log
groups (``aws logs filter-log-events`` through ``serve --aws-port``), each failed execution in the trace (its error
in its history, ``cloud.execution(arn)``). So the console keeps it out of the trace's way unless ``--logs``
asks for it, where it goes as it was written. A ``breakpoint()`` in a handler still gets the
console: its debugger is started with the console as its stdout.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pdb
import sys
from collections.abc import Iterator
from typing import TextIO

#: The loggers of the libraries the local cloud runs on, whose lines are the stack's noise.
LIBRARY_LOGGERS = ("moto",)


class _Discard(io.TextIOBase):
    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def stack_output(*, show: bool, to: TextIO | None = None) -> Iterator[TextIO]:
    """Within, what functions print and what moto logs go to ``to`` (the process's stderr) when
    ``show``, else nowhere; yields the stream the console's own lines go to (stdout as it was)."""
    console = sys.stdout
    sink: TextIO = (to or sys.stderr) if show else _Discard()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    saved = [(logger.handlers[:], logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers = [handler]
        logger.propagate = False
    hook = sys.breakpointhook

    def breakpoint_on_the_console(*args: object, **kwargs: object) -> object:
        """``breakpoint()`` with pdb talking to the console (pdb keeps the stdout it starts with),
        stopped in the caller's frame; another PYTHONBREAKPOINT hook is called as it is."""
        wanted = os.environ.get("PYTHONBREAKPOINT", "")
        if wanted == "0":
            return None
        if wanted in ("", "pdb.set_trace") and not args and not kwargs:
            return pdb.Pdb(stdout=console).set_trace(sys._getframe(1))
        with contextlib.redirect_stdout(console):
            return hook(*args, **kwargs)

    sys.breakpointhook = breakpoint_on_the_console
    try:
        with contextlib.redirect_stdout(sink):
            yield console
    finally:
        sys.breakpointhook = hook
        for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
            logger.handlers = handlers
            logger.propagate = propagate
