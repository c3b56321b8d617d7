"""The deliverer on its own: dedupe, attempts, dead letters, re-drives and write retries.

In-memory done store and dead-letter sink (tests/support/memory_state.py) and a scripted action; the
Kafka implementations are exercised by tests/integration/test_consumer_*.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from hookgate.consumer.engine.breaker import Breakers, CircuitBreaker
from hookgate.consumer.engine.delivery import Deliverer
from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.state.deadletter import (
    H_ATTEMPTS,
    H_OFFSET,
    H_PARTITION,
    H_REDRIVE,
    H_REDRIVE_GROUP,
    H_REDRIVE_WORKFLOW,
    H_TOPIC,
    H_WORKFLOW,
)
from hookgate.consumer.state.dedupe import DoneRecord
from hookgate.consumer.workflows.event import Event
from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.backoff import Backoff
from hookgate.core.envelope import Envelope
from tests.support.memory_state import MemoryDeadLetters, MemoryDoneStore

TP = TopicPartition("hookgate.acme", 0)
OK = ActionResult(ok=True, status=200)
BUSY = ActionResult(ok=False, status=503, error="HTTP 503")
BAD = ActionResult(ok=False, status=400, error="HTTP 400", retryable=False)


class ScriptedWorkflow:
    """Answers each run with the next result of ``script`` (the last one repeats)."""

    ordered = False
    target = "test:target"

    def __init__(self, name: str, script: Sequence[ActionResult]) -> None:
        self.name = name
        self._script = list(script)
        self.runs: list[str] = []
        self.ran = asyncio.Event()

    def matches(self, event: Envelope) -> bool:
        return True

    async def run(self, event: Envelope) -> ActionResult:
        self.runs.append(event.id)
        self.ran.set()
        return self._script[min(len(self.runs), len(self._script)) - 1]


def _event(event_id: str) -> Envelope:
    return Envelope(
        id=event_id,
        source="/test",
        type="com.example.thing",
        data=b"{}",
        datacontenttype="application/json",
        extensions={"tenant": "acme"},
    )


def _record(event: Envelope, offset: int = 0, extra: Sequence[tuple[str, bytes]] = ()) -> ConsumerRecord[bytes, bytes]:
    headers = [*event.to_headers(), *extra]
    return ConsumerRecord(TP.topic, TP.partition, offset, 0, 0, b"acme", event.data, None, 4, 2, headers)


class Harness:
    def __init__(self, attempts: int = 3, dedupe: bool = True) -> None:
        self.store = MemoryDoneStore() if dedupe else None
        self.dead = MemoryDeadLetters()
        self.metrics = ConsumerMetrics()
        self.abort = asyncio.Event()
        self.deliverer = Deliverer(
            policy=RetryPolicy(attempts=attempts, base_delay=0.001, max_delay=0.002),
            breakers=Breakers(lambda _: CircuitBreaker(failure_threshold=1000)),
            dedupe=self.store,
            dead_letters=self.dead,
            metrics=self.metrics,
            rand=lambda: 0.0,
            write_retry=Backoff(base=0.001, cap=0.001),
        )

    async def deliver(
        self, wf: ScriptedWorkflow, event_id: str, offset: int = 0, extra: Sequence[tuple[str, bytes]] = ()
    ) -> bool:
        event = _event(event_id)
        return await self.deliverer.run(self.deliverer.job(wf, event, _record(event, offset, extra), TP, self.abort))

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_success_writes_the_done_record_and_a_redelivery_is_deduplicated() -> None:
    h = Harness()
    wf = ScriptedWorkflow("deploy", [OK])
    assert await h.deliver(wf, "e1")
    assert await h.deliver(wf, "e1", offset=1)  # the same event again (a sender retry, a replay)
    assert wf.runs == ["e1"]
    assert h.store is not None
    assert [(p, k, d.outcome) for p, k, d in h.store.written] == [(0, "deploy:e1", "succeeded")]
    assert h.count("hookgate_consumer_deliveries_total", workflow="deploy", outcome="succeeded") == 1
    assert h.count("hookgate_consumer_deliveries_total", workflow="deploy", outcome="deduplicated") == 1
    assert h.dead.letters == []


async def test_retryable_failures_are_retried_until_one_succeeds() -> None:
    h = Harness(attempts=3)
    wf = ScriptedWorkflow("deploy", [BUSY, BUSY, OK])
    assert await h.deliver(wf, "e1")
    assert wf.runs == ["e1", "e1", "e1"]
    assert h.count("hookgate_consumer_retries_total", workflow="deploy", reason="status_5xx") == 2
    assert h.count("hookgate_consumer_deliveries_total", workflow="deploy", outcome="succeeded") == 1
    assert h.dead.letters == []


async def test_exhausted_attempts_dead_letter_the_event_once_and_count_it_as_finished() -> None:
    h = Harness(attempts=3)
    wf = ScriptedWorkflow("deploy", [BUSY])
    assert await h.deliver(wf, "e1")
    assert wf.runs == ["e1"] * 3
    ((key, value, headers),) = h.dead.letters
    assert (key, value) == (b"acme", b"{}")
    assert (dict(headers)[H_WORKFLOW], dict(headers)[H_ATTEMPTS]) == (b"deploy", b"3")
    assert h.store is not None
    assert h.store.lookup(0, "deploy:e1") is not None
    assert await h.deliver(wf, "e1", offset=1)  # a dead-lettered run is finished: not run again
    assert wf.runs == ["e1"] * 3


async def test_a_permanent_failure_is_dead_lettered_at_once() -> None:
    h = Harness(attempts=5)
    wf = ScriptedWorkflow("deploy", [BAD])
    assert await h.deliver(wf, "e1")
    assert wf.runs == ["e1"]
    assert len(h.dead.letters) == 1
    assert h.count("hookgate_consumer_deliveries_total", workflow="deploy", outcome="deadlettered") == 1


async def test_writes_the_store_or_sink_did_not_acknowledge_are_retried() -> None:
    h = Harness(attempts=1)
    assert h.store is not None
    h.store.fail_writes = 2
    h.dead.fail_writes = 2
    wf = ScriptedWorkflow("deploy", [BAD])
    assert await h.deliver(wf, "e1")
    assert len(h.dead.letters) == 1
    assert [d.outcome for _, _, d in h.store.written] == ["deadlettered"]
    assert wf.runs == ["e1"]  # the action is not repeated because a write failed


async def test_each_failed_write_is_logged_with_its_wait_and_an_abort_ends_the_retries() -> None:
    h = Harness(attempts=1)
    assert h.store is not None
    h.store.fail_writes = 3
    wf = ScriptedWorkflow("deploy", [OK])
    with structlog.testing.capture_logs() as logs:
        assert await h.deliver(wf, "e1")
    failed = [e for e in logs if e["event"] == "dedupe_write_failed"]
    assert [(e["reason"], e["retry_in_s"]) for e in failed] == [("KafkaError", 0.001)] * 3
    assert [d.outcome for _, _, d in h.store.written] == ["succeeded"]

    h.store.fail_writes = 1_000_000
    h.deliverer._write_retry = Backoff(base=0.05, cap=0.05)
    run = asyncio.create_task(h.deliver(ScriptedWorkflow("notify", [OK]), "e2"))
    await asyncio.sleep(0.2)
    h.abort.set()  # the partition is given up while the store keeps refusing the done record
    assert await asyncio.wait_for(run, 30) is False
    assert [d.outcome for _, _, d in h.store.written] == ["succeeded"]  # e2's record was never acknowledged


async def test_an_abort_during_the_backoff_leaves_the_event_unfinished() -> None:
    h = Harness(attempts=5)
    h.deliverer = Deliverer(
        policy=RetryPolicy(attempts=5, base_delay=3600.0, max_delay=3600.0),
        breakers=Breakers(lambda _: CircuitBreaker(failure_threshold=1000)),
        dedupe=h.store,
        dead_letters=h.dead,
        metrics=h.metrics,
    )
    wf = ScriptedWorkflow("deploy", [BUSY])
    run = asyncio.create_task(h.deliver(wf, "e1"))
    await asyncio.wait_for(wf.ran.wait(), 30)
    h.abort.set()  # the partition is revoked while the event waits for its next attempt
    assert await asyncio.wait_for(run, 30) is False
    assert wf.runs == ["e1"]
    assert h.dead.letters == []
    assert h.store is not None
    # Not finished: only the attempt count, for whichever process continues the run.
    assert [(k, d.outcome, d.attempts) for _, k, d in h.store.written] == [("deploy:e1", "retrying", 1)]


async def test_without_dedupe_every_delivery_runs() -> None:
    h = Harness(dedupe=False)
    wf = ScriptedWorkflow("deploy", [OK])
    assert await h.deliver(wf, "e1")
    assert await h.deliver(wf, "e1", offset=1)
    assert wf.runs == ["e1", "e1"]


async def test_a_redrive_reruns_only_the_named_dead_lettered_workflow_and_marks_its_done_record() -> None:
    h = Harness(attempts=1)
    deploy, audit = ScriptedWorkflow("deploy", [BAD, OK]), ScriptedWorkflow("audit", [OK])
    assert await h.deliver(deploy, "e1")
    assert await h.deliver(audit, "e1")
    marker = [(H_REDRIVE, b"r1"), (H_REDRIVE_WORKFLOW, b"deploy")]
    assert await h.deliver(deploy, "e1", offset=1, extra=marker)
    assert await h.deliver(audit, "e1", offset=1, extra=marker)
    assert (deploy.runs, audit.runs) == (["e1", "e1"], ["e1"])
    assert h.store is not None
    done = h.store.lookup(0, "deploy:e1")
    assert done is not None
    assert (done.outcome, done.redrive) == ("succeeded", "r1")
    assert h.count("hookgate_consumer_redrives_total", workflow="deploy", outcome="succeeded") == 1
    assert h.count("hookgate_consumer_redrives_total", workflow="audit", outcome="other_workflow") == 1
    # The same re-drive redelivered after its re-run succeeded: nothing runs.
    assert await h.deliver(deploy, "e1", offset=2, extra=marker)
    assert deploy.runs == ["e1", "e1"]
    assert isinstance(h.store.lookup(0, "deploy:e1"), DoneRecord)


async def test_every_log_line_of_a_run_names_its_workflow_and_event() -> None:
    h = Harness(attempts=2)
    wf = ScriptedWorkflow("deploy", [BUSY])
    with structlog.testing.capture_logs() as logs:
        assert await h.deliver(wf, "e1")
    events = [entry["event"] for entry in logs]
    assert events == ["action", "action", "dead_lettered"]
    assert all((entry["workflow"], entry["event_id"], entry["tenant"]) == ("deploy", "e1", "acme") for entry in logs)
    assert [e["log_level"] for e in logs] == ["warning", "warning", "warning"]  # failed attempts are warnings
    with structlog.testing.capture_logs() as logs:
        assert await h.deliver(ScriptedWorkflow("notify", [OK]), "e2")
    assert [(e["event"], e["log_level"]) for e in logs] == [("action", "info")]


class SeeingWorkflow(ScriptedWorkflow):
    """A scripted workflow that also records what a handler's Event says about each attempt."""

    def __init__(self, name: str, script: Sequence[ActionResult]) -> None:
        super().__init__(name, script)
        self.deliveries: list[tuple[int, bool, str | None, int | None, int | None]] = []

    async def run(self, event: Envelope) -> ActionResult:
        seen = Event(event)
        self.deliveries.append((seen.attempt, seen.is_redrive, seen.topic, seen.partition, seen.offset))
        return await super().run(event)


