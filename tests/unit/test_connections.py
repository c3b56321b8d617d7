"""The connection guard (cap, head deadline), the cap's bound by the fd limit, and raising the fd limit,
with in-memory transports, a stand-in for aiohttp's protocol, a fake clock and a fake resource module."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from hookgate.core.runtime import UNLIMITED_FD_TARGET, open_file_limit, raise_fd_limit
from hookgate.gateway.intake.connections import (
    FD_RESERVE,
    ConnectionGuard,
    GuardedConnection,
    Throttle,
    connection_cap,
)
from hookgate.gateway.metrics import GatewayMetrics


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTransport:
    written: list[bytes] = field(default_factory=list)
    closed: bool = False
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True
        self.closing.set()


@dataclass(eq=False)
class FakeInner:
    """What the guard forwards to: aiohttp's RequestHandler in the server."""

    received: list[bytes] = field(default_factory=list)
    made: bool = False
    lost: bool = False

    def connection_made(self, transport: Any) -> None:
        self.made = True

    def data_received(self, data: bytes) -> None:
        self.received.append(data)

    def eof_received(self) -> None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


def guard(limit: int = 2, head_timeout: float = 5.0) -> tuple[ConnectionGuard, FakeClock, Counter, Counter]:
    registry = CollectorRegistry()
    refused = Counter("refused", "r", registry=registry)
    timed_out = Counter("timed_out", "t", registry=registry)
    clock = FakeClock()
    return (
        ConnectionGuard(
            "webhooks", limit=limit, head_timeout=head_timeout, refused=refused, timed_out=timed_out, clock=clock
        ),
        clock,
        refused,
        timed_out,
    )


def connect(g: ConnectionGuard) -> tuple[GuardedConnection, FakeTransport, FakeInner]:
    inner = FakeInner()
    conn = g.protocol_factory(lambda: inner)()  # type: ignore[arg-type, return-value]
    assert isinstance(conn, GuardedConnection)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, inner


def value(counter: Counter) -> float:
    return counter._value.get()


def test_beyond_the_cap_a_connection_is_answered_503_and_closed_without_reaching_aiohttp() -> None:
    g, _, refused, _ = guard(limit=2)
    kept = [connect(g) for _ in range(2)]
    assert g.open == 2
    _, transport, inner = connect(g)
    assert transport.closed
    assert not inner.made
    assert transport.written[0].startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b'"error":"overloaded"' in transport.written[0]
    assert value(refused) == 1
    assert g.open == 2
    kept[0][0].connection_lost(None)
    assert kept[0][2].lost
    assert g.open == 1
    _, transport, inner = connect(g)
    assert inner.made
    assert not transport.closed


def test_a_connection_without_a_complete_head_in_time_is_closed() -> None:
    g, clock, _, timed_out = guard(head_timeout=5.0)
    first, first_transport, _ = connect(g)
    clock.now += 3
    _, second_transport, _ = connect(g)
    first.data_received(b"POST /hooks/x HTTP/1.1\r\n")  # a slow head: bytes, but no end of head
    clock.now += 2.5  # the first is 5.5 s old, the second 2.5 s
    assert g.close_late_heads() == 1
    assert first_transport.closed
    assert not second_transport.closed
    assert value(timed_out) == 1
    clock.now += 3
    assert g.close_late_heads() == 1
    assert second_transport.closed


async def test_a_request_being_handled_has_no_head_deadline_and_its_next_head_starts_a_new_one() -> None:
    g, clock, _, _ = guard(head_timeout=5.0)
    conn, transport, inner = connect(g)
    conn.data_received(b"GET /healthz HTTP/1.1\r\n\r\n")
    request: Any = type("Req", (), {"protocol": inner})()

    async def slow_handler(_: Any) -> str:
        clock.now += 60  # the handler takes long: no head is pending meanwhile
        assert g.close_late_heads() == 0
        return "reply"

    assert await g.middleware(request, slow_handler) == "reply"
    assert conn.idle
    clock.now += 30  # idle after the reply: aiohttp's keep-alive timeout applies, not the head deadline
    assert g.close_late_heads() == 0
    assert not transport.closed
    conn.data_received(b"GET /he")  # a next request begins...
    assert inner.received[-1] == b"GET /he"
    clock.now += 5
    assert g.close_late_heads() == 1  # ...and must complete its head in time
    assert transport.closed


