"""Produce audit records to ``{prefix}._audit``, fire-and-forget.

A webhook reply never waits for, or fails because of, the audit topic: :meth:`AuditTopicWriter.submit`
only puts the record on a bounded queue and counts it as dropped when the queue is full. One task
connects (retrying with back-off), creates the topic with explicit settings, and hands records to its
own producer, so a slow or absent audit path cannot contend with event publishing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from hookgate.core.kafka import TopicAdmin, make_producer, start_producer
from hookgate.core.outage import DependencyWatch
from hookgate.core.settings import KafkaSettings
from hookgate.core.topics import audit_topic
from hookgate.gateway.audit.record import AuditSettings


class TopicRecord(Protocol):
    """What the writer produces: a webhook :class:`~hookgate.gateway.audit.record.AuditRecord`, or an
    admin call's record (:class:`~hookgate.admin.audit.AdminAuditRecord`)."""

    @property
    def tenant(self) -> str | None: ...

    def to_dict(self) -> dict[str, Any]: ...


class AuditTopicWriter:
    """Owns the audit producer and its bounded queue."""

    def __init__(self, kafka: KafkaSettings, settings: AuditSettings, registry: CollectorRegistry) -> None:
        self.topic = audit_topic(kafka.topics)
        self._kafka = kafka
        self._settings = settings
        self._admin = TopicAdmin(kafka)
        self._queue: asyncio.Queue[TopicRecord] = asyncio.Queue(maxsize=settings.queue_size)
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        # The audit path's outages, logged on change: its own producer may fail while events still flow.
        self._watch = DependencyWatch("audit_topic")
        self.written = Counter(
            "hookgate_gateway_audit_records_written",
            "Audit records the broker acknowledged on the audit topic.",
            registry=registry,
        )
        self.dropped = Counter(
            "hookgate_gateway_audit_records_dropped",
            "Audit records not written to the audit topic (queue_full, kafka_error); the log line was still written.",
            ["reason"],
            registry=registry,
        )
        for reason in ("queue_full", "kafka_error"):  # at 0 from the start, for rate() and alerts
            self.dropped.labels(reason)
        depth = Gauge(
            "hookgate_gateway_audit_queue_depth", "Audit records waiting for the audit topic.", registry=registry
        )
        depth.set_function(self._queue.qsize)

    def submit(self, record: TopicRecord) -> None:
        """Enqueue without waiting; a full queue drops the record (and counts it)."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped.labels("queue_full").inc()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-topic")

    async def stop(self, timeout: float = 5.0) -> None:
        """Hand over what is queued (up to ``timeout``), flush, close."""
        if self._producer is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(self._producer.flush(), timeout)
            await self._producer.stop()
            self._producer = None

    async def _run(self) -> None:
        await self._connect()
        assert self._producer is not None
        while True:
            record = await self._queue.get()
            try:
                await self._send(self._producer, record)
            finally:
                self._queue.task_done()

    async def _connect(self) -> None:
        retention_ms = str(self._settings.retention_hours * 3_600_000)
        self._producer = await start_producer(
            lambda: make_producer(self._kafka, linger_ms=50),
            lambda: self._admin.ensure([self.topic], config={"cleanup.policy": "delete", "retention.ms": retention_ms}),
            self._watch,
        )
        self._watch.up()

    async def _send(self, producer: AIOKafkaProducer, record: TopicRecord) -> None:
        try:
            fut = await producer.send(
                self.topic,
                value=orjson.dumps(record.to_dict()),
                key=(record.tenant or "").encode() or None,
                headers=[("content-type", b"application/json")],
            )
        except (KafkaError, RuntimeError) as exc:
            self._failed(exc)
            return
        fut.add_done_callback(self._acked)

    def _acked(self, fut: asyncio.Future[object]) -> None:
        if fut.cancelled():  # the producer was closed under it: no outage
            self.dropped.labels("kafka_error").inc()
        elif (exc := fut.exception()) is not None:
            self._failed(exc)
        else:
            self.written.inc()
            self._watch.up()

    def _failed(self, exc: BaseException) -> None:
        self.dropped.labels("kafka_error").inc()
        self._watch.down(type(exc).__name__, str(exc) or None)
