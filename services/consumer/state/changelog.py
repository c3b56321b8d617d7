"""The dedupe store, kept in Kafka: a changelog topic co-partitioned with the source, as Kafka Streams does.

Topic ``{prefix}._dedupe.{group}`` (named in ``core/topics.py``), one per consumer group,
``cleanup.policy=compact,delete`` with ``retention.ms`` = the dedupe retention. Key ``{workflow}:{event id}``,
value a :class:`DoneRecord` (outcome, time, re-drive id); a re-run after a re-drive overwrites the key's
earlier record.
A record of source partition ``p`` keeps its state in changelog partition ``p % N`` (N = the changelog's
partition count), and since a key always lands in the same source partition, the replica that owns a
source partition owns every run of its events. On assignment the replica reads the changelog partitions
it needs to their end before processing (restore); after a workflow finished, its done record is written
(``acks=all``, idempotent producer) before the source offset may be committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hookgate.consumer.state.dedupe import DedupeTable, DoneRecord
from hookgate.core.kafka import make_consumer
from hookgate.core.logging import get_logger
from hookgate.core.settings import KafkaSettings

log = get_logger("hookgate.consumer")


class DedupeChangelog:
    """The Kafka :class:`~hookgate.consumer.state.dedupe.DoneStore`: in-memory tables restored from, and
    written through to, the changelog topic. The producer is shared and owned by the caller (``app.py``)."""

    def __init__(
        self,
        settings: KafkaSettings,
        producer: AIOKafkaProducer,
        topic: str,
        table: Callable[[], DedupeTable],
    ) -> None:
        self._settings = settings
        self._producer = producer
        self.topic = topic
        self._new_table = table
        self._tables: dict[int, DedupeTable] = {}
        self._positions: dict[int, int] = {}
        self._reader: AIOKafkaConsumer | None = None
        self.partitions = 0

    async def start(self) -> None:
        parts = await self._producer.partitions_for(self.topic)
        self.partitions = len(parts)
        self._reader = make_consumer(self._settings, group_id=None)
        await self._reader.start()

    async def stop(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None

    def partition_for(self, source_partition: int) -> int:
        return source_partition % self.partitions

    def lookup(self, source_partition: int, key: str) -> DoneRecord | None:
        """How the run of ``key`` finished; None when it has no (live) entry."""
        table = self._tables.get(self.partition_for(source_partition))
        return table.get(key) if table is not None else None

    async def record(self, source_partition: int, key: str, outcome: str, redrive: str | None = None) -> None:
        """Write the done record and wait for the broker's ``acks=all``; raises a KafkaError otherwise.

        ``redrive`` is the id of the re-drive whose run finished (None for an ordinary run).
        """
        part = self.partition_for(source_partition)
        done = DoneRecord(outcome, time.time(), redrive)
        await self._producer.send_and_wait(self.topic, value=done.encode(), key=key.encode(), partition=part)
        table = self._tables.get(part)
        if table is not None:
            table.add(key, done)

    def entries(self) -> int:
        return sum(len(t) for t in self._tables.values())

    async def restore(self, source_partitions: Iterable[int]) -> int:
        """Read the changelog partitions of ``source_partitions`` to their current end; returns records read.

        Called on every assignment: a partition loaded before is caught up from where this replica left
        it, which picks up what the previous owner wrote before it gave the source partition up.
        """
        reader = self._reader
        if reader is None:
            raise RuntimeError("DedupeChangelog.start() was not awaited")
        needed = sorted({self.partition_for(p) for p in source_partitions})
        if not needed:
            return 0
        tps = [TopicPartition(self.topic, p) for p in needed]
        reader.assign(tps)
        for tp in tps:
            if tp.partition in self._positions:
                reader.seek(tp, self._positions[tp.partition])
            else:
                self._tables[tp.partition] = self._new_table()
                await reader.seek_to_beginning(tp)
        ends: dict[TopicPartition, int] = await reader.end_offsets(tps)
        count = 0
        started = time.perf_counter()
        remaining = {tp for tp in tps if await reader.position(tp) < ends[tp]}
        while remaining:
            batches = await reader.getmany(*remaining, timeout_ms=500)
            for tp, records in batches.items():
                table = self._tables[tp.partition]
                for rec in records:
                    count += 1
                    if rec.key is None:
                        continue
                    key = rec.key.decode(errors="replace")
                    if rec.value is None:
                        table.remove(key)
                        continue
                    done = DoneRecord.decode(rec.value)
                    if done is not None:
                        table.add(key, done)
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        for tp in tps:
            self._positions[tp.partition] = await reader.position(tp)
        log.info(
            "dedupe_restored",
            partitions=needed,
            records=count,
            entries=self.entries(),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return count

    def forget(self, keep_source_partitions: Iterable[int]) -> None:
        """Drop the tables no owned source partition maps to any more (bounds memory after a rebalance)."""
        keep = {self.partition_for(p) for p in keep_source_partitions}
        for part in list(self._tables):
            if part not in keep:
                del self._tables[part]
                self._positions.pop(part, None)