async def test_requests_on_connections_the_guard_does_not_watch_pass_through() -> None:
    g, _, _, _ = guard()
    request: Any = type("Req", (), {"protocol": object()})()

    async def handler(_: Any) -> str:
        return "reply"

    assert await g.middleware(request, handler) == "reply"


async def test_the_sweep_runs_while_started() -> None:
    g, clock, _, _ = guard(head_timeout=0.2)
    _, transport, _ = connect(g)
    g.start()
    try:
        clock.now += 1
        async with asyncio.timeout(10):  # the sweep runs every 0.05 s here
            await transport.closing.wait()
    finally:
        await g.stop()
    assert g.close_late_heads() == 0  # swept once, not again


def test_the_metrics_of_a_listener_exist_at_zero_and_follow_the_guard() -> None:
    metrics = GatewayMetrics()
    holder: list[ConnectionGuard] = []
    refused, timed_out = metrics.track_connections("webhooks", lambda: holder[0].open, 2)
    g = ConnectionGuard("webhooks", limit=2, head_timeout=5, refused=refused, timed_out=timed_out)
    holder.append(g)
    get = metrics.registry.get_sample_value
    labels = {"listener": "webhooks"}
    assert get("hookgate_gateway_connections_refused_total", labels) == 0
    assert get("hookgate_gateway_head_timeouts_total", labels) == 0
    assert get("hookgate_gateway_connections_limit", labels) == 2
    for _ in range(3):
        connect(g)
    assert get("hookgate_gateway_connections_open", labels) == 2
    assert get("hookgate_gateway_connections_refused_total", labels) == 1


def test_one_log_line_per_interval_reports_the_events_in_between() -> None:
    clock = FakeClock()
    throttle = Throttle(60, clock)
    assert throttle.hit() == 1
    assert throttle.hit() is None
    assert throttle.hit(3) is None
    clock.now += 60
    assert throttle.hit() == 5


def test_the_connection_cap_stays_below_the_fd_limit() -> None:
    assert connection_cap(1024, None) == 1024 - FD_RESERVE
    assert connection_cap(1024, None, reserved=32) == 1024 - FD_RESERVE - 32
    assert connection_cap(1024, 100) == 100
    assert connection_cap(1024, 5000) == 1024 - FD_RESERVE  # configured above what the fds allow
    assert connection_cap(200, None) == 150  # a small limit keeps a quarter
    assert connection_cap(1_048_576, None) == 1_048_576 - FD_RESERVE


class FakeResource:
    RLIMIT_NOFILE = 7
    RLIM_INFINITY = -1

    def __init__(self, soft: int, hard: int, refuse: bool = False) -> None:
        self.limits = (soft, hard)
        self.refuse = refuse

    def getrlimit(self, which: int, /) -> tuple[int, int]:
        assert which == self.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int], /) -> None:
        assert which == self.RLIMIT_NOFILE
        if self.refuse:
            raise ValueError("not allowed")
        self.limits = limits


def test_the_soft_fd_limit_is_raised_to_the_hard_one() -> None:
    fake = FakeResource(1024, 65536)
    limit = raise_fd_limit(fake)
    assert (limit.soft, limit.hard, limit.before, limit.raised) == (65536, 65536, 1024, True)
    assert fake.limits == (65536, 65536)
    assert open_file_limit(fake) == 65536


def test_an_unlimited_hard_limit_raises_the_soft_one_to_a_number_the_kernel_takes() -> None:
    fake = FakeResource(1024, FakeResource.RLIM_INFINITY)
    limit = raise_fd_limit(fake)
    assert (limit.soft, limit.hard) == (UNLIMITED_FD_TARGET, None)
    assert fake.limits == (UNLIMITED_FD_TARGET, FakeResource.RLIM_INFINITY)


def test_a_refused_raise_keeps_the_soft_limit_and_says_so() -> None:
    fake = FakeResource(1024, 65536, refuse=True)
    limit = raise_fd_limit(fake)
    assert (limit.soft, limit.raised, limit.usable) == (1024, False, 1024)
    already = raise_fd_limit(FakeResource(4096, 4096))
    assert (already.soft, already.raised) == (4096, False)
    unlimited = raise_fd_limit(FakeResource(-1, -1))
    assert (unlimited.soft, unlimited.usable) == (None, UNLIMITED_FD_TARGET)
