"""In-memory implementations of the consumer's state protocols, for *unit* tests of the engine.

:class:`MemoryDoneStore` is a :class:`~hookgate.consumer.state.dedupe.DoneStore` and
:class:`MemoryDeadLetters` a :class:`~hookgate.consumer.state.deadletter.DeadLetterSink`; both can be
told to fail their next writes with a ``KafkaError``, as the broker would. Integration and e2e tests use
the real Kafka implementations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from hookgate.consumer.state.deadletter import dead_letter_headers
from hookgate.consumer.state.dedupe import DedupeTable, DoneRecord
from hookgate.consumer.workflows.workflow import ActionResult


class MemoryDoneStore:
    """Done records in one :class:`DedupeTable` per source partition; nothing to restore."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.tables: dict[int, DedupeTable] = {}
        self.written: list[tuple[int, str, DoneRecord]] = []
        self.fail_writes = 0  # the next this many writes raise KafkaError

    def _table(self, partition: int) -> DedupeTable:
        table = self.tables.get(partition)
        if table is None:
            table = self.tables[partition] = DedupeTable(3600.0, 10_000, clock=self._clock)
        return table

    def lookup(self, source_partition: int, key: str) -> DoneRecord | None:
        return self._table(source_partition).get(key)

    async def record(
        self, source_partition: int, key: str, outcome: str, redrive: str | None = None, *, attempts: int | None = None
    ) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise KafkaError("not acknowledged")
        done = DoneRecord(outcome, self._clock(), redrive, attempts)
        self._table(source_partition).add(key, done)
        self.written.append((source_partition, key, done))

    async def restore(self, source_partitions: Iterable[int]) -> int:
        for p in source_partitions:
            self._table(p)
        return 0

    def forget(self, keep_source_partitions: Iterable[int]) -> None:
        keep = set(keep_source_partitions)
        for p in list(self.tables):
            if p not in keep:
                del self.tables[p]

    def entries(self) -> int:
        return sum(len(t) for t in self.tables.values())


@dataclass
class MemoryDeadLetters:
    """Dead letters as the Kafka sink would write them: (key, value, headers)."""

    topic: str = "memory._deadletter"
    letters: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)
    fail_writes: int = 0  # the next this many publishes raise KafkaError
    resolved: list[tuple[str, str, str | None]] = field(default_factory=list)  # (workflow, event id, re-drive)

    async def publish(
        self, record: ConsumerRecord[bytes, bytes], *, workflow: str, result: ActionResult, attempts: int
    ) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise KafkaError("not acknowledged")
        headers = dead_letter_headers(
            record, workflow=workflow, result=result, attempts=attempts, failed_at=time.time()
        )
        self.letters.append((record.key, record.value, headers))

    async def resolve(self, workflow: str, event_id: str, redrive: str | None) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise KafkaError("not acknowledged")
        self.resolved.append((workflow, event_id, redrive))
