"""What ``serve`` and the demo show a person: the trace, and the stack's own output only when asked.

While a stack runs, its functions print (Powertools' JSON log lines, its EMF metric lines) and moto
logs what it does (its Step Functions interpreter an ERROR line per failed state, with the whole
failure event). All of it is also somewhere a person can read it: the functions' lines in their log
groups (``aws logs tail`` through ``serve --aws-port``), each failed execution in the trace (its error
in its history, ``cloud.execution(arn)``). So the console keeps it out of the trace's way unless ``--logs``
asks for it, where it goes as it was written.
"""

from __future__ import annotations

import contextlib
import io
import logging
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
    try:
        with contextlib.redirect_stdout(sink):
            yield console
    finally:
        for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
            logger.handlers = handlers
            logger.propagate = propagate
