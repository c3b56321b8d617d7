"""RunningLoop: the running loop, asked for once, and replaced once that loop is closed."""

from __future__ import annotations

import asyncio

from hookgate.core.runtime import RunningLoop


def test_the_loop_is_kept_within_it_and_a_closed_one_is_replaced() -> None:
    loop_of = RunningLoop()

    async def twice() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        return loop_of(), loop_of(), asyncio.get_running_loop()

    first, again, running = asyncio.run(twice())
    assert first is again is running
    second, _, running = asyncio.run(twice())  # asyncio.run closed the first loop
    assert second is running
    assert second is not first
