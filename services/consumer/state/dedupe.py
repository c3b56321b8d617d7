"""The dedupe table: which (workflow, event id) pairs are already finished, and how.

:class:`DoneStore` is what the engine asks (look a run up, record how it finished, restore on
assignment); ``changelog.py`` implements it on Kafka. One :class:`DedupeTable` mirrors one partition of
the group's dedupe changelog topic. Each entry keeps its :class:`DoneRecord` (outcome, time, and the
re-drive that produced it, if any), so a re-drive can tell a dead-lettered run from a succeeded one
(``redrive.py``). Memory is bounded two ways: entries older than ``retention_seconds`` are
dropped (the topic uses the same ``retention.ms``), and past ``max_entries`` the oldest entries are
evicted first (reported through ``on_evict``: ``hookgate_consumer_dedupe_evictions_total``). An evicted
or expired pair would run again if its event were redelivered, so retention must exceed the longest
replay or sender-retry window one cares about. Pure: the clock is injected.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import orjson

SUCCEEDED = "succeeded"
DEADLETTERED = "deadlettered"
RETRYING = "retrying"  # not finished: an attempt failed and another is due (the count survives a restart)
FINISHED = (SUCCEEDED, DEADLETTERED)
OUTCOMES = (*FINISHED, RETRYING)
# Decoded outcomes are mapped to these constants, so a table of 100,000 entries holds two strings.
_OUTCOME = {o: o for o in OUTCOMES}


def dedupe_key(workflow: str, event_id: str) -> str:
    """The changelog key of one workflow run; workflow names cannot contain ``:``, so this is unambiguous."""
    return f"{workflow}:{event_id}"


@dataclass(frozen=True, slots=True)
class DoneRecord:
    """The changelog value: how the run finished, when (seconds since the epoch), and by which re-drive.

    ``redrive`` is the id of the re-drive (``hookgate_redrive`` header) whose run wrote this record, None
    for an ordinary run; records written before re-drives existed decode with None. ``attempts`` is how
    many attempts the run made so far (None in records written before it was kept). An entry whose
    outcome is ``retrying`` is not finished: it only carries the attempt count to whichever process
    continues the run (an older consumer ignores such entries: it does not know the outcome).
    """

    outcome: str
    at: float
    redrive: str | None = None
    attempts: int | None = None

    @property
    def finished(self) -> bool:
        """Succeeded or dead-lettered (a ``retrying`` entry is not)."""
        return self.outcome != RETRYING

    def encode(self) -> bytes:
        doc: dict[str, object] = {"outcome": self.outcome, "at": self.at}
        if self.redrive is not None:
            doc["redrive"] = self.redrive
        if self.attempts is not None:
            doc["attempts"] = self.attempts
        return orjson.dumps(doc)

    @classmethod
    def decode(cls, raw: bytes) -> DoneRecord | None:
        """None when the value is not a done record (a foreign or corrupt write is ignored, not fatal)."""
        try:
            data = orjson.loads(raw)
            outcome, at = _OUTCOME[data["outcome"]], float(data["at"])
            redrive = data.get("redrive")
            attempts = data.get("attempts")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None
        return cls(
            outcome,
            at,
            redrive if isinstance(redrive, str) else None,
            attempts if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts > 0 else None,
        )


class DoneStore(Protocol):
    """Finished runs, by source partition: the dedupe state the engine reads and writes.

    ``source_partition`` is the partition of the event's record; a store keeps the runs of every source
    partition this replica owns, and :meth:`restore` loads them when partitions are assigned.
    """

    def lookup(self, source_partition: int, key: str) -> DoneRecord | None:
        """How the run of ``key`` (:func:`dedupe_key`) finished; None when it has no (live) entry."""
        ...

    async def record(
        self, source_partition: int, key: str, outcome: str, redrive: str | None = None, *, attempts: int | None = None
    ) -> None:
        """Remember durably how a run finished (or, ``retrying``, how many attempts it made so far); raises
        (a KafkaError in production) when it could not."""
        ...

    async def restore(self, source_partitions: Iterable[int]) -> int:
        """Load the state of newly assigned source partitions; returns the records read."""
        ...

    def forget(self, keep_source_partitions: Iterable[int]) -> None:
        """Drop the state no owned source partition needs any more."""
        ...

    def entries(self) -> int:
        """Finished runs held in memory."""
        ...


class DedupeTable:
    """Finished runs of one changelog partition (key -> its latest :class:`DoneRecord`), oldest first."""

    def __init__(
        self,
        retention_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.time,
        on_evict: Callable[[], None] = lambda: None,
    ) -> None:
        self._retention = retention_seconds
        self._max = max_entries
        self._clock = clock
        self._on_evict = on_evict
        self._entries: OrderedDict[str, DoneRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, done: DoneRecord) -> None:
        """Remember how a run finished (the latest record of a key wins); ignored when already past retention."""
        now = self._clock()
        if done.at < now - self._retention:
            return
        self._entries[key] = done
        self._entries.move_to_end(key)
        self._expire(now)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self._on_evict()

    def remove(self, key: str) -> None:
        """A tombstone in the changelog: the run may happen again."""
        self._entries.pop(key, None)

    def get(self, key: str) -> DoneRecord | None:
        """How the run of ``key`` finished; None when it did not (or its entry expired or was evicted)."""
        done = self._entries.get(key)
        if done is None:
            return None
        if done.at < self._clock() - self._retention:
            del self._entries[key]
            return None
        return done

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def _expire(self, now: float) -> None:
        # Entries are appended in (roughly) time order, so expired ones sit at the front.
        cutoff = now - self._retention
        while self._entries:
            key, done = next(iter(self._entries.items()))
            if done.at >= cutoff:
                return
            del self._entries[key]
