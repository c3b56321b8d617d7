"""Delivering one event to one workflow, with the runner's guarantees around the action.

In order: for an ``ordered: true`` workflow, wait for the earlier run of the same record key (ordering);
skip when the (workflow, event id) pair is
already finished (dedupe; for a re-driven dead letter, ``redrive.py`` decides), ask the target's circuit
breaker, run the action, and then either write the done record (success), schedule another attempt after
a backoff (retryable failure, after writing a ``retrying`` entry with the attempt count, so a process
that takes the event over continues the count), or write the event to the dead-letter sink and a done
record (non-retryable failure or attempts exhausted). A re-drive's successful re-run also marks its dead
letters resolved. Only when this returns True may the record's offset count as finished.

Each attempt runs inside :func:`~hookgate.consumer.workflows.event.delivering`, so a Python handler's
:class:`~hookgate.consumer.workflows.event.Event` knows its attempt, re-drive and source position; a
workflow that cannot read them (an HTTP action, ``sees_delivery = False``) runs without it.

The done records and dead letters go through the :class:`DoneStore` and :class:`DeadLetterSink`
protocols (Kafka in production, in memory in unit tests); a failed write is retried with the core
backoff until it succeeds or the partition is given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from structlog.typing import FilteringBoundLogger

from hookgate.consumer.engine.breaker import Breakers
from hookgate.consumer.engine.failures import exception_result
from hookgate.consumer.engine.ordering import KeySequencer
from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.metrics import ConsumerMetrics, WorkflowMeters
from hookgate.consumer.state.deadletter import H_OFFSET, H_PARTITION, H_TOPIC, DeadLetterSink
from hookgate.consumer.state.dedupe import DEADLETTERED, RETRYING, SUCCEEDED, DoneStore, dedupe_key
from hookgate.consumer.state.redrive import Decision, Redrive, attempts_so_far, decide, redrive_of
from hookgate.consumer.workflows.event import Delivery, delivering
from hookgate.consumer.workflows.workflow import ActionResult, Workflow, sees_delivery
from hookgate.core.backoff import Backoff, Rand, pause
from hookgate.core.envelope import Envelope, parse_rfc3339
from hookgate.core.logging import get_logger, info_line

log = get_logger("hookgate.consumer")

CIRCUIT_OPEN = "circuit_open"
WRITE_RETRY = Backoff(base=0.1, cap=5.0)
"""Between tries of a done-record or dead-letter write the broker did not acknowledge."""


def _source_position(headers: Any) -> tuple[str, int, int] | None:
    """A dead letter's (or re-drive's) ``hookgate_source_*`` headers; None when incomplete."""
    found = {k: v for k, v in headers or () if k in (H_TOPIC, H_PARTITION, H_OFFSET) and v}
    try:
        topic: str = found[H_TOPIC].decode()
        return topic, int(found[H_PARTITION]), int(found[H_OFFSET])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


@dataclass(slots=True)
class Job:
    """One event for one workflow: made by :meth:`Deliverer.job`, run by :meth:`Deliverer.run`."""

    workflow: Workflow
    event: Envelope
    record: ConsumerRecord[bytes, bytes]
    tp: TopicPartition
    key: str  # the dedupe key
    redrive: Redrive | None
    meters: WorkflowMeters
    abort: asyncio.Event
    sees_delivery: bool = True  # the workflow reads its delivery: each attempt runs inside delivering()
    # Ordered workflows only: the sequencer's key, the gate of the run before this one and this run's own.
    seq_key: tuple[TopicPartition, str, bytes | None] | None = None
    after: asyncio.Future[None] | None = None
    gate: asyncio.Future[None] | None = None

    @property
    def state_partition(self) -> int:
        """The source partition whose dedupe state holds this run: the event's own source partition, also for
        a re-drive read from the group's re-drive topic (its ``hookgate_source_partition``)."""
        redrive = self.redrive
        if redrive is not None and redrive.source_partition is not None:
            return redrive.source_partition
        partition: int = self.tp.partition
        return partition

    def delivery(self, attempt: int) -> Delivery:
        """What the handler's Event reports for ``attempt``: a re-drive's position is its original record's."""
        record, redrive = self.record, self.redrive
        topic, partition, offset = record.topic, record.partition, record.offset
        if redrive is not None:
            found = _source_position(record.headers)
            if found is not None:
                topic, partition, offset = found
        return Delivery(attempt, redrive.id if redrive is not None else None, topic, partition, offset)

    @property
    def log(self) -> FilteringBoundLogger:
        """The logger bound to the workflow, event and (for a re-drive) the re-drive id."""
        bound: FilteringBoundLogger = log.bind(
            workflow=self.workflow.name, event_id=self.event.id, tenant=self.event.tenant
        )
        return bound.bind(redrive=self.redrive.id) if self.redrive is not None else bound


