"""How :class:`localcloud.server.LocalServer` answers other clients while a request waits on a
backend (:mod:`localcloud.core.outbound`).

The serving loop (poll the sockets, answer the requests that arrived whole, let virtual time catch
up) runs on one thread at a time, which answers requests itself (no handoff per request). When a
request it answers has to wait on the network, that thread hands the loop to a new thread
(:meth:`Loop.hand_off`) and lets go of the cloud (:meth:`CloudLock.let_go`): the new loop serves
the other clients, under the lock, while the first thread waits; once the backend answered, the
first thread takes the lock back, finishes its request, and ends. So handlers and the cloud's state
changes still happen one at a time; only the waits overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from localcloud import listener


class CloudLock:
    """The server's lock on its cloud: reentrant, and one who holds it once may let go of it for a
    while (:meth:`let_go`); :meth:`settle` waits until everyone who let go has come back."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._returned = threading.Condition(self._lock)
        self._depth = threading.local()
        self.away = 0
        """Requests that let go of the cloud and have not taken it back yet."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._lock.acquire(blocking, timeout):
            return False
        self._depth.count = getattr(self._depth, "count", 0) + 1
        return True

    def release(self) -> None:
        self._depth.count -= 1
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def held_once(self) -> bool:
        """Whether this thread holds the lock, and only once (no outer holder counts on keeping it)."""
        return getattr(self._depth, "count", 0) == 1

    @contextmanager
    def let_go(self) -> Iterator[None]:
        """Release the lock while the block runs, then take it back; for a thread that
        :meth:`held_once` it."""
        if not self.held_once():
            raise RuntimeError("only a thread holding the lock once may let go of it")
        self.away += 1
        self.release()
        try:
            yield
        finally:
            self.acquire()
            self.away -= 1
            self._returned.notify_all()

    def settle(self) -> None:
        """Holding the lock, wait until no request is away (a redeploy swaps the stack under none)."""
        while self.away:
            self._returned.wait()


class Loop:
    """Which thread runs the serving loop: one at a time, moving to a new thread when the one running
    it has to wait on the network for the request it answers."""

    def __init__(self) -> None:
        self._owner: threading.Thread | None = None
        self._handed: list[threading.Thread] = []
        self._mutex = threading.Lock()
        self._turn: Callable[[], None] = lambda: None
        self._stop = threading.Event()

    def owned(self) -> bool:
        """Whether this thread runs the loop (else it is finishing a request it handed it over for)."""
        return self._owner is threading.current_thread()

    def run(self, turn: Callable[[], None], stop: threading.Event) -> None:
        """Run ``turn`` over and over on this thread until ``stop``, then wait for the threads the
        loop was handed to meanwhile."""
        self._turn, self._stop = turn, stop
        self._owner = threading.current_thread()
        try:
            self._serve()
            self.join()
        except BaseException:
            stop.set()  # Ctrl-C on this thread: the threads the loop was handed to stop too
            self.join()
            raise

    def hand_off(self) -> None:
        """Go on serving on a new thread: this one is about to wait."""
        thread = threading.Thread(target=self._serve, name="localcloud-server", daemon=True)
        with self._mutex:
            self._handed.append(thread)
        self._owner = thread
        thread.start()

    def join(self) -> None:
        """Wait for every thread the loop was handed to (each ends at ``stop``, or once its own
        request's backend answered)."""
        while True:
            with self._mutex:
                threads = [t for t in self._handed if t is not threading.current_thread()]
                self._handed = [t for t in self._handed if t not in threads]
            if not threads:
                return
            for thread in threads:
                thread.join()

    def _serve(self) -> None:
        me = threading.current_thread()
        while not self._stop.is_set() and self._owner is me:
            self._turn()


class Ready(listener.Ready):
    """The requests read whole, answered by the thread that runs the loop only: one that handed the
    loop over stops answering once its own request is done."""

    def __init__(self, loop: Loop) -> None:
        super().__init__()
        self.loop = loop

    def answer_all(self) -> None:
        while self.channels and self.loop.owned():
            self.channels.popleft().service()
