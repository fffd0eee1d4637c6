"""Cooperative threads: moto's interpreter runs on threads, but only one of them at a time.

moto's Step Functions interpreter evaluates a definition recursively and blocks where time passes
(a Wait state, a Retry interval, a task token). To let such a wait follow the virtual clock, each
execution runs on a thread of its own that hands the turn back whenever it has to wait, saying
what it waits for: a moment on the virtual clock, a condition, or both. The cloud's pump hands the
turn to whichever thread can go on, one at a time and in the order they were started, so the
in-process functions the threads invoke never run concurrently and runs repeat exactly.

Example::

    scheduler = Scheduler(cloud.clock)
    scheduler.spawn(lambda: park(due=cloud.clock.now() + timedelta(seconds=5)), "waits", owner=None)
    scheduler.poll()          # runs the thread until it parks
    cloud.clock.move_to(...)  # five seconds later
    scheduler.poll()          # resumes it; it finishes
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from localcloud.core.clock import VirtualClock
from localcloud.errors import LocalCloudError


class FiberCancelled(BaseException):
    """Raised inside a parked thread whose cloud has stopped, so the thread unwinds and ends."""


def _always() -> bool:
    return True


def _never() -> bool:
    return False


class Fiber:
    """One thread that runs only while the scheduler has given it the turn."""

    def __init__(self, target: Callable[[], Any], label: str, owner: Any) -> None:
        self.target = target
        self.label = label
        self.owner = owner
        """What the thread works for (an execution): a synchronous run drives only its own."""
        self.context = contextvars.copy_context()
        self.thread = threading.Thread(target=self._main, name=f"localcloud-{label}", daemon=True)
        self.ready: Callable[[], bool] = _always
        self.due: datetime | None = None
        self.deadline = False
        """Whether ``due`` is a time limit on waiting for something else (a task token), not a moment
        the fiber waits for: ``drain`` does not move time to it."""
        self.done = False
        self.error: BaseException | None = None
        self._turn = threading.Event()
        self._back = threading.Event()
        self._cancelled = False

    def runnable(self, now: datetime) -> bool:
        return not self.done and (self.ready() or (self.due is not None and self.due <= now))

    def _main(self) -> None:
        self._turn.wait()
        _current.fiber = self
        try:
            if not self._cancelled:
                self.context.run(self.target)
        except FiberCancelled:
            pass
        except BaseException as error:  # reported to whoever resumed the thread
            self.error = error
        finally:
            self.done = True
            self._back.set()

    def _park(self, ready: Callable[[], bool], due: datetime | None, deadline: bool) -> None:
        self.ready, self.due, self.deadline = ready, due, deadline
        self._turn.clear()
        self._back.set()
        self._turn.wait()
        self.ready, self.due, self.deadline = _always, None, False
        if self._cancelled:
            raise FiberCancelled


class _Current(threading.local):
    fiber: Fiber | None = None


_current = _Current()


def current() -> Fiber | None:
    """The fiber running on this thread, if any."""
    return _current.fiber


def park(*, ready: Callable[[], bool] = _never, due: datetime | None = None, deadline: bool = False) -> None:
    """Give the turn back until ``ready()`` holds or the virtual clock reaches ``due`` (a time limit
    ``drain`` does not wait for, if ``deadline``)."""
    fiber = _current.fiber
    if fiber is None:
        raise LocalCloudError("a Step Functions wait ran outside an execution's thread")
    fiber._park(ready, due, deadline)


class Scheduler:
    """The fibers of one cloud; the cloud's pump drives them (it is a ``Pollable``)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.fibers: list[Fiber] = []
        self.deadlines = Deadlines(self)
        """The time limits of the fibers, as a pollable of their own that ``drain`` leaves out."""

    def spawn(self, target: Callable[[], Any], label: str, *, owner: Any) -> Fiber:
        """A fiber that runs ``target`` in a copy of the caller's context, from the next turn it gets."""
        fiber = Fiber(target, label, owner)
        self.fibers.append(fiber)
        return fiber

    def resume(self, fiber: Fiber) -> None:
        """Let ``fiber`` run until it parks or ends; re-raise what escaped it."""
        fiber._back = threading.Event()
        if not fiber.thread.is_alive() and not fiber.done:
            fiber.thread.start()
        fiber._turn.set()
        fiber._back.wait()
        if fiber.done:
            self.fibers.remove(fiber)
            if fiber.error is not None:
                error, fiber.error = fiber.error, None
                raise LocalCloudError(f"{fiber.label} failed inside the local cloud: {error!r}") from error

    # ------------------------------------------------------------------------------------ Pollable

    def poll(self) -> bool:
        """Resume, once each, the fibers that can go on now, oldest first."""
        now = self.clock.now()
        runnable = [fiber for fiber in self.fibers if fiber.runnable(now)]
        for fiber in runnable:
            if fiber.runnable(self.clock.now()):
                self.resume(fiber)
        return bool(runnable)

    def next_wakeup(self) -> datetime | None:
        return self._earliest(deadline=False)

    def _earliest(self, *, deadline: bool) -> datetime | None:
        moments = [f.due for f in self.fibers if f.due is not None and f.deadline is deadline and not f.done]
        return min(moments) if moments else None

    # ------------------------------------------------------------------------------------ driving

    def run_until_done(self, root: Fiber, owner: Any) -> None:
        """Drive ``root`` and the fibers it spawned to the end now, moving the clock over their waits:
        for a caller that waits for the answer (Express ``StartSyncExecution``)."""
        while not root.done:
            mine = [fiber for fiber in self.fibers if fiber.owner is owner]
            runnable = [fiber for fiber in mine if fiber.runnable(self.clock.now())]
            if runnable:
                self.resume(runnable[0])
                continue
            moments = [fiber.due for fiber in mine if fiber.due is not None]
            if not moments:
                raise LocalCloudError(
                    f"{root.label} waits for something that cannot happen while its caller waits "
                    "(a task token or another execution)"
                )
            self.clock.move_to(min(moments))

    def close(self) -> None:
        """End every parked thread: its cloud has stopped, nothing will resume it."""
        for fiber in self.fibers:
            fiber._cancelled = True
            if fiber.thread.is_alive():
                fiber._turn.set()
                fiber.thread.join(timeout=5)
        self.fibers.clear()


class Deadlines:
    """When the scheduler's time limits fall due. Like a schedule, ``advance`` reaches them and
    ``drain`` does not wait for them: an execution waiting for a task token stays RUNNING."""

    schedule = True

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def poll(self) -> bool:
        return False

    def next_wakeup(self) -> datetime | None:
        return self._scheduler._earliest(deadline=True)