async def test_attempts_continue_from_the_count_another_process_recorded() -> None:
    h = Harness(attempts=4)
    assert h.store is not None
    await h.store.record(0, "deploy:e1", "retrying", attempts=2)  # what the previous owner wrote
    wf = SeeingWorkflow("deploy", [BUSY])
    assert await h.deliver(wf, "e1", offset=5)
    assert [d[0] for d in wf.deliveries] == [3, 4]  # two left of the four, then the dead letter
    assert dict(h.dead.letters[0][2])[H_ATTEMPTS] == b"4"
    assert wf.deliveries[0][2:] == (TP.topic, TP.partition, 5)
    done = h.store.lookup(0, "deploy:e1")
    assert done is not None
    assert (done.outcome, done.attempts) == ("deadlettered", 4)
    retrying = [d.attempts for _, _, d in h.store.written if d.outcome == "retrying"]
    assert retrying == [2, 3]  # the previous owner's record, then this run's after attempt 3


async def test_a_workflow_that_reads_no_delivery_runs_outside_the_delivery_context() -> None:
    class Blind(SeeingWorkflow):
        sees_delivery = False  # as an HTTP action

    h = Harness(attempts=3)
    blind, seeing = Blind("notify", [BUSY, OK]), SeeingWorkflow("deploy", [BUSY, OK])
    assert await h.deliver(blind, "e1", offset=7)
    assert await h.deliver(seeing, "e1", offset=7)
    assert blind.deliveries == [(1, False, None, None, None)] * 2  # what an Event outside the engine says
    assert seeing.deliveries == [(1, False, TP.topic, 0, 7), (2, False, TP.topic, 0, 7)]


