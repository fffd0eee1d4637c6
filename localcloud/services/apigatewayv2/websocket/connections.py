"""The open WebSocket connections of a cloud, and their ends on the virtual clock.

API Gateway closes a connection idle for 10 minutes, and any connection after 2 hours (its
quotas page, "Quotas for configuring and running a WebSocket API"); each close fires the API's
``$disconnect`` route. The registry is a pollable the kernel's pump drives, marked as a schedule so
``cloud.drain()`` does not wait out every open connection: ``cloud.advance(...)`` moves time past
the deadlines.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: Seconds without a message from the client before API Gateway closes the connection.
IDLE_TIMEOUT = 10 * 60
#: Seconds a connection may last at most.
MAX_DURATION = 2 * 60 * 60
#: The largest message API Gateway takes (128 KB), and the largest frame (32 KB): larger closes
#: the connection with 1009 (message too big).
MAX_MESSAGE = 128 * 1024
MAX_FRAME = 32 * 1024
#: The close codes the gateway uses: a normal close, going away (timeouts, DeleteConnection), too big.
NORMAL, GOING_AWAY, TOO_BIG = 1000, 1001, 1009


@dataclass
class Connection:
    """One client's connection to a stage of a WebSocket API."""

    id: str
    api_id: str
    stage: str
    connected_at: datetime
    source_ip: str
    user_agent: str
    headers: dict[str, list[str]]
    query: dict[str, list[str]]
    last_active_at: datetime
    state: str = "CONNECTING"
    """``CONNECTING`` while ``$connect`` runs (posting to it is 410), ``OPEN``, then ``CLOSED``."""
    authorizer: dict[str, Any] | None = None
    """What the ``$connect`` authorizer answered (``principalId`` and its context), for every route."""
    close_code: int | None = None
    close_reason: str = ""
    inbox: deque[str | bytes] = field(default_factory=deque)
    """What the gateway sent the client and it has not read yet (the test client reads it)."""
    sink: Callable[[str | bytes], None] | None = None
    """Where messages go on the wire, once a real socket carries the connection (``serve``)."""
    on_close: Callable[[int, str], None] | None = None
    """How the real socket is told the gateway closed it."""
    client_gone: Callable[[], bool] | None = None
    """Whether the real socket's client has closed it, before its ``$disconnect`` has run: the
    gateway knows at once, so posting to it is already 410."""

    def deliver(self, data: str | bytes) -> None:
        if self.sink is not None:
            self.sink(data)
        else:
            self.inbox.append(data)

    def attach(
        self,
        sink: Callable[[str | bytes], None],
        on_close: Callable[[int, str], None],
        client_gone: Callable[[], bool] | None = None,
    ) -> None:
        """Carry the connection on a real socket from now on, sending it what arrived meanwhile."""
        self.sink, self.on_close, self.client_gone = sink, on_close, client_gone
        while self.inbox:
            sink(self.inbox.popleft())

    def deadline(self) -> datetime:
        return min(
            self.last_active_at + timedelta(seconds=IDLE_TIMEOUT),
            self.connected_at + timedelta(seconds=MAX_DURATION),
        )


class Connections:
    """Every connection by id; closes those past their deadline when the pump polls it."""

    schedule = True
    """Like a schedule, open connections never let ``drain()`` end: only ``advance()`` expires them."""

    def __init__(self, kernel: Kernel, expire: Callable[[Connection, int, str], None]) -> None:
        self.kernel = kernel
        self.expire = expire
        self.by_id: dict[str, Connection] = {}
        self._numbers = itertools.count(1)

    def open(
        self,
        api_id: str,
        stage: str,
        headers: dict[str, list[str]],
        query: dict[str, list[str]],
        source_ip: str,
    ) -> Connection:
        now = self.kernel.clock.now()
        user_agent = next((v[0] for k, v in headers.items() if k.lower() == "user-agent" and v), "")
        connection = Connection(
            self._new_id(api_id), api_id, stage, now, source_ip, user_agent, headers, query, now
        )
        self.by_id[connection.id] = connection
        return connection

    def _new_id(self, api_id: str) -> str:
        """An id shaped as API Gateway's (16 characters of base64, ``Df14mfUXIAMCIyg=``), the same every run."""
        digest = hashlib.sha256(f"{self.kernel.stack_name}/{api_id}/{next(self._numbers)}".encode()).digest()
        return base64.b64encode(digest[:11]).decode().replace("/", "_").replace("+", "-")

    def live(self, connection_id: str) -> Connection | None:
        """The connection if it is open (not still connecting, not closed by either side)."""
        connection = self.by_id.get(connection_id)
        if connection is None or connection.state != "OPEN":
            return None
        return None if connection.client_gone is not None and connection.client_gone() else connection

    def open_ones(self) -> list[Connection]:
        return [c for c in self.by_id.values() if c.state == "OPEN"]

    def poll(self) -> bool:
        now = self.kernel.clock.now()
        due = [c for c in self.open_ones() if c.deadline() <= now]
        for connection in due:
            idle = connection.last_active_at + timedelta(seconds=IDLE_TIMEOUT) <= now
            self.expire(connection, GOING_AWAY, "Idle timeout" if idle else "Connection duration limit")
        return bool(due)

    def next_wakeup(self) -> datetime | None:
        deadlines = [c.deadline() for c in self.open_ones()]
        return min(deadlines) if deadlines else None
