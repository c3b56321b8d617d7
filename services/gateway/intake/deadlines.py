"""Reading a request body against its deadline and a minimum transfer rate.

A client that trickles its body (one byte every few seconds) would otherwise hold its connection,
its buffer and its place among the requests being read for as long as it likes. Two bounds cut it:

- the whole body must arrive within ``body_timeout_seconds`` of the head (reason ``body_timeout``);
- once ``body_rate_grace_seconds`` have passed, the bytes received so far must average at least
  ``min_body_bytes_per_second`` since the body started (reason ``body_too_slow``).

:class:`BodyDeadline` is the arithmetic, pure over an injected clock; :func:`timed_chunks` applies it
to an aiohttp body stream. Bytes already buffered are taken without any timer, so a body that arrived
with its head (nearly every webhook) costs nothing here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import StreamReader

from hookgate.gateway.intake.limits import LimitSettings

Clock = Callable[[], float]

BODY_TIMEOUT = "body_timeout"
BODY_TOO_SLOW = "body_too_slow"


@dataclass(frozen=True, slots=True)
class BodyTiming:
    """The body bounds of ``gateway.limits``; ``min_rate`` 0 switches the rate check off."""

    timeout: float
    min_rate: float
    grace: float

    @classmethod
    def from_limits(cls, limits: LimitSettings) -> BodyTiming:
        return cls(limits.body_timeout_seconds, float(limits.min_body_bytes_per_second), limits.body_rate_grace_seconds)


DEFAULT_TIMING = BodyTiming.from_limits(LimitSettings())


class BodyTooSlow(Exception):
    """The body missed its deadline or fell below the minimum rate; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyDeadline:
    """When a body that started at ``start`` is too late or too slow, given the bytes received so far."""

    __slots__ = ("_start", "_timing")

    def __init__(self, timing: BodyTiming, start: float) -> None:
        self._timing = timing
        self._start = start

    def violation(self, received: int, now: float) -> str | None:
        """``body_timeout`` or ``body_too_slow`` when the body is cut at ``now``, else ``None``."""
        elapsed = now - self._start
        timing = self._timing
        if elapsed >= timing.timeout:
            return BODY_TIMEOUT
        if timing.min_rate > 0 and elapsed >= timing.grace and received < timing.min_rate * elapsed:
            return BODY_TOO_SLOW
        return None

    def wait(self, received: int, now: float) -> float:
        """Seconds the reader may wait for more bytes before the body is cut (<= 0: cut now)."""
        timing = self._timing
        limit = timing.timeout
        if timing.min_rate > 0:
            # Without more bytes the average falls below the minimum at received / min_rate.
            limit = min(limit, max(timing.grace, received / timing.min_rate))
        return self._start + limit - now


async def timed_chunks(
    stream: StreamReader, timing: BodyTiming, chunk_size: int, clock: Clock | None = None
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive (at most ``chunk_size`` bytes each); raises :class:`BodyTooSlow`
    as soon as the body misses its deadline or falls below the minimum rate."""
    # The loop's clock, not time.monotonic: the wait below is timed by the loop, whose timer (in whole
    # milliseconds on uvloop) may end it a hair before time.monotonic says the deadline passed, and the
    # check the moment it ends must then still name the deadline that ended it.
    now = clock if clock is not None else asyncio.get_running_loop().time
    deadline = BodyDeadline(timing, now())
    received = 0
    while True:
        chunk = stream.read_nowait(chunk_size)
        if not chunk:
            if stream.at_eof():
                return
            wait = deadline.wait(received, now())
            if wait <= 0:
                raise BodyTooSlow(deadline.violation(received, now()) or BODY_TIMEOUT)
            try:
                async with asyncio.timeout(wait):
                    chunk = await stream.read(chunk_size)
            except TimeoutError:
                raise BodyTooSlow(deadline.violation(received, now()) or BODY_TIMEOUT) from None
            if not chunk:
                return
        received += len(chunk)
        if not stream.is_eof():
            # Still arriving: a client that keeps the buffer filled, but too slowly for the deadline, is cut too.
            late = deadline.violation(received, now())
            if late is not None:
                raise BodyTooSlow(late)
        yield chunk