async def test_a_successful_redrive_resolves_its_letter_and_sees_its_original_position() -> None:
    h = Harness(attempts=1)
    wf = SeeingWorkflow("deploy", [BAD, OK])
    assert await h.deliver(wf, "e1")
    marker = [
        (H_REDRIVE, b"r1"),
        (H_REDRIVE_WORKFLOW, b"deploy"),
        (H_REDRIVE_GROUP, b"blue"),
        (H_TOPIC, b"hookgate.acme"),
        (H_PARTITION, b"0"),
        (H_OFFSET, b"0"),
    ]
    assert await h.deliver(wf, "e1", offset=9, extra=marker)
    assert wf.deliveries == [(1, False, TP.topic, 0, 0), (1, True, "hookgate.acme", 0, 0)]
    assert h.dead.resolved == [("deploy", "e1", "r1")]
    # Re-driven again after the success: nothing runs, and the resolution is written again (harmless).
    assert await h.deliver(wf, "e1", offset=10, extra=marker)
    assert len(wf.deliveries) == 2
    assert h.dead.resolved == [("deploy", "e1", "r1")] * 2


async def test_a_redrive_for_another_group_is_skipped() -> None:
    h = Harness(attempts=1)
    h.deliverer = Deliverer(
        policy=RetryPolicy(attempts=1),
        breakers=Breakers(lambda _: CircuitBreaker(failure_threshold=1000)),
        dedupe=h.store,
        dead_letters=h.dead,
        metrics=h.metrics,
        group="green",
    )
    wf = ScriptedWorkflow("deploy", [OK])
    marker = [(H_REDRIVE, b"r1"), (H_REDRIVE_WORKFLOW, b"deploy"), (H_REDRIVE_GROUP, b"blue")]
    assert await h.deliver(wf, "e1", extra=marker)
    assert wf.runs == []
    assert h.count("hookgate_consumer_redrives_total", workflow="deploy", outcome="other_group") == 1


async def test_a_redrive_from_the_redrive_topic_uses_its_source_partitions_dedupe_state() -> None:
    h = Harness(attempts=1)
    assert h.store is not None
    await h.store.record(4, "deploy:e1", "deadlettered")  # the event's own source partition is 4
    wf = ScriptedWorkflow("deploy", [OK])
    marker = [(H_REDRIVE, b"r1"), (H_REDRIVE_WORKFLOW, b"deploy"), (H_PARTITION, b"4")]
    assert await h.deliver(wf, "e1", extra=marker)  # read from re-drive partition 0 (TP)
    done = h.store.lookup(4, "deploy:e1")
    assert done is not None
    assert (done.outcome, done.redrive) == ("succeeded", "r1")
    assert h.store.lookup(0, "deploy:e1") is None
