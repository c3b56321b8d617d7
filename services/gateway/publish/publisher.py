"""Produce events to Kafka and report the broker's acknowledgement within a deadline.

Many request handlers awaiting ``AIOKafkaProducer.send()`` at once make them all contend for the
record accumulator when a batch fills, and throughput collapses (aiokafka issue 528). So handlers
never call the producer: they enqueue a :class:`_Pending` and await its future, and one pump task
feeds the producer in arrival order. The deadlines share one loop timer
(:mod:`hookgate.gateway.publish.deadlines`) instead of arming one per request.

What a 503 at the deadline means depends on where the event was, and the reply says which:

- still queued here, or inside ``producer.send()`` waiting for metadata or for room in a full batch
  (a broker outage fills the batch within moments): the event is dropped, the pump's ``send()`` is
  cancelled before it appends the record, and nothing is ever written: ``kafka_timeout_dropped``;
- appended to the producer's batch (``send()`` returned): aiokafka cannot take a record back, so it
  may still be written once the broker answers: ``kafka_timeout``, ``may_be_stored``. The sender's
  retry then carries the same delivery id (or the trigger's ``event_id``) and the consumers' dedupe
  absorbs it; a sender without either gets a second event.

The publisher is the gateway's :class:`~hookgate.gateway.publish.sink.EventSink`: a publish resolves to an
:class:`~hookgate.gateway.publish.sink.Ack` or a :class:`~hookgate.gateway.publish.sink.PublishFailure`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from hookgate.core.envelope import Envelope
from hookgate.core.kafka import TopicAdmin, make_producer, probe_metadata, start_producer
from hookgate.core.logging import get_logger
from hookgate.core.outage import DependencyWatch
from hookgate.core.runtime import RunningLoop
from hookgate.core.settings import KafkaSettings
from hookgate.gateway.config import ProducerSettings
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.deadlines import DeadlinePassed, Deadlines
from hookgate.gateway.publish.sink import Ack, PublishFailure, PublishResult

log = get_logger("hookgate.gateway.publish.publisher")


# The failures that need no detail, made once: a broker outage answers many requests with them.
_NOT_CONNECTED = PublishFailure("kafka_unavailable", "not connected to Kafka")
_SHUTTING_DOWN = PublishFailure("shutting_down")
_QUEUE_FULL = PublishFailure("overloaded", "produce queue full")
_TIMED_OUT = PublishFailure("kafka_timeout", "Kafka did not acknowledge in time", may_be_stored=True)
_DROPPED = PublishFailure("kafka_timeout_dropped", "the deadline passed before the event reached the producer")


@dataclass(slots=True)
class _Pending:
    topic: str
    key: bytes
    envelope: Envelope
    future: asyncio.Future[Ack]
    handed: bool = False  # producer.send() returned: the record is in the producer's batch, for good


class Publisher:
    """Owns the producer: connects (and reconnects) in the background, probes readiness, publishes.

    ``timeout`` is each event's deadline for the broker's acknowledgement, in seconds.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        producer: ProducerSettings,
        metrics: GatewayMetrics,
        topics: list[str],
        *,
        timeout: float,
        queue_size: int = 10_000,
        probe_interval: float = 2.0,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        admin: TopicAdmin | None = None,
    ) -> None:
        self._kafka = kafka
        self._producer_settings = producer
        self._metrics = metrics
        self._topics = topics
        self._timeout = timeout
        # Seams for unit tests of the deadline paths (an in-memory producer); production uses Kafka's.
        self._make_producer = producer_factory or self._kafka_producer
        self._admin = admin if admin is not None else TopicAdmin(kafka)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self._deadlines = Deadlines()
        self._probe_interval = probe_interval
        self._producer: AIOKafkaProducer | None = None
        self._reachable = False
        # Logs the outages: one warning when the broker goes, a reminder, one line when it is back.
        self._watch = DependencyWatch("kafka")
        self._tasks: list[asyncio.Task[None]] = []
        self._pump_task: asyncio.Task[None] | None = None
        self._loop = RunningLoop()  # the requests'
        self._sending: _Pending | None = None  # the item the pump is inside producer.send() for
        self._aborting: _Pending | None = None  # the item whose send() the pump was cancelled out of
        self._closing = False

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Ready when the producer is connected and the broker answered the last probe."""
        if self._producer is None:
            return False, {"kafka": "connecting"}
        return self._reachable, {"kafka": "ok" if self._reachable else "unreachable"}

    async def start(self) -> None:
        """Start connecting; returns at once. The gateway serves (503s) until Kafka is reachable."""
        self._pump_task = asyncio.create_task(self._pump(), name="publisher-pump")
        self._tasks = [asyncio.create_task(self._connect_loop(), name="publisher-connect"), self._pump_task]

    async def publish(self, topic: str, key: bytes, envelope: Envelope) -> PublishResult:
        """Write one event and wait for the broker's acknowledgement (acks=all), at most ``timeout`` seconds.

        Resolves to the :class:`Ack`, or to a :class:`PublishFailure` naming why the event was not, or may
        not have been (``may_be_stored``), written: see the module docstring.
        """
        if self._producer is None:
            return _NOT_CONNECTED
        if self._closing:
            return _SHUTTING_DOWN
        pending = _Pending(topic, key, envelope, self._loop().create_future())
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            return _QUEUE_FULL
        self._deadlines.add(pending.future, self._timeout)  # only once queued: someone awaits the outcome
        started = time.perf_counter()
        try:
            # Awaited directly (no shield): cancelling this request cancels the future, and the pump
            # still writes a cancelled item's event, so a request never takes back what it handed over.
            ack = await pending.future
        except DeadlinePassed:
            self._metrics.observe_produce("timeout", time.perf_counter() - started)
            return self._expired(pending)
        except (KafkaError, RuntimeError) as exc:
            # Raised by send(): never appended. Set by the delivery future: the broker's answer was an
            # error, or none came, for a record that was sent; it may have been written.
            self._metrics.observe_produce("error", time.perf_counter() - started)
            return PublishFailure("kafka_error", type(exc).__name__, may_be_stored=pending.handed)
        self._metrics.observe_produce("ok", time.perf_counter() - started)
        return ack

    def _expired(self, item: _Pending) -> PublishFailure:
        """The reply for an event whose deadline passed: dropped (never written), or possibly written.

        Runs synchronously in the request's task, so the pump is suspended: it has not reached the item
        (its future is done, so it will skip it), or it is awaiting inside ``send()`` for it (cancelled
        here, before the record is appended), or ``send()`` returned (the record is in the producer).
        """
        if item.handed:
            return _TIMED_OUT
        if self._sending is item and self._pump_task is not None:
            self._aborting = item
            self._pump_task.cancel()
        return _DROPPED

    async def ensure_topics(self, topics: list[str]) -> None:
        """Create (or, with ``kafka.create_topics: false``, check) topics of triggers added at run time,
        before they go live; raises a ``KafkaError`` or ``RuntimeError`` when that fails."""
        missing = [t for t in topics if not self._admin.known(t)]
        if missing:
            await self._admin.ensure(missing)
        self._topics = sorted({*self._topics, *topics})

    async def stop(self) -> None:
        """Flush what was handed to the producer, then close. Call after the HTTP server stopped."""
        self._closing = True
        # Let the pump hand over what is queued (its requests are still awaiting their futures).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._queue.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._producer is not None:
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(self._producer.flush(), 10)
            await self._producer.stop()
            self._producer = None
        # The deadlines stay armed: a request still waiting (none should be, the server stopped first)
        # gets its 503 at its deadline, as with a timer of its own.

    def _kafka_producer(self) -> AIOKafkaProducer:
        return make_producer(
            self._kafka,
            linger_ms=self._producer_settings.linger_ms,
            max_batch_size=self._producer_settings.max_batch_bytes,
            compression_type=self._producer_settings.compression,
        )

    async def _connect_loop(self) -> None:
        self._producer = await start_producer(
            self._make_producer, lambda: self._admin.ensure(self._topics), self._watch
        )
        self._set_reachable(True)
        log.info("kafka_connected", topics=self._topics)
        await self._probe_loop()

    async def _probe_loop(self) -> None:
        assert self._producer is not None
        client = self._producer.client
        while True:
            await asyncio.sleep(self._probe_interval)
            try:
                # The gateway's own topics only: the whole cluster's metadata every 2 s costs CPU and memory.
                probe = probe_metadata(client, self._topics)
                await asyncio.wait_for(probe, timeout=max(self._probe_interval, 1.0))
            except (KafkaError, TimeoutError, OSError) as exc:
                self._set_reachable(False, type(exc).__name__, str(exc) or None)
            else:
                self._set_reachable(True)

    def _set_reachable(self, ok: bool, reason: str = "", detail: str | None = None) -> None:
        if ok:
            self._watch.up()
        else:
            self._watch.down(reason, detail)
        self._reachable = ok
        self._metrics.kafka_ready.set(1 if ok else 0)

    async def _pump(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._hand_over(item)
            finally:
                self._queue.task_done()

    async def _hand_over(self, item: _Pending) -> None:
        if item.future.done() and not item.future.cancelled():  # its deadline passed while queued: never write it
            return
        producer = self._producer
        if producer is None:
            if not item.future.done():
                item.future.set_exception(KafkaError("not connected"))
            return
        self._sending = item
        try:
            if not self._admin.known(item.topic):
                await self._admin.ensure([item.topic])
            # send() awaits only before it appends the record (metadata, room in a full batch), so a
            # cancellation out of it (see _expired) leaves the record unwritten.
            fut = await producer.send(
                item.topic, value=item.envelope.data, key=item.key, headers=item.envelope.to_headers()
            )
        except asyncio.CancelledError:
            if self._aborted(item):
                return
            if not item.future.done():
                item.future.set_exception(KafkaError("publisher stopped"))
            raise
        except (KafkaError, RuntimeError) as exc:
            if not item.future.done():
                item.future.set_exception(exc)
            return
        finally:
            self._sending = None
        item.handed = True
        fut.add_done_callback(lambda f, it=item: _resolve(it, f))

    def _aborted(self, item: _Pending) -> bool:
        """Whether the cancellation that stopped ``item``'s send() was its deadline's alone (the pump goes on),
        not also the publisher stopping (then it propagates)."""
        if self._aborting is not item:
            return False
        self._aborting = None
        task = asyncio.current_task()
        return task is not None and task.uncancel() == 0


def _resolve(item: _Pending, fut: asyncio.Future[object]) -> None:
    if item.future.done():
        return
    if fut.cancelled():
        item.future.set_exception(KafkaError("send cancelled"))
        return
    exc = fut.exception()
    if exc is not None:
        item.future.set_exception(exc)
        return
    md = fut.result()
    item.future.set_result(Ack(md.topic, md.partition, md.offset))  # type: ignore[attr-defined]
