"""The fetch loop: read records, run the matching workflows, commit what is finished.

Offsets are committed only after every matching workflow of a record succeeded, so a crash
replays from the last finished record (at least once). Partitions of one fetch are processed
concurrently; records of one partition in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.workflows import Workflow, WorkflowSet
from hookgate.core.envelope import Envelope, EnvelopeError
from hookgate.core.kafka import make_consumer
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner.commit_finished()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned])


class Runner:
    """Consumes the configured topics and delivers events to workflows until stopped."""

    def __init__(self, config: ConsumerConfig, workflows: WorkflowSet, metrics: ConsumerMetrics) -> None:
        self._config = config
        self._workflows = workflows
        self._metrics = metrics
        self._consumer: AIOKafkaConsumer | None = None
        self._finished: dict[TopicPartition, int] = {}
        self._stop = asyncio.Event()
        self.assigned = False

    def readiness(self) -> tuple[bool, dict[str, str]]:
        if self._consumer is None:
            return False, {"kafka": "connecting"}
        return True, {"kafka": "ok"}

    async def commit_finished(self) -> None:
        consumer, finished = self._consumer, self._finished
        if consumer is None or not finished:
            return
        self._finished = {}
        offsets = {tp: OffsetAndMetadata(off, "") for tp, off in finished.items()}
        try:
            await consumer.commit(offsets)
            self._metrics.commits.labels("ok").inc()
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on; the new owner replays from the last committed offset.
            self._metrics.commits.labels("failed").inc()
            log.warning("commit_failed", reason=type(exc).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        settings = self._config.consumer
        self._stop = stop
        consumer = make_consumer(self._config.kafka, group_id=settings.group_id, max_poll_records=500)
        listener = _CommitOnRevoke(self)
        if settings.topic_pattern:
            consumer.subscribe(pattern=settings.topic_pattern, listener=listener)
        else:
            consumer.subscribe(topics=settings.topics, listener=listener)
        await self._start(consumer, stop)
        if stop.is_set():
            return
        self._consumer = consumer
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                if not batches:
                    continue
                await asyncio.gather(*(self._partition(tp, recs) for tp, recs in batches.items()))
                await self.commit_finished()
        finally:
            await self.commit_finished()
            await consumer.stop()
            self._consumer = None

    async def _start(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        delay = 0.2
        while not stop.is_set():
            try:
                await consumer.start()
                return
            except (KafkaError, OSError) as exc:
                log.warning("kafka_connect_failed", reason=type(exc).__name__, retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _partition(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            if not await self._record(tp, record):
                return  # stopping: leave this record uncommitted
            self._finished[tp] = record.offset + 1

    async def _record(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> bool:
        self._metrics.consumed.labels(tp.topic).inc()
        try:
            event = Envelope.from_record(record.headers, record.value)
        except EnvelopeError as exc:
            self._metrics.invalid.labels(tp.topic).inc()
            log.warning(
                "invalid_record",
                topic=tp.topic,
                partition=tp.partition,
                offset=record.offset,
                reason=str(exc),
            )
            return True
        for wf in self._workflows.select(event):
            self._metrics.matched.labels(wf.name).inc()
            if not await self._deliver(wf, event):
                return False
        return True

    async def _deliver(self, wf: Workflow, event: Envelope) -> bool:
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            result = await wf.run(event)
            self._metrics.action_seconds.labels(wf.name).observe(time.perf_counter() - started)
            self._metrics.actions.labels(wf.name, "succeeded" if result.ok else "failed").inc()
            log.info(
                "action",
                workflow=wf.name,
                event_id=event.id,
                tenant=event.tenant,
                outcome="succeeded" if result.ok else "failed",
                reason=result.error,
                attempt=attempt,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            if result.ok:
                return True
            delay = min(0.2 * 2 ** min(attempt, 8), 30.0) * random.uniform(0.5, 1.0)  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return False
