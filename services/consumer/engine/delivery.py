"""Delivering one event to one workflow, with the runner's guarantees around the action.

In order: wait for the earlier run of the same key (ordering), skip when the (workflow, event id) pair is
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
from hookgate.consumer.metrics import ConsumerMetrics
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
    seq_key: tuple[TopicPartition, str, bytes | None]
    after: asyncio.Future[None] | None
    gate: asyncio.Future[None]
    abort: asyncio.Event
    log: FilteringBoundLogger  # bound to the workflow, event and (for a re-drive) the re-drive id


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
        self._running: dict[str, asyncio.Future[None]] = {}

    def job(
        self,
        workflow: Workflow,
        event: Envelope,
        record: ConsumerRecord[bytes, bytes],
        tp: TopicPartition,
        abort: asyncio.Event,
    ) -> Job:
        """A job for ``record``, queued behind the earlier runs of its key. Call in offset order (synchronously)."""
        seq_key = (tp, workflow.name, record.key)
        after, gate = self._sequencer.enter(seq_key)
        redrive = redrive_of(record.headers or ())
        bound = log.bind(workflow=workflow.name, event_id=event.id, tenant=event.tenant)
        if redrive is not None:
            bound = bound.bind(redrive=redrive.id)
        key = dedupe_key(workflow.name, event.id)
        return Job(workflow, event, record, tp, key, redrive, seq_key, after, gate, abort, bound)

    async def run(self, job: Job) -> bool:
        """True when the run finished (succeeded, deduplicated, dead-lettered or not re-driven); False when aborted."""
        wf, key, redrive = job.workflow, job.key, job.redrive
        mine: asyncio.Future[None] | None = None
        try:
            if job.after is not None and not await _wait_for(job.after, job.abort):
                return False
            while (other := self._running.get(key)) is not None:
                if not await _wait_for(other, job.abort):
                    return False
            done = self._dedupe.lookup(job.tp.partition, key) if self._dedupe is not None else None
            decision = decide(wf.name, done, redrive)
            if decision is Decision.DUPLICATE:
                self._metrics.deliveries.labels(wf.name, "deduplicated").inc()
                if redrive is not None:
                    self._metrics.redrives.labels(wf.name, "deduplicated").inc()
                job.log.info("deduplicated", outcome="deduplicated")
                return True
            if decision is Decision.OTHER_WORKFLOW:
                self._metrics.redrives.labels(wf.name, "other_workflow").inc()
                job.log.info("redrive_skipped", outcome="other_workflow")
                return True
            if redrive is not None:
                previous = done.outcome if done is not None else None
                job.log.info("redrive_started", reason=decision.value, previous=previous)
            mine = self._running[key] = asyncio.get_running_loop().create_future()
            return await self._attempts(job)
        finally:
            if mine is not None:
                self._running.pop(key, None)
                mine.set_result(None)
            self._sequencer.release(job.seq_key, job.gate)

    async def _attempts(self, job: Job) -> bool:
        wf, event = job.workflow, job.event
        attempt = 0
        while True:
            if job.abort.is_set():
                return False
            attempt += 1
            result = await self._attempt(job, attempt)
            if result.ok:
                # The next event of the key may start while the done record is written: order is about
                # actions, and the offset still waits for the record.
                self._sequencer.release(job.seq_key, job.gate)
                if not await self._finish(job, SUCCEEDED):
                    return False
                if event.time:
                    with contextlib.suppress(ValueError):
                        e2e = time.time() - parse_rfc3339(event.time).timestamp()
                        self._metrics.end_to_end_seconds.labels(wf.name).observe(max(e2e, 0.0))
                return True
            if not wf.ordered:
                # Later events of this key need not wait for this one's retries.
                self._sequencer.release(job.seq_key, job.gate)
            delay = self._policy.next_delay(attempt, result, self._rand)
            if delay is None:
                return await self._dead_letter(job, result, attempt)
            self._metrics.retries.labels(wf.name, _retry_reason(result)).inc()
            if not await pause(delay, job.abort):
                return False

    async def _attempt(self, job: Job, attempt: int) -> ActionResult:
        wf = job.workflow
        breaker = self._breakers.get(wf.target)
        if not breaker.allow():
            self._metrics.actions.labels(wf.name, "rejected").inc()
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
        self._metrics.action_seconds.labels(wf.name).observe(elapsed)
        self._metrics.actions.labels(wf.name, outcome).inc()
        job.log.info(
            "action",
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
        self._metrics.deliveries.labels(job.workflow.name, outcome).inc()
        if job.redrive is not None:
            self._metrics.redrives.labels(job.workflow.name, outcome).inc()
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