async def _wait_for(gate: asyncio.Future[None], abort: asyncio.Event) -> bool:
    """Wait for another run's ``gate`` (never cancelling it); False when ``abort`` was set first."""
    if abort.is_set():
        return False
    aborted: asyncio.Future[Any] = asyncio.ensure_future(abort.wait())
    waiting: asyncio.Future[Any] = asyncio.ensure_future(asyncio.shield(gate))
    try:
        await asyncio.wait({aborted, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for fut in (aborted, waiting):
            if not fut.done():
                fut.cancel()
    return not abort.is_set()


def retry_reason(result: ActionResult) -> str:
    """The ``reason`` label of ``hookgate_consumer_retries_total`` (``metrics.RETRY_REASONS``)."""
    if result.error == CIRCUIT_OPEN:
        return CIRCUIT_OPEN
    if result.status is not None:
        return "status_5xx" if result.status >= 500 else "status_4xx"
    if result.cause == "retry":
        return "retry_requested"
    if result.cause == "exception":
        return "exception"
    return "error"


class Deliverer:
    """Runs jobs with ordering, dedupe, breaker, retries and dead letters; composed by ``consumer/app.py``.

    ``dedupe`` is None when ``consumer.dedupe.enabled`` is off. ``rand`` is the jitter of the retry delays.
    ``group`` is the consumer group: a re-drive marked for another group does not run.
    """

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        breakers: Breakers,
        dedupe: DoneStore | None,
        dead_letters: DeadLetterSink,
        metrics: ConsumerMetrics,
        rand: Rand = random.random,
        write_retry: Backoff = WRITE_RETRY,
        group: str | None = None,
    ) -> None:
        self._group = group
        self._policy = policy
        self._breakers = breakers
        self._dedupe = dedupe
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._rand = rand
        self._write_retry = write_retry
        self._sequencer = KeySequencer()
        # Runs of one (workflow, event id) in progress: a duplicate record waits for the first to finish.
        # The future is made only when a duplicate arrives (None until then): most runs have none.
        self._running: dict[str, asyncio.Future[None] | None] = {}

    def job(
        self,
        workflow: Workflow,
        event: Envelope,
        record: ConsumerRecord[bytes, bytes],
        tp: TopicPartition,
        abort: asyncio.Event,
    ) -> Job:
        """A job for ``record``; for an ordered workflow, queued behind the earlier runs of its record key.

        Call in offset order (synchronously): that is what makes the queue the partition's order.
        """
        redrive = redrive_of(record.headers) if record.headers else None
        key = dedupe_key(workflow.name, event.id)
        meters = self._metrics.workflow(workflow.name)
        job = Job(workflow, event, record, tp, key, redrive, meters, abort, sees_delivery(workflow))
        if workflow.ordered:
            job.seq_key = (tp, workflow.name, record.key)
            job.after, job.gate = self._sequencer.enter(job.seq_key)
        return job

    def _release(self, job: Job) -> None:
        """Let the next run of the job's key start (ordered workflows; idempotent)."""
        if job.seq_key is not None and job.gate is not None:
            self._sequencer.release(job.seq_key, job.gate)

    async def run(self, job: Job) -> bool:
        """True when the run finished (succeeded, deduplicated, dead-lettered or not re-driven); False when aborted."""
        wf, key, redrive = job.workflow, job.key, job.redrive
        running = self._running
        mine = False
        try:
            if job.after is not None and not await _wait_for(job.after, job.abort):
                return False
            while key in running:
                other = running[key]
                if other is None:
                    other = running[key] = asyncio.get_running_loop().create_future()
                if not await _wait_for(other, job.abort):
                    return False
            done = self._dedupe.lookup(job.state_partition, key) if self._dedupe is not None else None
            decision = decide(wf.name, done, redrive, group=self._group)
            if decision is Decision.DUPLICATE:
                job.meters.deliveries["deduplicated"].inc()
                if redrive is not None:
                    job.meters.redrives["deduplicated"].inc()
                job.log.info("deduplicated", outcome="deduplicated")
                if redrive is not None and done is not None and done.outcome == SUCCEEDED:
                    # Already succeeded (an earlier re-drive, or a crash after the done record and before the
                    # resolution): make sure the letter is marked resolved; writing it again is harmless.
                    return await self._resolve(job)
                return True
            if decision in (Decision.OTHER_WORKFLOW, Decision.OTHER_GROUP):
                job.meters.redrives[decision.value].inc()
                job.log.info("redrive_skipped", outcome=decision.value)
                return True
            if redrive is not None:
                previous = done.outcome if done is not None else None
                job.log.info("redrive_started", reason=decision.value, previous=previous)
            running[key] = None
            mine = True
            return await self._attempts(job, attempts_so_far(done, redrive))
        finally:
            if mine:
                waiters = running.pop(key, None)
                if waiters is not None:
                    waiters.set_result(None)
            self._release(job)

    async def _attempts(self, job: Job, made: int = 0) -> bool:
        """Attempt until success, a dead letter or an abort; ``made`` attempts were made before (restored)."""
        event = job.event
        attempt = made
        while True:
            if job.abort.is_set():
                return False
            attempt += 1
            result = await self._attempt(job, attempt)
            if result.ok:
                # The next event of the key may start while the done record is written: order is about
                # actions, and the offset still waits for the record.
                self._release(job)
                if not await self._finish(job, SUCCEEDED, attempt):
                    return False
                if job.redrive is not None and not await self._resolve(job):
                    return False
                if event.time:
                    with contextlib.suppress(ValueError):
                        e2e = time.time() - parse_rfc3339(event.time).timestamp()
                        job.meters.end_to_end_seconds.observe(max(e2e, 0.0))
                return True
            delay = self._policy.next_delay(attempt, result, self._rand)
            if delay is None:
                return await self._dead_letter(job, result, attempt)
            job.meters.retries[retry_reason(result)].inc()
            if not await self._note_attempts(job, attempt):
                return False
            if not await pause(delay, job.abort):
                return False

    async def _attempt(self, job: Job, attempt: int) -> ActionResult:
        wf = job.workflow
        breaker = self._breakers.get(wf.target)
        if not breaker.allow():
            job.meters.actions["rejected"].inc()
            return ActionResult(ok=False, error=CIRCUIT_OPEN)
        started = time.perf_counter()
        try:
            if job.sees_delivery:
                with delivering(job.delivery(attempt)):
                    result = await wf.run(job.event)
            else:  # an HTTP action: the context would cost a Delivery and a context variable per attempt
                result = await wf.run(job.event)
        except Exception as exc:  # a workflow's bug is a failed attempt, not a dead consumer
            result = exception_result(exc)
        except BaseException:  # cancelled (shutdown past its grace): no outcome to report
            breaker.abandon()
            raise
        elapsed = time.perf_counter() - started
        breaker.record(result.ok)
        outcome = "succeeded" if result.ok else "failed"
        job.meters.action_seconds.observe(elapsed)
        job.meters.actions[outcome].inc()
        event = job.event
        # Logged per attempt, so bound inline rather than through Job.log (which binds a new logger).
        fields: dict[str, Any] = {"workflow": wf.name, "event_id": event.id, "tenant": event.tenant}
        if job.redrive is not None:
            fields["redrive"] = job.redrive.id
        fields.update(
            outcome=outcome,
            reason=result.error,
            status=result.status,
            attempt=attempt,
            retryable=None if result.ok else result.retryable,
            duration_ms=round(elapsed * 1000, 3),
        )
        if result.ok:
            info_line(log, "action", fields)  # the same line as log.info, without structlog's dispatch
        else:
            log.warning("action", **fields)  # a failed attempt: the first sign of a target or handler going wrong
        return result

    async def _finish(self, job: Job, outcome: str, attempts: int) -> bool:
        """Write the done record (durably) before the offset may be committed; False when aborted first.

        A re-run's record carries its re-drive id and replaces the entry of the earlier, dead-lettered run.
        """
        dedupe = self._dedupe
        if dedupe is not None:
            rid = job.redrive.id if job.redrive is not None else None
            write = partial(dedupe.record, job.state_partition, job.key, outcome, rid, attempts=attempts)
            if not await self._until_written(job, "dedupe_write_failed", write):
                return False
        job.meters.deliveries[outcome].inc()
        if job.redrive is not None:
            job.meters.redrives[outcome].inc()
            job.log.info("redrive_finished", outcome=outcome)
        return True

    async def _dead_letter(self, job: Job, result: ActionResult, attempts: int) -> bool:
        publish = partial(
            self._dead_letters.publish, job.record, workflow=job.workflow.name, result=result, attempts=attempts
        )
        if not await self._until_written(job, "dead_letter_write_failed", publish):
            return False
        job.log.warning(
            "dead_lettered",
            outcome=DEADLETTERED,
            reason=result.error,
            attempts=attempts,
            topic=self._dead_letters.topic,
        )
        return await self._finish(job, DEADLETTERED, attempts)

    async def _note_attempts(self, job: Job, attempts: int) -> bool:
        """Before a retry waits: record that the run made ``attempts`` attempts (a ``retrying`` entry), so a
        process that takes the event over after a restart or a rebalance continues the count."""
        dedupe = self._dedupe
        if dedupe is None:
            return True
        rid = job.redrive.id if job.redrive is not None else None
        write = partial(dedupe.record, job.state_partition, job.key, RETRYING, rid, attempts=attempts)
        return await self._until_written(job, "dedupe_write_failed", write)

    async def _resolve(self, job: Job) -> bool:
        """Mark the dead letters of the job's (workflow, event) resolved; False when aborted first."""
        rid = job.redrive.id if job.redrive is not None else None
        write = partial(self._dead_letters.resolve, job.workflow.name, job.event.id, rid)
        if not await self._until_written(job, "dead_letter_state_write_failed", write):
            return False
        job.log.info("dead_letter_resolved", outcome="resolved")
        return True

    async def _until_written(self, job: Job, failure: str, write: Callable[[], Awaitable[None]]) -> bool:
        """Run ``write`` until the store acknowledges it (backing off between tries); False when aborted first."""
        try:
            await write()  # nearly every write succeeds at once: those need none of the retry machinery
            return True
        except KafkaError as exc:
            error = exc
        attempts = self._write_retry.attempts(job.abort)
        attempt = await anext(attempts)  # the try above: the first is made without a wait
        while True:
            job.log.warning(failure, reason=type(error).__name__, retry_in_s=round(attempt.delay, 3))
            try:
                attempt = await anext(attempts)
            except StopAsyncIteration:
                return False
            try:
                await write()
                return True
            except KafkaError as exc:
                error = exc
