"""Exponential backoff with jitter and a cap, and waits that end early when told to stop.

The one implementation of "wait longer after each failure" in hookgate: the reconnect loops (gateway
publisher and audit topic, consumer start-up), the consumer's writes of done records and dead letters,
and the delays the consumer's retry policy puts between workflow attempts (``consumer/engine/retry.py``).

Delays double from ``base`` up to ``cap`` with "equal jitter": uniform in [d/2, d]. Half the delay is
guaranteed, so a dead dependency is not hammered; the random half spreads the retries of many clients
(or events) that failed together. The random source is injected so tests can pin it.

A loop that retries reads::

    async for attempt in RECONNECT.attempts(stop):
        try:
            await connect()
        except KafkaError as exc:
            log.warning("connect_failed", reason=type(exc).__name__, retry_in_s=attempt.delay)
            continue
        break
    else:
        return  # stop was set while waiting

The first attempt starts at once; each later one after the previous attempt's ``delay``, unless ``stop``
is set first (then the iteration ends). Cancelling the task interrupts a wait at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

Rand = Callable[[], float]
"""A source of floats in [0, 1), such as :func:`random.random`."""


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Rand = random.random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``base * 2**(attempt-1)``, at most
    ``cap``, with equal jitter (uniform in [d/2, d])."""
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 60))
    return float(ceiling / 2 + rand() * ceiling / 2)


async def pause(delay: float, stop: asyncio.Event | None = None) -> bool:
    """Sleep ``delay`` seconds; False (at once) when ``stop`` is set before or during the sleep."""
    if stop is None:
        await asyncio.sleep(delay)
        return True
    if stop.is_set():
        return False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay):
            await stop.wait()
    return not stop.is_set()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a retried operation: its number (1-based) and the wait before the next try if it fails."""

    number: int
    delay: float


@dataclass(frozen=True, slots=True)
class Backoff:
    """Backoff parameters: the first delay, the cap, and the random source of the jitter."""

    base: float
    cap: float
    rand: Rand = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("backoff needs 0 < base <= cap")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return backoff_delay(attempt, base=self.base, cap=self.cap, rand=self.rand)

    def attempts(self, stop: asyncio.Event | None = None) -> Attempts:
        """Attempts without end, each after the previous one's delay; ends when ``stop`` is set during a wait."""
        return Attempts(self, stop)


class Attempts:
    """The async iterator of :meth:`Backoff.attempts` (a class, not a generator: leaving it early with
    ``break`` leaves nothing to finalize)."""

    def __init__(self, backoff: Backoff, stop: asyncio.Event | None) -> None:
        self._backoff = backoff
        self._stop = stop
        self._last: Attempt | None = None

    def __aiter__(self) -> Attempts:
        return self

    async def __anext__(self) -> Attempt:
        # The first attempt is unconditional: a caller that must try once (a done record after a
        # successful action, even while the partition is being given up) gets that try.
        last = self._last
        if last is not None and not await pause(last.delay, self._stop):
            raise StopAsyncIteration
        number = 1 if last is None else last.number + 1
        self._last = Attempt(number, self._backoff.delay(number))
        return self._last


RECONNECT = Backoff(base=0.2, cap=5.0)
"""Connecting to Kafka (producers, topic creation, the consumer group): quick at first, every few seconds later."""
