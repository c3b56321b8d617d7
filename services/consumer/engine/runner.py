"""The fetch loop: read records, hand each to its workflows, commit what is finished.

- **At least once.** Auto-commit is off. A record's offset counts as finished only when every matching
  workflow succeeded, was deduplicated or was dead-lettered (and the done record / dead letter was
  acknowledged by Kafka); :class:`PartitionOffsets` commits up to the first unfinished record. Commits
  happen every ``commit_interval_seconds``, on partition revocation and on shutdown.
- **Bounded concurrency.** At most ``max_in_flight`` records are read but unfinished; beyond that the
  assigned partitions are paused (the loop keeps polling so the member stays in the group).
- **Order.** Runs of one (partition, workflow, record key) start in offset order (``ordering.py``);
  different keys, partitions and workflows run concurrently.
- **Rebalance.** On revocation, no new attempt starts for the revoked partitions, attempts already running
  finish (their done records are written), backoff waits are abandoned, and what is finished is committed
  before the partitions are given up. On assignment, the dedupe changelog is restored first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.engine.delivery import Deliverer, Job
from hookgate.consumer.engine.offsets import PartitionOffsets
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.state.dedupe import DoneStore
from hookgate.consumer.workflows.workflow import WorkflowSet
from hookgate.core.backoff import RECONNECT
from hookgate.core.envelope import Envelope, EnvelopeError
from hookgate.core.kafka import make_consumer
from hookgate.core.logging import get_logger
from hookgate.core.outage import DependencyWatch

log = get_logger("hookgate.consumer")


def coordinator_known(consumer: AIOKafkaConsumer) -> bool:
    """Whether a started group consumer knows its group coordinator (False while it cannot reach it).

    aiokafka (0.12 to 0.14) has no public API for this: its ``GroupCoordinator`` forgets
    ``coordinator_id`` when the coordinator is unreachable (``coordinator_dead()``), and nothing public
    reflects that. So this reads the two private attributes, without defaults: if aiokafka renames them
    this raises, and ``tests/integration/test_consumer_readiness.py`` fails, instead of readiness
    silently staying true.
    """
    return consumer._coordinator.coordinator_id is not None


@dataclass
class _Partition:
    tp: TopicPartition
    offsets: PartitionOffsets = field(default_factory=PartitionOffsets)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    committed: int | None = None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._runner.on_assigned(assigned)


class Runner:
    """Consumes the configured topics and delivers events to workflows until stopped.

    The deliverer and the done store (None when dedupe is off) are composed by ``consumer/app.py``,
    which also owns the producer behind them; the runner owns only its group consumer. ``watch`` logs
    the broker's outages; the pipeline passes its own, so a process logs each outage once.
    """

    def __init__(
        self,
        config: ConsumerConfig,
        workflows: WorkflowSet,
        metrics: ConsumerMetrics,
        *,
        deliverer: Deliverer,
        dedupe: DoneStore | None,
        watch: DependencyWatch | None = None,
    ) -> None:
        self._config = config
        self._workflows = workflows
        self._metrics = metrics
        self._deliverer = deliverer
        self._dedupe = dedupe
        self._watch = watch if watch is not None else DependencyWatch("kafka")
        self._consumer: AIOKafkaConsumer | None = None
        self._parts: dict[TopicPartition, _Partition] = {}
        self._in_flight = 0
        self._paused: set[TopicPartition] = set()
        self._joined = False
        self._stopping = False

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Ready while connected and a member of the group (an assignment arrived, possibly empty)."""
        if self._stopping:
            return False, {"kafka": "stopping"}
        if self._consumer is None:
            return False, {"kafka": "connecting"}
        if not self._joined:
            return False, {"kafka": "ok", "group": "joining"}
        if not coordinator_known(self._consumer):  # broker down, network cut
            return False, {"kafka": "unreachable", "group": "coordinator unknown"}
        return True, {"kafka": "ok", "group": "member"}

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then finish in-flight work within the grace period and commit."""
        try:
            consumer = await self._connect(stop)
            if consumer is not None:
                await self._loop(consumer, stop)
        finally:
            self._stopping = True
            await self._close()

    async def _close(self) -> None:
        """Stop fetching (pause everything), let running attempts finish, commit, leave the group."""
        consumer = self._consumer
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.pause(*consumer.assignment())
            await self._drain(list(self._parts.values()), self._config.consumer.shutdown_grace_seconds)
            await self._commit(list(self._parts.values()))
            await consumer.stop()
            self._consumer = None
            log.info("consumer_left_group", group=self._config.consumer.group_id)

    async def _connect(self, stop: asyncio.Event) -> AIOKafkaConsumer | None:
        """Subscribe and join the group, retrying until connected; None when ``stop`` was set first."""
        cfg, s = self._config, self._config.consumer
        consumer = make_consumer(
            cfg.kafka,
            group_id=s.group_id,
            session_timeout_ms=s.group.session_timeout_ms,
            heartbeat_interval_ms=s.group.heartbeat_ms(),
            max_poll_interval_ms=s.group.max_poll_interval_ms,
            max_poll_records=min(s.max_in_flight, 500),
            # A pattern picks up a new tenant's topic at the next metadata refresh: keep that short.
            metadata_max_age_ms=10_000 if s.topic_pattern else 300_000,
        )
        listener = _Listener(self)
        pattern = cfg.source_pattern()
        if pattern is not None:
            consumer.subscribe(pattern=pattern, listener=listener)
        else:
            consumer.subscribe(topics=s.topics, listener=listener)
        async for _ in RECONNECT.attempts(stop):
            if stop.is_set():
                break
            try:
                await consumer.start()
            except (KafkaError, OSError) as exc:
                self._watch.down(type(exc).__name__, str(exc) or None)
                continue
            self._consumer = consumer
            return consumer
        return None

    async def _loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        s = self._config.consumer
        next_commit = time.monotonic() + s.commit_interval_seconds
        while not stop.is_set():
            self._apply_backpressure(consumer)
            room = max(1, s.max_in_flight - self._in_flight)
            batches = await consumer.getmany(timeout_ms=200, max_records=room)
            for tp, records in batches.items():
                part = self._parts.get(tp)
                if part is None or part.abort.is_set():
                    # Fetched while the partition was being restored (assignment) or given up (revocation):
                    # read it again later, or leave it to the new owner.
                    with contextlib.suppress(IllegalStateError, AssertionError):
                        consumer.seek(tp, records[0].offset)
                    continue
                last = part.offsets.last_read
                for record in records:
                    if last is None or record.offset > last:  # never hand a record out twice
                        self._dispatch(part, record)
            if time.monotonic() >= next_commit:
                await self._commit(list(self._parts.values()))
                self._observe(consumer)
                next_commit = time.monotonic() + s.commit_interval_seconds

    def _apply_backpressure(self, consumer: AIOKafkaConsumer) -> None:
        full = self._in_flight >= self._config.consumer.max_in_flight
        if full:
            assigned = consumer.assignment() - self._paused
            if assigned:
                consumer.pause(*assigned)
                self._paused |= assigned
        elif self._paused:
            still = self._paused & consumer.assignment()
            if still:
                consumer.resume(*still)
            self._paused.clear()

    # -- records ---------------------------------------------------------------------------------

    def _dispatch(self, part: _Partition, record: ConsumerRecord[bytes, bytes]) -> None:
        """Hand a record to its workflows. Synchronous, so per-key gates are taken in offset order."""
        tp = part.tp
        self._metrics.consumed.labels(tp.topic).inc()
        part.offsets.add(record.offset)
        try:
            event = Envelope.from_record(record.headers, record.value)
        except EnvelopeError as exc:
            self._metrics.invalid.labels(tp.topic).inc()
            log.warning("invalid_record", topic=tp.topic, partition=tp.partition, offset=record.offset, reason=str(exc))
            part.offsets.finish(record.offset)
            return
        workflows = self._workflows.select(event, tp.topic)
        if not workflows:
            part.offsets.finish(record.offset)
            return
        jobs = []
        for wf in workflows:
            self._metrics.matched.labels(wf.name).inc()
            jobs.append(self._deliverer.job(wf, event, record, tp, part.abort))
        self._in_flight += 1
        self._metrics.in_flight.set(self._in_flight)
        task = asyncio.create_task(self._run_record(part, record.offset, jobs))
        part.tasks.add(task)
        task.add_done_callback(part.tasks.discard)

    async def _run_record(self, part: _Partition, offset: int, jobs: list[Job]) -> None:
        deliverer = self._deliverer
        try:
            results = await asyncio.gather(*(deliverer.run(job) for job in jobs), return_exceptions=True)
            for job, res in zip(jobs, results, strict=True):
                if isinstance(res, Exception):
                    # A bug, not a failed attempt: keep the record unfinished (it is redelivered later).
                    job.log.error("delivery_crashed", reason=type(res).__name__, exc_info=res)
            if all(res is True for res in results):
                part.offsets.finish(offset)
        finally:
            self._in_flight -= 1
            self._metrics.in_flight.set(self._in_flight)

    # -- commits and rebalances ------------------------------------------------------------------

    async def _commit(self, parts: list[_Partition]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for part in parts:
            off = part.offsets.committable()
            if off is not None and off != part.committed:
                offsets[part.tp] = OffsetAndMetadata(off, "")
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            for part in parts:
                if part.tp in offsets:
                    part.committed = offsets[part.tp].offset
            self._metrics.commits.labels("ok").inc()
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on; the new owner replays from the last committed offset, and dedupe
            # keeps the replayed runs from happening again.
            self._metrics.commits.labels("failed").inc()
            log.warning("commit_failed", reason=type(exc).__name__)

    def _observe(self, consumer: AIOKafkaConsumer) -> None:
        for part in self._parts.values():
            hw = consumer.highwater(part.tp)
            low = part.offsets.lowest_pending
            if low is None:
                low = part.offsets.committable()
            if hw is not None and low is not None:
                self._metrics.lag.labels(part.tp.topic, str(part.tp.partition)).set(max(0, hw - low))
        if self._dedupe is not None:
            self._metrics.dedupe_entries.set(self._dedupe.entries())

    async def _drain(self, parts: list[_Partition], grace: float) -> None:
        """Abort retries and queued runs; let running attempts finish within ``grace``, then cancel."""
        tasks: set[asyncio.Task[None]] = set()
        for part in parts:
            part.abort.set()
            tasks |= part.tasks
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            # An attempt cut off here may have reached its target without a done record: the next owner
            # runs it again, and the Idempotency-Key lets the target drop the repeat.
            log.warning("drain_timeout", cancelled=len(late), grace_s=grace)
            await asyncio.wait(late)

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        self._metrics.rebalances.labels("revoked").inc()
        parts = [self._parts[tp] for tp in revoked if tp in self._parts]
        await self._drain(parts, self._config.consumer.shutdown_grace_seconds)
        await self._commit(parts)
        for part in parts:
            del self._parts[part.tp]
            self._paused.discard(part.tp)
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(part.tp.topic, str(part.tp.partition))
        self._metrics.assigned.set(len(self._parts))
        log.info("partitions_revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in revoked])

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        self._metrics.rebalances.labels("assigned").inc()
        owned = [*self._parts, *assigned]
        if self._dedupe is not None:
            # No records of these partitions until their dedupe state is restored.
            if self._consumer is not None and assigned:
                self._consumer.pause(*assigned)
            self._dedupe.forget(tp.partition for tp in owned)
            restored = await self._dedupe.restore(tp.partition for tp in assigned)
            self._metrics.dedupe_restored.inc(restored)
            if self._consumer is not None and assigned:
                self._consumer.resume(*assigned)
        for tp in assigned:
            self._parts.setdefault(tp, _Partition(tp))
        self._metrics.assigned.set(len(self._parts))
        self._joined = True
        log.info("partitions_assigned", partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned])
