"""Connections: a cap on how many are open, and a deadline for the request head.

aiohttp closes a keep-alive connection that stays idle (``idle_timeout_seconds``, its
``keepalive_timeout``), but it has no deadline for a request head and no bound on open connections: a
client that connects and sends nothing, or one header byte every few seconds, holds a socket for an
hour, and enough of them exhaust the file descriptors until even ``/healthz`` cannot be accepted.

:class:`ConnectionGuard` sits between each listening socket and aiohttp's protocol
(:class:`GuardedSite` installs it):

- **cap**: beyond ``limit`` open connections, a new one is answered ``503`` and closed at once, counted
  (``hookgate_gateway_connections_refused_total``) and logged at most once a minute;
- **head deadline**: a connection must complete a request head within ``head_timeout`` of connecting,
  or of its first byte after a reply; otherwise it is closed (``hookgate_gateway_head_timeouts_total``).
  A request counts as started once the application sees it (:meth:`ConnectionGuard.middleware`).

:func:`connection_cap` keeps the cap below the process's file-descriptor limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from ssl import SSLContext
from typing import Any, cast

from aiohttp import web
from prometheus_client import Counter

from hookgate.core.logging import get_logger

log = get_logger("hookgate.gateway.connections")

Clock = Callable[[], float]

FD_RESERVE = 256
"""File descriptors kept apart from the webhook connections (Kafka, logs, the listening sockets...),
at most a quarter of the limit."""

OPS_MAX_CONNECTIONS = 32
"""Open connections on the ops listener: probes and scrapes need a few."""

LOG_INTERVAL_SECONDS = 60.0

_REFUSAL_BODY = b'{"error":"overloaded","message":"Too many open connections; retry later."}'
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n\r\n" + _REFUSAL_BODY
)


def connection_cap(fd_limit: int, configured: int | None, reserved: int = 0) -> int:
    """How many connections a listener may hold open: ``configured`` (or as many as possible when
    ``None``), but never so many that the process runs out of file descriptors.

    ``fd_limit`` is the soft ``RLIMIT_NOFILE``; :data:`FD_RESERVE` (at most a quarter of it) plus
    ``reserved`` (another listener's cap) are kept for everything else.
    """
    safe = max(1, fd_limit - min(FD_RESERVE, fd_limit // 4) - reserved)
    return safe if configured is None else min(configured, safe)


class Throttle:
    """At most one log line per ``interval``: :meth:`hit` says how many events the next line reports."""

    __slots__ = ("_clock", "_interval", "_next", "_pending")

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS, clock: Clock = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._pending = 0

    def hit(self, events: int = 1) -> int | None:
        """Count ``events``; the number of events since the last line when a line is due now, else ``None``."""
        self._pending += events
        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self._interval
        count, self._pending = self._pending, 0
        return count


class ConnectionGuard:
    """The open connections of one listener: counted, capped, and given a deadline for each request head."""

    def __init__(
        self,
        listener: str,
        *,
        limit: int,
        head_timeout: float,
        refused: Counter,
        timed_out: Counter,
        clock: Clock = time.monotonic,
    ) -> None:
        self.listener = listener
        self.limit = limit
        self.head_timeout = head_timeout
        self._refused = refused
        self._timed_out = timed_out
        self._clock = clock
        self._connections: dict[asyncio.BaseProtocol, GuardedConnection] = {}
        # Waiting for a head, by deadline: every deadline is "entered + head_timeout", so insertion order
        # is deadline order and a sweep stops at the first connection still in time.
        self._heads: dict[GuardedConnection, float] = {}
        self._full_log = Throttle(clock=clock)
        self._timeout_log = Throttle(clock=clock)
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def open(self) -> int:
        """Connections open now (refused ones are never counted)."""
        return len(self._connections)

    def protocol_factory(self, server: Callable[[], asyncio.BaseProtocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` around aiohttp's ``server`` (its own factory)."""
        return lambda: GuardedConnection(self, server)

    # Lifecycle of the head sweep (GuardedSite starts and stops it with the listener).

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep(self) -> None:
        tick = min(1.0, max(0.05, self.head_timeout / 4))
        while True:
            await asyncio.sleep(tick)
            self.close_late_heads()

    def close_late_heads(self) -> int:
        """Close every connection whose request head is overdue; how many were closed."""
        now = self._clock()
        late = []
        for conn, deadline in self._heads.items():
            if deadline > now:
                break
            late.append(conn)
        for conn in late:
            del self._heads[conn]
            conn.close()
        if late:
            self._timed_out.inc(len(late))
            count = self._timeout_log.hit(len(late))
            if count is not None:
                log.info(
                    "connections_head_timeout",
                    listener=self.listener,
                    closed=count,
                    head_timeout_seconds=self.head_timeout,
                    message="Closed connections that sent no complete request head in time.",
                )
        return len(late)

    # Called by GuardedConnection.

    def has_room(self) -> bool:
        """Whether a new connection may stay open; when not, it is counted (and logged) as refused."""
        if len(self._connections) < self.limit:
            return True
        self._refused.inc()
        count = self._full_log.hit()
        if count is not None:
            log.warning(
                "connections_at_limit",
                listener=self.listener,
                limit=self.limit,
                refused=count,
                message="New connections are answered 503 and closed while this many are open.",
            )
        return False

    def register(self, conn: GuardedConnection, inner: asyncio.BaseProtocol) -> None:
        self._connections[inner] = conn
        self.wait_for_head(conn)

    def wait_for_head(self, conn: GuardedConnection) -> None:
        self._heads[conn] = self._clock() + self.head_timeout

    def forget(self, conn: GuardedConnection, inner: asyncio.BaseProtocol) -> None:
        self._connections.pop(inner, None)
        self._heads.pop(conn, None)

    # The application's side: a request reached a handler, and was answered.

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Marks the request's connection busy (no head deadline) while the application handles it."""
        conn = self._connections.get(request.protocol)
        if conn is None:  # a server this guard does not watch (tests' own servers)
            return await handler(request)
        self._heads.pop(conn, None)
        try:
            return await handler(request)
        finally:
            conn.idle = True


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: forwards everything to aiohttp's protocol, telling the guard what happens."""

    __slots__ = ("_factory", "_guard", "_inner", "_transport", "idle")

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self._guard = guard
        self._factory = factory
        self._inner: Any = None  # aiohttp's RequestHandler, made only for an admitted connection
        self._transport: asyncio.BaseTransport | None = None
        self.idle = False  # replied, and no byte of a next request yet: the keep-alive timeout applies

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        guard = self._guard
        if not guard.has_room():
            # (uvloop's transports are not asyncio.WriteTransport subclasses, but write all the same)
            cast(asyncio.Transport, transport).write(_REFUSAL)
            transport.close()
            return
        inner = self._inner = self._factory()
        guard.register(self, inner)
        inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        inner = self._inner
        if inner is None:
            return
        if self.idle:  # the first byte of a next request: its head has the deadline from now
            self.idle = False
            self._guard.wait_for_head(self)
        inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self._inner is None else self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        inner = self._inner
        if inner is None:
            return
        self._inner = None
        self._guard.forget(self, inner)
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def close(self) -> None:
        """Close the connection (its head is overdue)."""
        if self._transport is not None:
            self._transport.close()


class GuardedSite(web.BaseSite):
    """A TCP listener for an :class:`~aiohttp.web.AppRunner` whose connections ``guard`` watches."""

    __slots__ = ("_bound_port", "_guard", "_host", "_port", "_reuse_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        guard: ConnectionGuard,
        host: str,
        port: int,
        *,
        ssl_context: SSLContext | None = None,
        backlog: int = 1024,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._reuse_port = reuse_port  # gateway.workers: every worker binds the same port
        self._guard = guard
        self._host = host
        self._port = port
        self._bound_port: int | None = None

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (the one asked for until started; useful with port 0)."""
        return self._bound_port if self._bound_port is not None else self._port

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard.protocol_factory(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=True,
            reuse_port=self._reuse_port or None,
            # A TLS handshake is part of the head's time: without this it may take 60 s.
            ssl_handshake_timeout=self._guard.head_timeout if self._ssl_context else None,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
        self._guard.start()

    async def stop(self) -> None:
        await self._guard.stop()
        await super().stop()
