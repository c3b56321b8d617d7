"""The fetch loop: read records, hand each to its workflows, commit what is finished.

- **At least once.** Auto-commit is off. A record's offset counts as finished only when every matching
  workflow succeeded, was deduplicated or was dead-lettered (and the done record / dead letter was
  acknowledged by Kafka); :class:`PartitionOffsets` commits up to the first unfinished record. Commits
  happen every ``commit_interval_seconds``, on partition revocation and on shutdown.
- **Bounded concurrency.** At most ``max_in_flight`` records of the process, and at most
  ``max_in_flight_per_partition`` of one partition, are handed to workflows and unfinished. Records
  fetched beyond that wait in their partition's backlog; a partition whose backlog reaches its in-flight
  limit is not read until it drains (what the fetcher holds for it stays there, and nothing more is
  fetched for it). When in-flight plus backlog records reach ``max_in_flight`` the loop stops reading
  until a quarter of that has finished; it does not pause the partitions, because aiokafka drops what it
  prefetched for a paused partition (up to ``max_partition_fetch_bytes`` each) and fetches it again on
  resume: at ``max_in_flight: 100`` that was 2 800 discarded fetches per 40 000 events, and a third of the
  throughput. Only a process that stays full for half of ``max_poll_interval_ms`` pauses its assignment
  and polls, so the member stays in the group. A finished record makes room for the next one of its
  partition's backlog at once.
- **Order.** Only for workflows with ``ordered: true``: their runs of one (partition, workflow, record key)
  go one at a time in offset order (``ordering.py``). Every other run is concurrent, up to the limits.
- **Rebalance.** On revocation, no new attempt starts for the revoked partitions, attempts already running
  finish (their done records are written), backoff waits are abandoned, and what is finished is committed
  before the partitions are given up. On assignment, the dedupe changelog is restored first.
- **Start.** A partition the group has no committed offset for starts where ``consumer.group.start``
  says (``start.py``), decided on assignment before any of its records is handed out, and that position
  is committed at once, so a restart before the first event keeps it. A brand-new group without
  ``start`` refuses to start (:class:`~hookgate.consumer.engine.start.GroupStartRefused`). One
  ``group_start`` line per assignment says where such partitions started.
- **Re-drives** arrive on the group's own re-drive topic, subscribed beside the sources; workflows see
  them as records of their original source topic (``hookgate_source_topic``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from prometheus_client import Counter

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.engine.delivery import Deliverer, Job
from hookgate.consumer.engine.offsets import PartitionOffsets
from hookgate.consumer.engine.start import GroupStartRefused, start_offset
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.state.deadletter import H_TOPIC
from hookgate.consumer.state.dedupe import DoneStore
from hookgate.consumer.workflows.workflow import WorkflowSet
from hookgate.core.backoff import RECONNECT
from hookgate.core.envelope import Envelope, EnvelopeError
from hookgate.core.kafka import connection_kwargs, make_consumer
from hookgate.core.logging import get_logger
from hookgate.core.outage import DependencyWatch
from hookgate.core.runtime import RunningLoop

log = get_logger("hookgate.consumer")

START_TRIES = 3
"""Tries at reading and committing the start positions of newly assigned partitions."""


def coordinator_known(consumer: AIOKafkaConsumer) -> bool:
    """Whether a started group consumer knows its group coordinator (False while it cannot reach it).

    aiokafka (0.12 to 0.14) has no public API for this: its ``GroupCoordinator`` forgets
    ``coordinator_id`` when the coordinator is unreachable (``coordinator_dead()``), and nothing public
    reflects that. So this reads the two private attributes, without defaults: if aiokafka renames them
    this raises, and ``tests/integration/test_consumer_readiness.py`` fails, instead of readiness
    silently staying true.
    """
    return consumer._coordinator.coordinator_id is not None


@dataclass(eq=False)
class _Partition:
    tp: TopicPartition
    consumed: Counter  # hookgate_consumer_events_consumed_total of the partition's topic, labels resolved once
    offsets: PartitionOffsets = field(default_factory=PartitionOffsets)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    committed: int | None = None
    floor: int = 0  # where the partition starts: records below it (fetched before the start was applied) are dropped
    in_flight: int = 0  # records handed to workflows and not finished
    backlog: deque[ConsumerRecord[bytes, bytes]] = field(default_factory=deque)  # fetched, not handed out yet


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
        self._event_loop = RunningLoop()
        self._consumer: AIOKafkaConsumer | None = None  # once started
        # The consumer from before its start() returned: aiokafka may join the group and call on_assigned while
        # start() is still awaiting, and the partitions must be positioned and paused then too.
        self._member: AIOKafkaConsumer | None = None
        self._parts: dict[TopicPartition, _Partition] = {}
        self._in_flight = 0
        self._per_partition = config.consumer.max_in_flight_per_partition
        self._waiting: dict[TopicPartition, _Partition] = {}  # partitions with a backlog, oldest first
        self._all_paused = False  # the whole assignment paused: the process stayed full past the keep-alive poll
        # The loop waits on this while the process is full; set once in-flight plus backlog is down to resume_at.
        self._room: asyncio.Future[None] | None = None
        self._resume_at = config.consumer.max_in_flight - max(1, config.consumer.max_in_flight // 4)
        self._restoring: set[TopicPartition] = set()  # paused by on_assigned until their dedupe state is loaded
        metrics.in_flight.set_function(lambda: self._in_flight)  # read at each scrape, not set per record
        self._joined = False
        self._stopping = False
        self._refused: GroupStartRefused | None = None
        self._established: bool | None = None  # the group has committed offsets (asked once, when it matters)
        self._redrive_topic = config.redrive_topic()

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
        """Consume until ``stop`` is set; then finish in-flight work within the grace period and commit.

        Raises :class:`GroupStartRefused` (after leaving the group) when the group has no committed offsets
        and ``consumer.group.start`` is unset.
        """
        try:
            consumer = await self._connect(stop)
            if consumer is not None:
                await self._loop(consumer, stop)
        finally:
            self._stopping = True
            await self._close()
        if self._refused is not None:
            raise self._refused

    async def _close(self) -> None:
        """Stop fetching (pause everything), let running attempts finish, commit, leave the group."""
        consumer = self._consumer
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.pause(*consumer.assignment())
            await self._drain(list(self._parts.values()), self._config.consumer.shutdown_grace_seconds)
            await self._commit(list(self._parts.values()))
            await consumer.stop()
            self._consumer = self._member = None
            log.info("consumer_left_group", group=self._config.consumer.group_id)

    async def _connect(self, stop: asyncio.Event) -> AIOKafkaConsumer | None:
        """Subscribe and join the group, retrying until connected; None when ``stop`` was set first."""
        cfg, s = self._config, self._config.consumer
        consumer = make_consumer(
            cfg.kafka,
            # Only for a committed offset the topic no longer has (retention deleted those records): the oldest
            # kept is the nearest loss-free position. A partition without a committed offset is positioned by
            # on_assigned, per consumer.group.start, before any of its records is handed out.
            offset_reset="earliest",
            group_id=s.group_id,
            session_timeout_ms=s.group.session_timeout_ms,
            heartbeat_interval_ms=s.group.heartbeat_ms(),
            max_poll_interval_ms=s.group.max_poll_interval_ms,
            max_poll_records=min(s.max_in_flight, 500),
            # One fetch per broker is in flight at a time: while idle partitions long-poll for data, a busy
            # partition on the same broker waits for that answer. Keep the long poll short.
            fetch_max_wait_ms=50,
            # A pattern picks up a new tenant's topic at the next metadata refresh: keep that short.
            metadata_max_age_ms=10_000 if s.topic_pattern else 300_000,
        )
        listener = _Listener(self)
        topics, pattern = cfg.subscription()  # the sources plus this group's re-drive topic
        if pattern is not None:
            consumer.subscribe(pattern=pattern, listener=listener)
        else:
            consumer.subscribe(topics=topics, listener=listener)
        self._member = consumer
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
        # aiokafka makes a member leave its group when it has not polled for max_poll_interval_ms.
        keepalive = s.group.max_poll_interval_ms / 2000
        last_poll = time.monotonic()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set() and self._refused is None:
                now = time.monotonic()
                if self._full() and not self._all_paused and now - last_poll < keepalive:
                    await self._wait_for_room(stopping, min(next_commit, last_poll + keepalive) - now)
                else:
                    self._read(consumer, await self._fetch(consumer))
                    last_poll = time.monotonic()
                if time.monotonic() >= next_commit:
                    await self._commit(list(self._parts.values()))
                    self._observe(consumer)
                    next_commit = time.monotonic() + s.commit_interval_seconds
        finally:
            stopping.cancel()

    def _full(self) -> bool:
        return self._in_flight + self._buffered() >= self._config.consumer.max_in_flight

    async def _wait_for_room(self, stopping: asyncio.Future[Any], timeout: float) -> None:
        """Until in-flight plus backlog records are down to ``resume_at``, ``stop`` is set or ``timeout`` passed."""
        room = self._room = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait((room, stopping), timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._room = None
            room.cancel()

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        s = self._config.consumer
        self._apply_backpressure(consumer)
        room = max(1, s.max_in_flight - self._in_flight - self._buffered())
        # Read only partitions whose backlog has room. The others keep what the fetcher already holds
        # for them (a pause would drop it), and get no new fetch until they take it: their backlog stays
        # bounded. Since such a partition may have room again any moment, poll briefly then.
        readable = [tp for tp, part in self._parts.items() if len(part.backlog) < self._per_partition]
        if len(readable) == len(self._parts):
            batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
            batches = await consumer.getmany(timeout_ms=200, max_records=room)
        elif readable:
            batches = await consumer.getmany(*readable, timeout_ms=10, max_records=room)
        else:
            batches = {}
            await asyncio.sleep(0.01)
        return batches

    def _read(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Put fetched records in their partitions' backlogs and hand out what there is room for."""
        for tp, records in batches.items():
            part = self._parts.get(tp)
            if part is None or part.abort.is_set():
                # Fetched while the partition was being restored (assignment) or given up (revocation):
                # read it again later, or leave it to the new owner.
                with contextlib.suppress(IllegalStateError, AssertionError):
                    consumer.seek(tp, records[0].offset)
                continue
            last = part.backlog[-1].offset if part.backlog else part.offsets.last_read
            if last is None:
                last = part.floor - 1
            fresh = [r for r in records if r.offset > last]  # never hand a record out twice
            if fresh:
                part.backlog.extend(fresh)
                self._waiting.setdefault(tp, part)
        self._refill()

    def _refill(self) -> None:
        """Hand backlog records to workflows while the process and their partition have room."""
        limit = self._config.consumer.max_in_flight
        per_partition = self._per_partition
        waiting = self._waiting
        while waiting and self._in_flight < limit:
            progressed = False
            for tp, part in list(waiting.items()):
                backlog = part.backlog
                if part.abort.is_set():  # being given up: its backlog is the next owner's
                    backlog.clear()
                handed = 0
                while backlog and part.in_flight < per_partition and self._in_flight < limit:
                    self._dispatch(part, backlog.popleft())
                    handed += 1
                if handed:
                    part.consumed.inc(handed)  # once per partition and turn, not per record
                    progressed = True
                if not backlog:
                    del waiting[tp]
            if not progressed:
                return

    def _apply_backpressure(self, consumer: AIOKafkaConsumer) -> None:
        """Pause the whole assignment while in-flight plus backlog records reach ``max_in_flight``; resume it
        once they are below (the loop keeps polling, so the member stays in the group)."""
        full = self._full()
        if not full and not self._all_paused:
            return
        paused = consumer.paused()
        if full:
            newly = consumer.assignment() - paused  # a rebalance may have assigned more meanwhile
            if newly:
                consumer.pause(*newly)
        else:
            again = paused - self._restoring
            if again:
                consumer.resume(*again)
        self._all_paused = full

    def _buffered(self) -> int:
        return sum(len(part.backlog) for part in self._waiting.values())

    def _resume_if_room(self) -> None:
        """After a record finished: resume a full process without waiting for the loop's next turn."""
        consumer = self._consumer
        if consumer is not None and not self._full():
            self._apply_backpressure(consumer)

    # -- records ---------------------------------------------------------------------------------

    def _dispatch(self, part: _Partition, record: ConsumerRecord[bytes, bytes]) -> None:
        """Hand a record to its workflows. Synchronous, so per-key gates are taken in offset order."""
        tp = part.tp
        part.offsets.add(record.offset)
        try:
            event = Envelope.from_record(record.headers, record.value)
        except EnvelopeError as exc:
            self._metrics.invalid.labels(tp.topic).inc()
            log.warning("invalid_record", topic=tp.topic, partition=tp.partition, offset=record.offset, reason=str(exc))
            part.offsets.finish(record.offset)
            return
        topic = tp.topic
        if topic == self._redrive_topic:
            # A re-drive: workflows that read only some topics see the event's own source topic.
            topic = next((v.decode(errors="replace") for k, v in record.headers if k == H_TOPIC and v), topic)
        workflows = self._workflows.select(event, topic)
        if not workflows:
            log.debug("unmatched", event_id=event.id, tenant=event.tenant, type=event.type, topic=topic)
            part.offsets.finish(record.offset)
            return
        deliverer = self._deliverer
        jobs = []
        for wf in workflows:
            job = deliverer.job(wf, event, record, tp, part.abort)
            job.meters.matched.inc()
            jobs.append(job)
        self._in_flight += 1
        part.in_flight += 1
        run = (
            self._run_one(part, record.offset, jobs[0]) if len(jobs) == 1 else self._run_all(part, record.offset, jobs)
        )
        task = self._event_loop().create_task(run)
        part.tasks.add(task)
        task.add_done_callback(part.tasks.discard)

    async def _run_one(self, part: _Partition, offset: int, job: Job) -> None:
        try:
            if await self._deliverer.run(job):
                part.offsets.finish(offset)
        except Exception as exc:
            # A bug, not a failed attempt: keep the record unfinished (it is redelivered later).
            job.log.error("delivery_crashed", reason=type(exc).__name__, exc_info=exc)
        finally:
            self._finished(part)

    async def _run_all(self, part: _Partition, offset: int, jobs: list[Job]) -> None:
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
            self._finished(part)

    def _finished(self, part: _Partition) -> None:
        self._in_flight -= 1
        part.in_flight -= 1
        if not part.abort.is_set():
            if self._waiting:
                self._refill()
            if self._all_paused:
                self._resume_if_room()
        room = self._room
        if room is not None and not room.done() and self._in_flight + self._buffered() <= self._resume_at:
            room.set_result(None)

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
        # Only what the consumer holds now: a pattern that starts matching a new topic (a new tenant) changes
        # the subscription before the group has reassigned, and aiokafka's highwater() then raises for the
        # partitions this runner still tracks (it crashed the consumer before).
        assigned = consumer.assignment()
        for part in self._parts.values():
            if part.tp not in assigned:
                continue
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
            part.backlog.clear()
            self._waiting.pop(part.tp, None)
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
            self._waiting.pop(part.tp, None)
            part.backlog.clear()  # fetched, never handed out: the next owner reads them
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(part.tp.topic, str(part.tp.partition))
        self._metrics.assigned.set(len(self._parts))
        log.info("partitions_revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in revoked])

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        self._metrics.rebalances.labels("assigned").inc()
        consumer = self._member
        if self._refused is not None:
            return
        # No records of these partitions until they are positioned (start) and their dedupe state is restored.
        if consumer is not None and assigned:
            consumer.pause(*assigned)
            self._restoring.update(assigned)
        try:
            floors = await self._start_positions([tp for tp in assigned if tp not in self._parts])
            if self._dedupe is not None:
                self._dedupe.forget(tp.partition for tp in [*self._parts, *assigned])
                restored = await self._dedupe.restore(tp.partition for tp in assigned)
                self._metrics.dedupe_restored.inc(restored)
        except GroupStartRefused as exc:
            # Raised here, aiokafka would only log it: stop the loop instead, and leave without reading.
            self._refused = exc
            log.error("group_start_refused", group=exc.group, partitions=exc.partitions, reason=str(exc))
            return
        finally:
            self._restoring.difference_update(assigned)
        if consumer is not None and assigned and not self._all_paused:
            consumer.resume(*assigned)
        for tp in assigned:
            if tp not in self._parts:
                part = self._parts[tp] = _Partition(tp, self._metrics.consumed.labels(tp.topic))
                part.committed, part.floor = floors.get(tp, (None, 0))
        self._metrics.assigned.set(len(self._parts))
        self._joined = True
        log.info("partitions_assigned", partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned])

    async def _start_positions(self, fresh: list[TopicPartition]) -> dict[TopicPartition, tuple[int | None, int]]:
        """:meth:`_apply_start`, tried again on a broker error (a few times: the rebalance is waiting)."""
        for attempt in range(START_TRIES):
            try:
                return await self._apply_start(fresh)
            except (KafkaError, OSError) as exc:
                if attempt == START_TRIES - 1:
                    raise  # as a failed restore: the next rebalance assigns these partitions again
                log.warning("group_start_retry", reason=type(exc).__name__)
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _apply_start(self, fresh: list[TopicPartition]) -> dict[TopicPartition, tuple[int | None, int]]:
        """Position the newly assigned partitions that have no committed offset (``consumer.group.start``).

        Returns, per partition, (its committed offset, where reading starts). A start position is committed at
        once: the group then has an offset, and a restart before the first event does not re-resolve
        ``latest`` (which would skip what arrived meanwhile). Raises :class:`GroupStartRefused` for a group
        that never committed an offset when ``start`` is unset.
        """
        consumer = self._member
        if consumer is None or not fresh:
            return {}
        committed: dict[TopicPartition, int | None] = {tp: await consumer.committed(tp) for tp in fresh}
        out: dict[TopicPartition, tuple[int | None, int]] = {
            tp: (off, off) for tp, off in committed.items() if off is not None
        }
        missing = [tp for tp, off in committed.items() if off is None]
        if not missing:
            self._established = True
            return out
        group = self._config.consumer.group_id
        start = self._config.consumer.group.start_position()
        if start is None and not await self._group_established(len(out) > 0):
            raise GroupStartRefused(group, [f"{tp.topic}:{tp.partition}" for tp in missing])
        beginnings: dict[TopicPartition, int] = await consumer.beginning_offsets(missing)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(missing)
        at_time: dict[TopicPartition, int | None] = {}
        if start is not None and start.kind == "time":
            found = await consumer.offsets_for_times(dict.fromkeys(missing, start.at_ms))
            at_time = {tp: (found[tp].offset if found.get(tp) is not None else None) for tp in missing}
        offsets = {
            tp: start_offset(start, beginning=beginnings[tp], end=ends[tp], at_time=at_time.get(tp)) for tp in missing
        }
        for tp, off in offsets.items():
            consumer.seek(tp, off)
        await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in offsets.items()})
        self._established = True
        log.info(
            "group_start",
            group=group,
            start=start.text if start is not None else "earliest (a partition new to an established group)",
            partitions=[f"{tp.topic}:{tp.partition}" for tp in offsets],
            offsets={f"{tp.topic}:{tp.partition}": off for tp, off in offsets.items()},
        )
        out.update({tp: (off, off) for tp, off in offsets.items()})
        return out

    async def _group_established(self, some_committed: bool) -> bool:
        """Whether the group has committed offsets anywhere (it ran before): then a partition new to it starts
        at its beginning without ``start``. Asked of the broker once; any committed offset settles it."""
        if some_committed:
            self._established = True
        if self._established is None:
            admin = AIOKafkaAdminClient(**connection_kwargs(self._config.kafka))
            await admin.start()
            try:
                offsets = await admin.list_consumer_group_offsets(self._config.consumer.group_id)
            finally:
                await admin.close()
            self._established = any(meta.offset >= 0 for meta in offsets.values())
        return self._established
