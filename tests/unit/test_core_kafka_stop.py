"""``stop_consumer``: aiokafka's own CancelledError from ``stop()`` is swallowed, a real cancellation is not."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from hookgate.core.kafka import stop_consumer


class _StopRaises:
    """Stands in for an AIOKafkaConsumer whose stop() re-raises the CancelledError of a task it cancelled."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.hold = hold
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True
        if self.hold is not None:
            await self.hold.wait()  # a stop that takes long enough to be cancelled from outside
        raise asyncio.CancelledError


async def test_the_clients_own_cancelled_error_is_swallowed() -> None:
    consumer = _StopRaises()
    await stop_consumer(cast(Any, consumer))
    assert consumer.stopped


async def test_a_cancellation_of_the_caller_still_propagates() -> None:
    consumer = _StopRaises(hold=asyncio.Event())
    task = asyncio.create_task(stop_consumer(cast(Any, consumer)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert consumer.stopped
