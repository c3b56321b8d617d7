"""Delivering one event to one workflow, with the runner's guarantees around the action.

In order: for an ``ordered: true`` workflow, wait for the earlier run of the same record key (ordering);
skip when the (workflow, event id) pair is
already finished (dedupe; for a re-driven dead letter, ``redrive.py`` decides), ask the target's circuit
breaker, run the action, and then either write the done record (success), schedule another attempt after
a backoff (retryable failure), or write the event to the dead-letter sink and a done record
(non-retryable failure or attempts exhausted). Only when this returns True may the record's offset count
as finished.

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
from hookgate.consumer.engine.ordering import KeySequencer
from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.metrics import ConsumerMetrics, WorkflowMeters
from hookgate.consumer.state.deadletter import DeadLetterSink
from hookgate.consumer.state.dedupe import DEADLETTERED, SUCCEEDED, DoneStore, dedupe_key
from hookgate.consumer.state.redrive import Decision, Redrive, decide, redrive_of
from hookgate.consumer.workflows.workflow import ActionResult, Workflow
from hookgate.core.backoff import Backoff, Rand, pause
from hookgate.core.envelope import Envelope, parse_rfc3339
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")

CIRCUIT_OPEN = "circuit_open"
WRITE_RETRY = Backoff(base=0.1, cap=5.0)
"""Between tries of a done-record or dead-letter write the broker did not acknowledge."""


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
    # Ordered workflows only: the sequencer's key, the gate of the run before this one and this run's own.
    seq_key: tuple[TopicPartition, str, bytes | None] | None = None
    after: asyncio.Future[None] | None = None
    gate: asyncio.Future[None] | None = None

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


def _retry_reason(result: ActionResult) -> str:
    if result.error == CIRCUIT_OPEN:
        return CIRCUIT_OPEN
    if result.status is not None:
        return f"status_{result.status // 100}xx"
    return "error"


class Deliverer:
    """Runs jobs with ordering, dedupe, breaker, retries and dead letters; composed by ``consumer/app.py``.

    ``dedupe`` is None when ``consumer.dedupe.enabled`` is off. ``rand`` is the jitter of the retry delays.
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
    ) -> None:
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
        job = Job(workflow, event, record, tp, key, redrive, self._metrics.workflow(workflow.name), abort)
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
            done = self._dedupe.lookup(job.tp.partition, key) if self._dedupe is not None else None
            decision = decide(wf.name, done, redrive)
            if decision is Decision.DUPLICATE:
                job.meters.deliveries["deduplicated"].inc()
                if redrive is not None:
                    job.meters.redrives["deduplicated"].inc()
                job.log.info("deduplicated", outcome="deduplicated")
                return True
            if decision is Decision.OTHER_WORKFLOW:
                job.meters.redrives["other_workflow"].inc()
                job.log.info("redrive_skipped", outcome="other_workflow")
                return True
            if redrive is not None:
                previous = done.outcome if done is not None else None
                job.log.info("redrive_started", reason=decision.value, previous=previous)
            running[key] = None
            mine = True
            return await self._attempts(job)
        finally:
            if mine:
                waiters = running.pop(key, None)
                if waiters is not None:
                    waiters.set_result(None)
            self._release(job)

    async def _attempts(self, job: Job) -> bool:
        event = job.event
        attempt = 0
        while True:
            if job.abort.is_set():
                return False
            attempt += 1
            result = await self._attempt(job, attempt)
            if result.ok:
                # The next event of the key may start while the done record is written: order is about
                # actions, and the offset still waits for the record.
                self._release(job)
                if not await self._finish(job, SUCCEEDED):
                    return False
                if event.time:
                    with contextlib.suppress(ValueError):
                        e2e = time.time() - parse_rfc3339(event.time).timestamp()
                        job.meters.end_to_end_seconds.observe(max(e2e, 0.0))
                return True
            delay = self._policy.next_delay(attempt, result, self._rand)
            if delay is None:
                return await self._dead_letter(job, result, attempt)
            job.meters.retries[_retry_reason(result)].inc()
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
            result = await wf.run(job.event)
        except Exception as exc:  # a handler's bug is a failed attempt, not a dead consumer
            result = ActionResult(ok=False, error=type(exc).__name__)
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
        context = {"redrive": job.redrive.id} if job.redrive is not None else {}
        log.info(
            "action",
            workflow=wf.name,
            event_id=event.id,
            tenant=event.tenant,
            **context,
            outcome=outcome,
            reason=result.error,
            status=result.status,
            attempt=attempt,
            duration_ms=round(elapsed * 1000, 3),
        )
        return result

    async def _finish(self, job: Job, outcome: str) -> bool:
        """Write the done record (durably) before the offset may be committed; False when aborted first.

        A re-run's record carries its re-drive id and replaces the entry of the earlier, dead-lettered run.
        """
        dedupe = self._dedupe
        if dedupe is not None:
            rid = job.redrive.id if job.redrive is not None else None
            write = partial(dedupe.record, job.tp.partition, job.key, outcome, rid)
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
        return await self._finish(job, DEADLETTERED)

    async def _until_written(self, job: Job, failure: str, write: Callable[[], Awaitable[None]]) -> bool:
        """Run ``write`` until the store acknowledges it (backing off between tries); False when aborted first."""
        async for attempt in self._write_retry.attempts(job.abort):
            try:
                await write()
            except KafkaError as exc:
                job.log.warning(failure, reason=type(exc).__name__, retry_in_s=round(attempt.delay, 3))
                continue
            return True
        return False
