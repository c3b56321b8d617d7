"""Reload a config file while a service runs: on SIGHUP, and optionally when the file's content changes.

Both services use this loop (the consumer for its ``workflows:``, the gateway for its ``triggers:``);
what a reload does is theirs (``reload``): re-read and validate the whole file, swap the new set in one
assignment, and on any error log it with the key path and keep the old set.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from hookgate.core.logging import get_logger

log = get_logger("hookgate.reload")

Reload = Callable[[str], Awaitable[object] | object]
"""Called with the reason (``signal`` or ``file_changed``); may be a coroutine function."""


def digest(path: Path) -> bytes | None:
    """The file's content hash, None when it cannot be read (a reload then reports why)."""
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None


def watch_file(
    path: Path, reload: Reload, stop: asyncio.Event, *, interval: float | None = None, name: str = "config-reload"
) -> asyncio.Task[None]:
    """Call ``reload`` on SIGHUP (and every ``interval`` seconds when the content changed) until ``stop``.

    Call from the running loop; the task ends by itself once ``stop`` is set.
    """
    return asyncio.create_task(_watch(path, reload, stop, interval, name), name=name)


async def _watch(path: Path, reload: Reload, stop: asyncio.Event, interval: float | None, name: str) -> None:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    hangups = 0

    def on_hangup() -> None:
        nonlocal hangups
        hangups += 1
        wake.set()

    async def wake_on_stop() -> None:
        await stop.wait()
        wake.set()

    async def run(reason: str) -> None:
        result = reload(reason)
        if inspect.isawaitable(result):
            await result

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    stopper = asyncio.create_task(wake_on_stop())
    current = digest(path)
    log.info(f"{name.replace('-', '_')}_ready", path=str(path), signal="SIGHUP", interval_s=interval)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)
            wake.clear()
            if stop.is_set():
                return
            if hangups:
                hangups = 0
                current = digest(path)
                await run("signal")
            elif interval is not None:
                now = digest(path)
                if now is not None and now != current:
                    current = now
                    await run("file_changed")
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        stopper.cancel()
