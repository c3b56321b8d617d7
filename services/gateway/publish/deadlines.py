"""Deadlines for many waiting futures on one timer.

Every published event waits for its acknowledgement under a deadline. ``asyncio.timeout`` per request
arms and cancels an event-loop timer each time, which was 5-7 % of the gateway's CPU under load;
almost all of those timers are cancelled unfired because Kafka answers in milliseconds. Here the
deadlines sit in a heap and a single timer is armed for the earliest: a future still pending when its
deadline passes gets :class:`DeadlinePassed` set as its exception; one that finished is just dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from typing import Any

from hookgate.core.runtime import RunningLoop

# A loop timer may fire up to its clock resolution early; a deadline this close is treated as passed
# rather than re-arming the timer for the remaining sliver.
_SLACK = 0.001


class DeadlinePassed(Exception):
    """Set on a future whose deadline passed before it finished."""


class Deadlines:
    """Expires futures at their deadlines; one loop timer, armed for the earliest pending one."""

    __slots__ = ("_heap", "_loop", "_seq", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[Any]]] = []
        self._seq = itertools.count()  # ties on the deadline never compare futures
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._loop = RunningLoop()

    def __len__(self) -> int:
        """Deadlines held (finished futures are dropped lazily, when they reach the front)."""
        return len(self._heap)

    def add(self, future: asyncio.Future[Any], timeout: float) -> None:
        """Fail ``future`` with :class:`DeadlinePassed` unless it is done within ``timeout`` seconds."""
        loop = self._loop()
        when = loop.time() + timeout
        heap = self._heap
        while heap and heap[0][2].done():  # keep the heap as short as the futures still waiting
            heapq.heappop(heap)
        heapq.heappush(heap, (when, next(self._seq), future))
        if when < self._timer_at:
            self._arm(loop, when)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire, loop)
        self._timer_at = when

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._timer_at = None, math.inf
        now = loop.time() + _SLACK
        heap = self._heap
        while heap and (heap[0][0] <= now or heap[0][2].done()):
            future = heapq.heappop(heap)[2]
            if not future.done():
                future.set_exception(DeadlinePassed())
        if heap:
            self._arm(loop, heap[0][0])
