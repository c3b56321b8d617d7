"""Deadlines on one timer: late futures fail with DeadlinePassed, finished ones are left alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hookgate.gateway.publish.deadlines import DeadlinePassed, Deadlines


def new_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


async def test_a_future_still_waiting_at_its_deadline_fails_and_a_finished_one_keeps_its_result() -> None:
    deadlines = Deadlines()
    late, early = new_future(), new_future()
    deadlines.add(late, 0.02)
    deadlines.add(early, 0.02)
    early.set_result("ack")
    with pytest.raises(DeadlinePassed):
        await late
    assert early.result() == "ack"


async def test_a_shorter_deadline_added_later_expires_first() -> None:
    deadlines = Deadlines()
    long, short = new_future(), new_future()
    deadlines.add(long, 30)
    deadlines.add(short, 0.01)
    with pytest.raises(DeadlinePassed):
        await short
    assert not long.done()
    long.set_result("ack")  # finished before its deadline: it is left alone when the timer reaches it


async def test_each_future_expires_at_its_own_deadline() -> None:
    deadlines = Deadlines()
    futures = [new_future() for _ in range(3)]
    for i, fut in enumerate(futures):
        deadlines.add(fut, 0.01 * (i + 1))
    for fut in futures:
        with pytest.raises(DeadlinePassed):
            await fut
    assert len(deadlines) == 0


async def test_finished_futures_leave_the_heap_as_new_deadlines_arrive() -> None:
    deadlines = Deadlines()
    for _ in range(100):
        fut = new_future()
        deadlines.add(fut, 30)
        fut.set_result(None)
    assert len(deadlines) == 1  # each add dropped the finished ones before it
    cancelled = new_future()
    deadlines.add(cancelled, 0.01)
    cancelled.cancel()  # a cancelled future is done: expiring it must not raise
    await asyncio.sleep(0.05)
    assert len(deadlines) == 0  # the timer dropped it without touching the cancelled future
