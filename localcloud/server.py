"""A real HTTP server on localhost for a running local cloud: curl, browsers and HTTP test tools.

Each front door a service offers (a REST API stage, a CloudFront distribution) gets its own port, so its URLs look
like the deployed ones: ``http://127.0.0.1:4580/prod/items`` for
``https://{id}.execute-api.{region}.amazonaws.com/prod/items``.

Connections are read concurrently (waitress's loop, see :mod:`localcloud.listener`): a request is
answered once it has arrived whole, so one slow or stalled client holds no other. The cloud is not
thread-safe, so the answers are made one at a time, under :attr:`LocalServer.lock` (a request waiting
on an HTTP integration's backend lets go of it meanwhile: :mod:`localcloud.handoff`); between
requests, virtual time follows real time, so queued work, retries and schedules happen while you
watch. A request has ``read_timeout`` seconds to send its line and headers, then as long for its
body (408 after), and a body may not be larger than ``max_body`` bytes (413). Connections stay
open between requests (HTTP/1.1 keep-alive) until idle for ``read_timeout``.

Example::

    with LocalCloud.from_assembly("cdk.out", "SimpleWebServiceStack") as cloud:
        with LocalServer(cloud, port=4580) as server:
            print(server.front_doors[0].url)
            server.serve_forever()
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from waitress import wasyncore

from localcloud.core import outbound, served_urls
from localcloud.core.front_doors import FrontDoor
from localcloud.errors import LocalCloudError
from localcloud.handoff import CloudLock, Loop
from localcloud.handoff import Ready as LoopReady
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.listener import Listener, adjustments, wall_clock

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.server")
T = TypeVar("T")

#: The largest request body the server reads: API Gateway's 10 MB payload limit, above Lambda's
#: 6 MB invoke payload, SQS's 1 MiB message and the CLI's 8 MB multipart upload parts.
MAX_BODY = 10 * 1024 * 1024
#: Seconds a connection has to send its request line, headers and body (each) before a 408.
READ_TIMEOUT = 5.0


class NothingToServe(LocalCloudError):
    """The stack has no front door a server could serve."""


class LocalServer:
    """Serves every front door of ``cloud`` on consecutive ports from ``port`` (0: any free ports)."""

    def __init__(
        self,
        cloud: LocalCloud,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[HttpRequest, HttpResponse, list[str]], None] | None = None,
        real_time: bool = True,
        extra_doors: Sequence[Callable[[LocalCloud], FrontDoor]] = (),
        read_timeout: float = READ_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.read_timeout = read_timeout
        """Seconds of wall clock a connection has for its headers, then for its body."""
        self.max_body = max_body
        """The largest Content-Length answered; a larger one gets 413 unread."""
        self.on_request = on_request
        """Called after each request with the request, the response and the new trace lines."""
        self.real_time = real_time
        """Whether virtual time follows the wall clock between requests (off in tests)."""
        self.front_doors: list[FrontDoor] = []
        self._map: dict = {}
        """waitress's socket map: every listener and connection, polled by the serving loop."""
        self._loop = Loop()
        """Which thread runs the serving loop (:mod:`localcloud.handoff`)."""
        self._ready = LoopReady(self._loop)
        """Connections with a whole request read: the loop answers them between two polls."""
        self._servers: list[Listener] = []
        self._retired: list[Listener] = []
        """Listeners of front doors a redeploy removed: the serving loop closes them."""
        self.lock = self._cloud_lock = CloudLock()
        """Held while a request or a tick uses the cloud: a redeploy (``localcloud.redeploy``) waits; a
        request waiting on a backend lets go of it meanwhile (:mod:`localcloud.core.outbound`)."""
        self._port = port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_spans = len(cloud.trace.spans)
        self._last_tick = wall_clock()
        self._door_makers = tuple(extra_doors)
        try:
            for door in self.doors_of(cloud):
                self.add_front_door(door)
        except BaseException:
            self._close_listeners()  # the ports bound before the one that failed
            raise
        if not self._servers:
            raise NothingToServe(
                f"stack {cloud.stack_name} has no REST, HTTP or WebSocket API nor CloudFront distribution to serve; drive it "
                "from Python instead (LocalCloud, cloud.invoke, cloud.start_execution), through its AWS API "
                "(serve --aws-port) or play its scenario"
            )

    def doors_of(self, cloud: LocalCloud) -> list[FrontDoor]:
        """The front doors of ``cloud``'s resources, then the extra ones (the AWS endpoint), made
        again for each cloud a redeploy swaps in."""
        return [*_front_doors(cloud), *(make(cloud) for make in self._door_makers)]

    def add_front_door(self, door: FrontDoor) -> None:
        """Listen for ``door`` on its own port if it has one, else on the next port after the other
        doors' (any free one when the server was given port 0)."""
        if door.port is not None:
            port = door.port
        elif self._port == 0:
            port = 0
        else:
            taken = [p for p, other in zip(self.ports(), self.front_doors, strict=True) if other.port is None]
            port = max([self._port - 1, *taken]) + 1
        host = door.host or self.host
        if door.listen is not None:
            server = door.listen(door, host, port, self)
            door.url = f"ws://{host}:{server.server_address[1]}{door.base_path}"
        else:
            server = Listener(
                door,
                self._answer,
                adjustments(host, port, self.max_body),
                map=self._map,
                dispatcher=self._ready,
            )
            door.url = f"http://{host}:{server.server_address[1]}{door.base_path}/"
        self._servers.append(server)
        self.front_doors.append(door)

    def ports(self) -> list[int]:
        return [server.server_address[1] for server in self._servers]

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve_forever(self, poll_interval: float = 0.25) -> None:
        """Serve until :meth:`shutdown`; between requests, let due work run. Warm functions keep
        their modules in place meanwhile (see :mod:`localcloud.services.lambda_.warm`)."""
        with _serving(self.cloud):
            self._loop.run(lambda: self._turn(poll_interval), self._stop)

    def _turn(self, poll_interval: float) -> None:
        """One round of the serving loop, on the thread that runs it."""
        self._close_retired()
        wasyncore.loop(timeout=poll_interval, use_poll=True, map=self._map, count=1)
        self._ready.answer_all()
        if not self._loop.owned():
            return  # the loop went on on another thread while this one waited on a backend
        now = wall_clock()
        for listener in self._servers:
            listener.overdue(now, self.read_timeout)
        if wall_clock() - self._last_tick >= poll_interval:
            self._tick()

    def _close_retired(self) -> None:
        """Stop listening for the front doors a redeploy removed (in the loop's thread, which polls them)."""
        with self.lock:
            retired, self._retired = self._retired, []
        for listener in retired:
            listener.close()

    def start(self) -> LocalServer:
        """Serve from a background thread (for tests); the caller must not touch the cloud meanwhile."""
        self._thread = threading.Thread(target=self.serve_forever, name="localcloud-server", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._loop.join()

    def settle(self) -> None:
        """Holding :attr:`lock`, wait until no request is waiting on a backend with the cloud let go."""
        self._cloud_lock.settle()

    def using_cloud(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the cloud as a request's answer runs (under :attr:`lock`), then report the
        spans it recorded: for doors that read their connections on threads of their own (WebSocket)."""
        with self.lock:
            try:
                return work()
            finally:
                self._report(None, None)

    def close(self) -> None:
        self.shutdown()
        self._close_listeners()

    def _close_listeners(self) -> None:
        """Close every door's listener, retired ones included: waitress's are in its socket map,
        the others (WebSocket stages) listen on threads of their own."""
        for server in [*self._servers, *self._retired]:
            if not isinstance(server, Listener):
                server.close()
        wasyncore.close_all(self._map)
        self._servers.clear()
        self._retired.clear()

    def _tick(self) -> None:
        """Let virtual time catch up with real time, delivering what falls due meanwhile."""
        with self.lock:
            now = wall_clock()
            elapsed, self._last_tick = now - self._last_tick, now
            try:
                if self.real_time and elapsed > 0:
                    self.cloud.advance(elapsed)
                else:
                    self.cloud.advance(0)
            except Exception:
                log.exception("background delivery failed")
            self._report(None, None)

    def _answer(self, door: FrontDoor, request: HttpRequest) -> HttpResponse:
        with self.lock:
            held: list[tuple[int, int]] = []
            try:
                with outbound.serving(lambda: self._waiting(held)):
                    response = door.dispatch(request)
                response = served_urls.rewritten(door, response, self.front_doors)
            except Exception as error:
                log.exception(
                    "%s %s on %s failed inside the local cloud", request.method, request.path, door.name
                )
                response = HttpResponse.of_json(500, {"message": f"local cloud error: {error}"})
            self._report(request, response, held)
            self._tick()
            return response

    @contextlib.contextmanager
    def _waiting(self, held: list[tuple[int, int]]) -> Iterator[None]:
        """The request answered on this thread waits on a backend: the loop goes on on another
        thread and the cloud is let go meanwhile. Its spans so far are ``held`` back from the
        others' reports, to be reported with its own."""
        if not self._cloud_lock.held_once():
            yield  # an outer holder counts on the cloud staying still: wait holding it
            return
        spans = len(self.cloud.trace.spans)
        held.append((self._seen_spans, spans))
        self._seen_spans = spans
        if self._loop.owned():
            self._loop.hand_off()
        with self._cloud_lock.let_go():
            yield

    def _report(
        self, request: HttpRequest | None, response: HttpResponse | None, held: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Hand the request and the spans recorded since the last report (with those it recorded
        before it waited on a backend, ``held``) to ``on_request``; only those spans are rendered, so
        a report costs the same on the thousandth request as on the first."""
        trace = self.cloud.trace
        seen, self._seen_spans = self._seen_spans, len(trace.spans)
        if self.on_request is None:
            return
        new_lines = [line for start, end in held for line in trace.lines(since=start)[: end - start]]
        new_lines += trace.lines(since=seen)
        if request is not None or new_lines:
            self.on_request(request, response, new_lines)  # type: ignore[arg-type]


@contextlib.contextmanager
def _serving(cloud: LocalCloud) -> Iterator[None]:
    """What each service keeps in place while a server serves (Lambda: warm functions' modules)."""
    with contextlib.ExitStack() as stack:
        for service in cloud.kernel.registry.services.values():
            if service.serving is not None:
                stack.enter_context(service.serving())
        yield


def _front_doors(cloud: LocalCloud) -> list[FrontDoor]:
    """Every front door the stack's services offer, in the order of the list of services."""
    kernel = cloud.kernel
    return [
        door
        for service in kernel.registry.services.values()
        if service.front_doors is not None
        for door in service.front_doors(kernel)
    ]
