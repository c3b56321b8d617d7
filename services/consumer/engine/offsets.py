"""Which offset of a partition may be committed: the end of the contiguous run of finished records.

Records of a partition finish out of order (a failing event retries while later ones succeed), but a
Kafka commit says "everything below this offset is done". :class:`PartitionOffsets` therefore commits
only up to the first record that is still pending, so a crash replays every unfinished record.
"""

from __future__ import annotations

from collections import deque


class PartitionOffsets:
    """Offsets of one partition in flight, in the order they were read."""

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._done: set[int] = set()
        self._frontier: int | None = None
        self._last: int | None = None

    def add(self, offset: int) -> None:
        """A record was read and handed to the workflows; offsets arrive in increasing order."""
        if self._last is not None and offset <= self._last:
            raise ValueError(f"offset {offset} read out of order (last {self._last})")
        self._last = offset
        self._pending.append(offset)

    def finish(self, offset: int) -> None:
        """Every workflow of the record at ``offset`` succeeded, was deduplicated or dead-lettered."""
        self._done.add(offset)
        while self._pending and self._pending[0] in self._done:
            first = self._pending.popleft()
            self._done.discard(first)
            self._frontier = first + 1

    def committable(self) -> int | None:
        """The offset to commit (the next record to read after a restart), or None before any record finished."""
        return self._frontier

    @property
    def in_flight(self) -> int:
        """Records read but not yet finished."""
        return len(self._pending) - len(self._done)

    @property
    def last_read(self) -> int | None:
        return self._last

    @property
    def lowest_pending(self) -> int | None:
        return self._pending[0] if self._pending else None
