"""Real server processes a cloud runs behind its services (a PostgreSQL behind RDS, a Valkey behind
ElastiCache), and the names that reach them.

A service declares a server with :meth:`Servers.add`: a loopback port is reserved at once (so
``Endpoint.Port`` resolves while the stack deploys and security group rules can name it), the
process starts on first use (a name resolved, or :meth:`RealServer.ensure_started`), and every
server stops when the cloud stops, its data with it. The reserving socket is handed to the server's
launch: a listener in this process (RDS's TLS front) listens on that very socket, so no other
process can take the port in between; only a server binary that binds the port itself (Valkey) has
the socket closed just before it starts (:func:`released_port`). Each server answers to endpoint host names
(:meth:`Servers.name`), each behind its own network listener (a cluster and its proxy have
different security groups).

Clients reach a server as on AWS, by host name: while a cloud runs, ``socket.getaddrinfo`` answers
those names with the loopback address, after :meth:`~localcloud.core.network.Network.connect` has
let the caller through (psycopg and redis-py both resolve the host in Python before connecting). A
caller the network drops gets :class:`~localcloud.core.network.ConnectTimedOut` (an ``OSError``, so
each client raises its own connection error) naming the missing rule.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.errors import LocalCloudError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

LOOPBACK = "127.0.0.1"
#: Where servers' ports are chosen (below Linux's ephemeral range, which starts at 32768).
PORTS = range(20000, 30000)
#: How long a client waits for a connection the network drops, in virtual seconds: Linux's default
#: TCP connect timeout (6 SYN retries), which psycopg and redis-py wait without a timeout of their own.
CONNECT_TIMEOUT = 127.0

log = logging.getLogger("localcloud.servers")

Launch = Callable[[socket.socket], Callable[[], None]]
"""``launch(reserved)`` starts the server on the loopback port ``reserved`` (a socket bound to it, not
listening) holds, and owns that socket from then on; it returns the stop."""


@dataclass
class RealServer:
    name: str
    port: int
    launch: Launch
    reservation: socket.socket | None = None
    """Holds the port (bound, not listening) until the server takes it, so no one else does."""
    _stop: Callable[[], None] | None = None

    @property
    def started(self) -> bool:
        return self._stop is not None

    def ensure_started(self) -> None:
        if self._stop is None:
            reserved, self.reservation = self.reservation, None
            try:
                if reserved is None:  # started again after a stop, which let the port go
                    reserved = bound(self.port)
                self._stop = self.launch(reserved)
            except Exception as error:
                if reserved is not None:
                    reserved.close()
                # Raised inside a client's host lookup, it reaches the handler as that client's
                # connection error, which a tolerant handler (cache-aside) hides: say it here too.
                log.error("the %s server did not start on port %s: %s", self.name, self.port, error)
                raise

    def stop(self) -> None:
        self._release()
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def _release(self) -> None:
        reservation, self.reservation = self.reservation, None
        if reservation is not None:
            reservation.close()


@dataclass(frozen=True)
class Name:
    server: RealServer
    listener: str
    """The network listener a connection through this name must reach."""


class Servers:
    """The server processes of one cloud (``kernel.servers``)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.servers: dict[str, RealServer] = {}
        self.names: dict[str, Name] = {}

    def add(self, name: str, launch: Launch) -> RealServer:
        if name in self.servers:
            raise LocalCloudError(f"a server named {name!r} is already declared")
        seed = f"{self.kernel.stack_name}/{name}" if self.kernel is not None else name
        reservation = reserve_port(f"{os.getpid()}/{seed}")
        server = RealServer(name, reservation.getsockname()[1], launch, reservation)
        if not self.servers:
            atexit.register(self.stop)  # a process that ends without stopping its cloud leaves none
        self.servers[name] = server
        _install_resolver()
        return server

    def name(self, host: str, server: RealServer, listener: str) -> str:
        """Make ``host`` resolve to ``server`` for callers the network lets reach ``listener``."""
        self.names[host.lower()] = Name(server, listener)
        return host

    def resolve(self, host: str, port: Any) -> bool:
        """Whether ``host`` is one of this cloud's server names; if so, let the caller through the
        network (or raise ``ConnectTimedOut``) and start the server."""
        named = self.names.get(host.lower())
        if named is None:
            return False
        network = self.kernel.network
        listener = network.listeners.get(named.listener)
        if network.fabric is not None and listener is not None:
            # The server's real port stands for the port its listener declares (a proxy's 5432).
            wanted = int(port or named.server.port)
            checked = listener.port if wanted == named.server.port else wanted
            network.connect(named.listener, checked, timeout=CONNECT_TIMEOUT)
        named.server.ensure_started()
        return True

    def stop(self) -> None:
        """Stop every server this cloud started; a failure to stop one still stops the others."""
        failures = []
        for server in self.servers.values():
            try:
                server.stop()
            except Exception as error:  # the process may be gone already
                failures.append(f"{server.name}: {error}")
        if self.servers:
            atexit.unregister(self.stop)
        self.servers.clear()
        self.names.clear()
        if failures:
            raise LocalCloudError("could not stop " + "; ".join(failures))


def reserve_port(seed: str) -> socket.socket:
    """A socket bound to a loopback port for the server named ``seed``: the same port each time in
    this process where it is free (so a redeployed stack's server comes back where its secret says
    it is), else any free one. ``seed`` holds the process id: two processes running the same stack
    at once (pytest's workers, the grant check's) prefer different ports. With one preferred port,
    a worker could take it in the moment between the other releasing its reservation and its
    server binding, so that server failed to start and a cache-aside handler fell back to the
    database without a word."""
    preferred = PORTS.start + int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(PORTS)
    for port in (preferred, 0):
        try:
            return bound(port)
        except OSError:
            continue
    raise LocalCloudError("no free loopback port for a server")  # unreachable: port 0 always binds


def bound(port: int) -> socket.socket:
    """A socket bound to the loopback ``port`` (0: any free one), not listening; OSError if taken."""
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        reservation.bind((LOOPBACK, port))
    except OSError:
        reservation.close()
        raise
    return reservation


def released_port(reserved: socket.socket) -> int:
    """The port ``reserved`` holds, let go for a server process that binds it itself."""
    port = reserved.getsockname()[1]
    reserved.close()
    return port


_real_getaddrinfo = socket.getaddrinfo
_install_lock = threading.Lock()


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    from localcloud.core import hooks

    kernel = hooks.active()
    if isinstance(host, bytes):
        host = host.decode()
    if kernel is not None and isinstance(host, str) and kernel.servers.resolve(host, port):
        host = LOOPBACK
    return _real_getaddrinfo(host, port, *args, **kwargs)


def _install_resolver() -> None:
    """Answer the running cloud's server names in ``socket.getaddrinfo`` (once per process; a name
    no running cloud declares resolves as before)."""
    with _install_lock:
        if socket.getaddrinfo is not _getaddrinfo:
            socket.getaddrinfo = _getaddrinfo
