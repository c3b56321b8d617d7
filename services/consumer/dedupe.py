"""The dedupe table: which (workflow, event id) pairs are already finished.

One :class:`DedupeTable` mirrors one partition of the group's dedupe changelog topic (see
``dedupe_changelog.py``). Memory is bounded two ways: entries older than ``retention_seconds`` are
dropped (the topic uses the same ``retention.ms``), and past ``max_entries`` the oldest entries are
evicted first. An evicted or expired pair would run again if its event were redelivered, so retention
must exceed the longest replay or sender-retry window one cares about. Pure: the clock is injected.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson

OUTCOMES = ("succeeded", "deadlettered")


def dedupe_key(workflow: str, event_id: str) -> str:
    """The changelog key of one workflow run; workflow names cannot contain ``:``, so this is unambiguous."""
    return f"{workflow}:{event_id}"


@dataclass(frozen=True, slots=True)
class DoneRecord:
    """The changelog value: how the run finished and when (seconds since the epoch)."""

    outcome: str
    at: float

    def encode(self) -> bytes:
        return orjson.dumps({"outcome": self.outcome, "at": self.at})

    @classmethod
    def decode(cls, raw: bytes) -> DoneRecord | None:
        """None when the value is not a done record (a foreign or corrupt write is ignored, not fatal)."""
        try:
            data = orjson.loads(raw)
            outcome, at = data["outcome"], float(data["at"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return cls(outcome, at) if outcome in OUTCOMES else None


class DedupeTable:
    """Finished runs of one changelog partition, oldest first."""

    def __init__(self, retention_seconds: float, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self._retention = retention_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, float] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, at: float) -> None:
        """Remember a finished run; ignored when already past retention."""
        now = self._clock()
        if at < now - self._retention:
            return
        self._entries[key] = at
        self._entries.move_to_end(key)
        self._expire(now)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self.evicted += 1

    def remove(self, key: str) -> None:
        """A tombstone in the changelog: the run may happen again."""
        self._entries.pop(key, None)

    def __contains__(self, key: object) -> bool:
        at = self._entries.get(key) if isinstance(key, str) else None
        if at is None:
            return False
        if at < self._clock() - self._retention:
            del self._entries[key]  # type: ignore[arg-type]
            return False
        return True

    def _expire(self, now: float) -> None:
        # Entries are appended in (roughly) time order, so expired ones sit at the front.
        cutoff = now - self._retention
        while self._entries:
            key, at = next(iter(self._entries.items()))
            if at >= cutoff:
                return
            del self._entries[key]
