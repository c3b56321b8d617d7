from __future__ import annotations

import asyncio

import pytest

from hookgate.core.backoff import RECONNECT, Attempt, Backoff, backoff_delay, pause


def test_delays_double_up_to_the_cap_with_equal_jitter() -> None:
    top = Backoff(base=0.5, cap=4.0, rand=lambda: 1.0)
    assert [top.delay(n) for n in (1, 2, 3, 4, 5, 60, 1000)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    bottom = Backoff(base=0.5, cap=4.0, rand=lambda: 0.0)
    assert [bottom.delay(n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert backoff_delay(3, base=1.0, cap=10.0, rand=lambda: 0.5) == 3.0


def test_the_default_random_source_stays_inside_the_jitter_band() -> None:
    for n in range(1, 12):
        d = RECONNECT.delay(n)
        ceiling = min(RECONNECT.cap, RECONNECT.base * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="counted from 1"):
        backoff_delay(0, base=1.0, cap=2.0)
    with pytest.raises(ValueError, match="base <= cap"):
        Backoff(base=2.0, cap=1.0)
    with pytest.raises(ValueError, match="base <= cap"):
        Backoff(base=0.0, cap=1.0)


async def test_pause_sleeps_the_delay_without_a_stop_event() -> None:
    assert await pause(0.0) is True
    stop = asyncio.Event()
    assert await pause(0.001, stop) is True


async def test_pause_returns_false_when_stop_is_set_before_or_during_the_wait() -> None:
    stop = asyncio.Event()
    stop.set()
    assert await pause(3600, stop) is False

    stop = asyncio.Event()
    waiting = asyncio.create_task(pause(3600, stop))
    await asyncio.sleep(0)
    assert not waiting.done()
    stop.set()
    assert await asyncio.wait_for(waiting, 30) is False


async def test_cancelling_a_pause_cancels_it() -> None:
    for stop in (None, asyncio.Event()):
        waiting = asyncio.create_task(pause(3600, stop))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 30)


async def test_attempts_follow_the_backoff_until_the_caller_stops() -> None:
    b = Backoff(base=0.001, cap=0.004, rand=lambda: 1.0)
    seen = []
    async for attempt in b.attempts():
        seen.append(attempt)
        if attempt.number == 5:
            break
    assert seen == [Attempt(1, 0.001), Attempt(2, 0.002), Attempt(3, 0.004), Attempt(4, 0.004), Attempt(5, 0.004)]


async def test_attempts_end_when_stop_is_set_during_a_wait_but_the_first_always_runs() -> None:
    stop = asyncio.Event()
    stop.set()
    numbers = [a.number async for a in Backoff(base=1.0, cap=1.0).attempts(stop)]
    assert numbers == [1]  # the first try is unconditional; the wait after it sees the stop

    stop = asyncio.Event()
    numbers = []

    async def loop() -> None:
        async for attempt in Backoff(base=3600.0, cap=3600.0).attempts(stop):
            numbers.append(attempt.number)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    assert numbers == [1]
    stop.set()
    await asyncio.wait_for(task, 30)
    assert numbers == [1]
