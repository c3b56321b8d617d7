"""Per-key sequencing: runs of the same (partition, workflow, key) start in the order their records were read.

Each run takes a gate when its record is dispatched (synchronously, so in offset order) and waits for the
gate of the run before it. A run opens its own gate when later events of its key may start: after its
first attempt for an unordered workflow (a failing event then retries in the background while later
ones pass it), or only once it finished for a workflow with ``ordered: true``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable


class KeySequencer:
    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def enter(self, key: Hashable) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
        """(the gate to wait for, or None; this run's own gate)."""
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        before = self._tails.get(key)
        self._tails[key] = mine
        return before, mine

    def release(self, key: Hashable, gate: asyncio.Future[None]) -> None:
        """Open ``gate`` (idempotent) and forget it when no later run waits on it."""
        if not gate.done():
            gate.set_result(None)
        if self._tails.get(key) is gate:
            del self._tails[key]

    def __len__(self) -> int:
        return len(self._tails)
