"""Process entry helpers: the event loop (uvloop when installed), SIGTERM/SIGINT handling, and the
file-descriptor limit."""

from __future__ import annotations

import asyncio
import gc
import resource
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

UNLIMITED_FD_TARGET = 1_048_576
"""The soft limit asked for when the hard limit is unlimited (no kernel takes "unlimited" open files)."""


class RLimits(Protocol):
    """What :func:`raise_fd_limit` uses of the :mod:`resource` module."""

    RLIMIT_NOFILE: int
    RLIM_INFINITY: int

    def getrlimit(self, resource: int, /) -> tuple[int, int]: ...

    def setrlimit(self, resource: int, limits: tuple[int, int], /) -> None: ...


@dataclass(frozen=True, slots=True)
class FdLimit:
    """``RLIMIT_NOFILE`` after :func:`raise_fd_limit`: the soft limit in effect, the hard one, and the soft
    one found at start (``None``: unlimited)."""

    soft: int | None
    hard: int | None
    before: int | None

    @property
    def raised(self) -> bool:
        return self.soft != self.before

    @property
    def usable(self) -> int:
        """The soft limit as a number of files (:data:`UNLIMITED_FD_TARGET` when unlimited)."""
        return UNLIMITED_FD_TARGET if self.soft is None else self.soft


def raise_fd_limit(rlimits: RLimits = resource) -> FdLimit:
    """Raise the soft open-file limit to the hard one, where the system allows it.

    Every client connection is a file descriptor: a default soft limit of 1024 is reached by a modest
    number of idle sockets. A refusal (a hard limit above what the kernel takes) keeps the soft limit
    as it was. ``rlimits`` is the :mod:`resource` module (a stand-in in tests).
    """
    infinity = rlimits.RLIM_INFINITY
    soft, hard = rlimits.getrlimit(rlimits.RLIMIT_NOFILE)

    def known(value: int) -> int | None:
        return None if value == infinity else int(value)

    before, ceiling = known(soft), known(hard)
    if before is None:
        return FdLimit(None, ceiling, None)
    target = UNLIMITED_FD_TARGET if ceiling is None else ceiling
    if before >= target:
        return FdLimit(before, ceiling, before)
    try:
        rlimits.setrlimit(rlimits.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return FdLimit(before, ceiling, before)
    return FdLimit(target, ceiling, before)


def open_file_limit(rlimits: RLimits = resource) -> int:
    """The soft open-file limit now, as a number of files (:data:`UNLIMITED_FD_TARGET` when unlimited)."""
    soft, _ = rlimits.getrlimit(rlimits.RLIMIT_NOFILE)
    return UNLIMITED_FD_TARGET if soft == rlimits.RLIM_INFINITY else int(soft)


GC_THRESHOLD = (10_000, 10, 10)
"""The collector's thresholds once a service is up (Python's default is 700, 10, 10)."""


def freeze_startup_heap() -> None:
    """Once a service is up: collect the start-up garbage, exempt what is left from the collector, and
    run the youngest generation's collection every 10 000 allocations instead of every 700.

    Modules, classes, config models and the application built at start live as long as the process, yet
    every full (generation 2) collection walks all of them again: under load on the gateway that was a
    100-250 ms stop of every request on the shared development machine (measured with ``gc.callbacks``),
    against about 1 ms once the start-up objects are frozen. Objects made later are collected as always.

    The threshold: a request's or an event's objects are freed by reference counting (the consumer's
    collections found nothing to collect in 60 000 events), but at 700 a collection ran every 40 events
    and walked the objects of every run still in flight, then again in generation 1: 10-14 us of the
    consumer's 90-140 us per event went to the collector, against 3 us at 10 000.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


class RunningLoop:
    """The running event loop, asked for once and kept: ``asyncio.get_running_loop()`` checks the loop's
    owner with a ``getpid`` system call on every call (CPython 3.11; glibc no longer caches the pid), and
    the hot paths would ask for it per request or per event. Call it from inside the loop; a closed loop
    (a test's previous one) is replaced by the running one."""

    __slots__ = ("_loop",)

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop


def run(main: Callable[[asyncio.Event], Coroutine[Any, Any, int]]) -> int:
    """Run ``main(stop)`` to completion; ``stop`` is set on the first SIGTERM or SIGINT.

    A second signal while shutting down cancels the main task, so an operator can always end a hang.
    """

    async def wrapper() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.current_task()

        def on_signal() -> None:
            if stop.is_set() and task is not None:
                task.cancel()
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            return await main(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            return runner.run(wrapper())
        except asyncio.CancelledError:
            return 130
