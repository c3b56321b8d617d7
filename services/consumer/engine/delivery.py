"""Delivering one event to one workflow, with the runner's guarantees around the action.

In order: wait for the earlier run of the same key (ordering), skip when the (workflow, event id) pair is
already finished (dedupe; for a re-driven dead letter, ``redrive.py`` decides), ask the target's circuit
breaker, run the action, and then either write the done record (success), schedule another attempt after
a backoff (retryable failure), or write the event to the dead-letter topic and a done record
(non-retryable failure or attempts exhausted). Only when this returns True may the record's offset count
as finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from hookgate.consumer.engine.breaker import Breakers
from hookgate.consumer.engine.ordering import KeySequencer
from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.state.changelog import DedupeChangelog
from hookgate.consumer.state.deadletter import DeadLetters
from hookgate.consumer.state.dedupe import dedupe_key
from hookgate.consumer.state.redrive import Decision, Redrive, decide, redrive_of
from hookgate.consumer.workflows.workflow import ActionResult, Workflow
from hookgate.core.envelope import Envelope, parse_rfc3339
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")

CIRCUIT_OPEN = "circuit_open"


@dataclass(slots=True)
class Job:
    """One event for one workflow."""

    workflow: Workflow
    event: Envelope
    record: ConsumerRecord[bytes, bytes]
    tp: TopicPartition
    seq_key: tuple[TopicPartition, str, bytes | None]
    after: asyncio.Future[None] | None
    gate: asyncio.Future[None]
    abort: asyncio.Event


async def _wait(
    abort: asyncio.Event, awaitable: asyncio.Future[None] | None = None, delay: float | None = None
) -> bool:
    """Wait for ``awaitable`` or ``delay`` seconds; False when ``abort`` was set first."""
    if abort.is_set():
        return False
    aborted: asyncio.Future[Any] = asyncio.ensure_future(abort.wait())
    waiting: asyncio.Future[Any] = (
        asyncio.ensure_future(asyncio.shield(awaitable))
        if awaitable is not None
        else asyncio.ensure_future(asyncio.sleep(delay or 0))
    )
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
    def __init__(
        self,
        *,
        policy: RetryPolicy,
        breakers: Breakers,
        dedupe: DedupeChangelog | None,
        dead_letters: DeadLetters,
        metrics: ConsumerMetrics,
        sequencer: KeySequencer,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._policy = policy
        self._breakers = breakers
        self._dedupe = dedupe
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._sequencer = sequencer
        self._rand = rand
        # Runs of one (workflow, event id) in progress: a duplicate record waits for the first to finish.
        self._running: dict[str, asyncio.Future[None]] = {}

    async def run(self, job: Job) -> bool:
        """True when the run finished (succeeded, deduplicated, dead-lettered or not re-driven); False when aborted."""
        wf = job.workflow
        key = dedupe_key(wf.name, job.event.id)
        redrive = redrive_of(job.record.headers or ())
        mine: asyncio.Future[None] | None = None
        try:
            if job.after is not None and not await _wait(job.abort, job.after):
                return False
            while (other := self._running.get(key)) is not None:
                if not await _wait(job.abort, other):
                    return False
            done = self._dedupe.lookup(job.tp.partition, key) if self._dedupe is not None else None
            decision = decide(wf.name, done, redrive)
            rid = redrive.id if redrive is not None else None
            if decision is Decision.DUPLICATE:
                self._metrics.deliveries.labels(wf.name, "deduplicated").inc()
                if redrive is not None:
                    self._metrics.redrives.labels(wf.name, "deduplicated").inc()
                marker = {"redrive": rid} if rid is not None else {}
                log.info("deduplicated", workflow=wf.name, event_id=job.event.id, outcome="deduplicated", **marker)
                return True
            if decision is Decision.OTHER_WORKFLOW:
                self._metrics.redrives.labels(wf.name, "other_workflow").inc()
                log.info(
                    "redrive_skipped", workflow=wf.name, event_id=job.event.id, outcome="other_workflow", redrive=rid
                )
                return True
            if redrive is not None:
                log.info(
                    "redrive_started",
                    workflow=wf.name,
                    event_id=job.event.id,
                    redrive=rid,
                    reason=decision.value,
                    previous=done.outcome if done is not None else None,
                )
            mine = self._running[key] = asyncio.get_running_loop().create_future()
            return await self._attempts(job, key, redrive)
        finally:
            if mine is not None:
                self._running.pop(key, None)
                mine.set_result(None)
            self._sequencer.release(job.seq_key, job.gate)

    async def _attempts(self, job: Job, key: str, redrive: Redrive | None) -> bool:
        wf, event = job.workflow, job.event
        attempt = 0
        while True:
            if job.abort.is_set():
                return False
            attempt += 1
            result = await self._attempt(wf, event, attempt)
            if result.ok:
                # The next event of the key may start while the done record is written: order is about
                # actions, and the offset still waits for the record.
                self._sequencer.release(job.seq_key, job.gate)
                if not await self._finish(job, key, "succeeded", redrive):
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
                return await self._dead_letter(job, key, result, attempt, redrive)
            self._metrics.retries.labels(wf.name, _retry_reason(result)).inc()
            if not await _wait(job.abort, delay=delay):
                return False

    async def _attempt(self, wf: Workflow, event: Envelope, attempt: int) -> ActionResult:
        breaker = self._breakers.get(wf.target)
        if not breaker.allow():
            self._metrics.actions.labels(wf.name, "rejected").inc()
            return ActionResult(ok=False, error=CIRCUIT_OPEN)
        started = time.perf_counter()
        try:
            result = await wf.run(event)
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
        log.info(
            "action",
            workflow=wf.name,
            event_id=event.id,
            tenant=event.tenant,
            outcome=outcome,
            reason=result.error,
            status=result.status,
            attempt=attempt,
            duration_ms=round(elapsed * 1000, 3),
        )
        return result

    async def _finish(self, job: Job, key: str, outcome: str, redrive: Redrive | None) -> bool:
        """Write the done record (acks=all) before the offset may be committed; False when aborted first.

        A re-run's record carries its re-drive id and replaces the entry of the earlier, dead-lettered run.
        """
        rid = redrive.id if redrive is not None else None
        delay = 0.1
        while self._dedupe is not None:
            try:
                await self._dedupe.record(job.tp.partition, key, outcome, rid)
                break
            except KafkaError as exc:
                log.warning("dedupe_write_failed", workflow=job.workflow.name, reason=type(exc).__name__)
                if not await _wait(job.abort, delay=delay):
                    return False
                delay = min(delay * 2, 5.0)
        self._metrics.deliveries.labels(job.workflow.name, outcome).inc()
        if redrive is not None:
            self._metrics.redrives.labels(job.workflow.name, outcome).inc()
            log.info(
                "redrive_finished", workflow=job.workflow.name, event_id=job.event.id, outcome=outcome, redrive=rid
            )
        return True

    async def _dead_letter(
        self, job: Job, key: str, result: ActionResult, attempts: int, redrive: Redrive | None
    ) -> bool:
        rec = job.record
        delay = 0.1
        while True:
            try:
                await self._dead_letters.publish(
                    key=rec.key,
                    value=rec.value,
                    headers=list(rec.headers),
                    workflow=job.workflow.name,
                    result=result,
                    attempts=attempts,
                    topic=rec.topic,
                    partition=rec.partition,
                    offset=rec.offset,
                )
                break
            except KafkaError as exc:
                log.warning("dead_letter_write_failed", workflow=job.workflow.name, reason=type(exc).__name__)
                if not await _wait(job.abort, delay=delay):
                    return False
                delay = min(delay * 2, 5.0)
        log.warning(
            "dead_lettered",
            workflow=job.workflow.name,
            event_id=job.event.id,
            outcome="deadlettered",
            reason=result.error,
            attempts=attempts,
            topic=self._dead_letters.topic,
        )
        return await self._finish(job, key, "deadlettered", redrive)
