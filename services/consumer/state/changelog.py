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

Writes are batched: :meth:`DedupeChangelog.record` adds the done record to the batch of its changelog
partition and waits for that batch, and one writer task sends each partition's batch as a single
``send_batch`` (records gather for :data:`WRITE_LINGER`; a round is queued behind the one in flight). A
burst of N finished runs costs a few produce requests instead of N, and every caller still returns only
once *its* record is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from hookgate.consumer.state.dedupe import DedupeTable, DoneRecord
from hookgate.core.kafka import make_consumer
from hookgate.core.logging import get_logger
from hookgate.core.settings import KafkaSettings

log = get_logger("hookgate.consumer")


WRITE_LINGER = 0.01
"""Seconds the writer lets done records gather before it sends a round (fewer, fuller produce requests)."""


@dataclass(eq=False, slots=True)
class _Batch:
    """Done records waiting for the writer, for one changelog partition, and a future per caller.

    A future per caller rather than one shared future: a caller that is cancelled (its partition revoked)
    then cancels only its own wait, never the batch the others wait for; and rather than an
    ``asyncio.Event``, whose waiters remove themselves from a deque one by one (quadratic in a full batch).
    """

    records: list[tuple[str, DoneRecord]] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    error: KafkaError | None = None
    settled: bool = False

    def settle(self, error: KafkaError | None) -> None:
        if self.settled:
            return
        self.settled, self.error = True, error
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)


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
        self._pending: dict[int, _Batch] = {}  # filling, by changelog partition
        self._writing: set[_Batch] = set()  # sent, waiting for the broker
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the writer's, once started

    async def start(self) -> None:
        parts = await self._producer.partitions_for(self.topic)
        self.partitions = len(parts)
        self._reader = make_consumer(self._settings, group_id=None, offset_reset="earliest")  # restore seeks itself
        await self._reader.start()
        self._loop = asyncio.get_running_loop()  # kept: asking for it per record is a getpid system call each
        self._writer = self._loop.create_task(self._write_batches(), name="dedupe-changelog-writer")

    async def stop(self) -> None:
        """Stop the writer and the restore reader; a record still unacknowledged fails with a KafkaError."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            self._wake.set()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            for batch in [*self._writing, *self._pending.values()]:
                batch.settle(KafkaError("the dedupe changelog writer stopped"))
            self._writing, self._pending = set(), {}
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None

    def partition_for(self, source_partition: int) -> int:
        return source_partition % self.partitions

    def lookup(self, source_partition: int, key: str) -> DoneRecord | None:
        """How the run of ``key`` finished; None when it has no (live) entry."""
        table = self._tables.get(self.partition_for(source_partition))
        return table.get(key) if table is not None else None

    async def record(
        self, source_partition: int, key: str, outcome: str, redrive: str | None = None, *, attempts: int | None = None
    ) -> None:
        """Write the done record and wait for the broker's ``acks=all``; raises a KafkaError otherwise.

        ``redrive`` is the id of the re-drive whose run finished (None for an ordinary run); ``attempts``
        the attempts the run made (a ``retrying`` record: so far). The record
        goes out in its partition's next batch; its table entry is added once the batch is acknowledged.
        """
        loop = self._loop
        if self._writer is None or loop is None:
            raise RuntimeError("DedupeChangelog.start() was not awaited")
        part = self.partition_for(source_partition)
        batch = self._pending.get(part)
        if batch is None:
            batch = self._pending[part] = _Batch()
            self._wake.set()
        batch.records.append((key, DoneRecord(outcome, time.time(), redrive, attempts)))
        waiter: asyncio.Future[None] = loop.create_future()
        batch.waiters.append(waiter)
        await waiter
        if batch.error is not None:
            raise batch.error

    async def _write_batches(self) -> None:
        """Send what :meth:`record` queued, a round of per-partition batches every :data:`WRITE_LINGER`.

        A round does not wait for the previous one's acknowledgement: the producer keeps one request per
        partition in flight and queues the next batch behind it, so records that finish while a batch is
        in flight go out the moment it is acknowledged, not a whole round later.
        """
        while True:
            await self._wake.wait()
            await asyncio.sleep(WRITE_LINGER)
            self._wake.clear()
            pending, self._pending = self._pending, {}
            for part, batch in pending.items():
                self._writing.add(batch)
                delivered = await self._send(part, batch)
                if isinstance(delivered, KafkaError):
                    self._writing.discard(batch)
                    batch.settle(delivered)
                    continue
                gathered = asyncio.gather(*delivered)
                gathered.add_done_callback(functools.partial(self._acknowledged, part, batch))

    def _acknowledged(self, part: int, batch: _Batch, gathered: asyncio.Future[list[object]]) -> None:
        """A batch's delivery settled: fill its table entries (in partition order) and wake its callers."""
        self._writing.discard(batch)
        if gathered.cancelled():
            batch.settle(KafkaError("the dedupe changelog write was cancelled"))
            return
        exc = gathered.exception()
        if exc is not None:
            batch.settle(exc if isinstance(exc, KafkaError) else KafkaError(repr(exc)))
            return
        table = self._tables.get(part)
        if table is not None:
            for key, done in batch.records:
                table.add(key, done)
        batch.settle(None)

    async def _send(self, part: int, batch: _Batch) -> list[asyncio.Future[object]] | KafkaError:
        """Hand ``batch`` to the producer as one or more record batches; their delivery futures."""
        producer = self._producer
        futures: list[asyncio.Future[object]] = []
        try:
            builder = producer.create_batch()
            for key, done in batch.records:
                raw_key, value = key.encode(), done.encode()
                if builder.append(key=raw_key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(builder, self.topic, partition=part))
                    builder = producer.create_batch()
                    builder.append(key=raw_key, value=value, timestamp=None)
            futures.append(await producer.send_batch(builder, self.topic, partition=part))
        except KafkaError as exc:
            for fut in futures:
                fut.add_done_callback(_consume)
            return exc
        return futures

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


def _consume(fut: asyncio.Future[object]) -> None:
    """Retrieve a delivery result nobody awaits (its batch already failed), so asyncio does not warn."""
    if not fut.cancelled():
        fut.exception()
