"""How many runs the consumer has going at once, against a real broker: the limits are reached, never passed.

One key no longer serialises a workflow (the default tenant key used to make a tenant drain one target
round trip at a time); ``max_in_flight_per_partition`` and ``max_in_flight`` bound the runs; a workflow
with ``ordered: true`` runs the events of one record key one at a time, in offset order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest
from aiokafka.consumer.fetcher import FetchResult

from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.envelope import Envelope
from tests.support.events import (
    consumer_config,
    create_topic,
    event,
    produce,
    running_consumer,
    sample,
    wait_committed,
)

pytestmark = pytest.mark.kafka

HOLD_BOUND = 2.0
"""Seconds a run waits for the others to join it at most: a bound so a test cannot hang, never asserted on."""


class Gate:
    """A workflow whose runs hold until ``hold`` of them are in progress together, recording the most seen."""

    target = "test:gate"

    def __init__(self, name: str, *, hold: int, ordered: bool = False) -> None:
        self.name = name
        self.ordered = ordered
        self.hold = hold
        self.current = 0
        self.most = 0
        self.by_key: Counter[str] = Counter()
        self.most_by_key: Counter[str] = Counter()
        self.order: list[str] = []
        self.full = asyncio.Event()

    def matches(self, event: Envelope) -> bool:
        return True

    async def run(self, event: Envelope) -> ActionResult:
        key = event.subject or ""
        self.current += 1
        self.by_key[key] += 1
        self.most = max(self.most, self.current)
        self.most_by_key[key] = max(self.most_by_key[key], self.by_key[key])
        self.order.append(event.id)
        if self.current >= self.hold:
            self.full.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD_BOUND):
                await self.full.wait()
        self.current -= 1
        self.by_key[key] -= 1
        if self.current == 0:
            self.full.clear()  # the next wave holds again
        return ActionResult(ok=True, status=200)


def _keyed(event_id: str, key: str) -> Envelope:
    ev = event(event_id)
    return Envelope(ev.id, ev.source, ev.type, ev.data, ev.time, key, ev.datacontenttype, ev.extensions)


async def test_one_key_fills_its_partition_limit_for_an_unordered_workflow(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    ids = [f"one-key-{i}" for i in range(40)]
    await produce(kafka_bootstrap, topic, [event(i) for i in ids], key=b"acme")  # key = tenant: one key
    gate = Gate("gate", hold=8)
    config = consumer_config(kafka_bootstrap, topic_prefix, group, [], max_in_flight_per_partition=8)
    async with running_consumer(config, [gate]):
        await wait_committed(kafka_bootstrap, group, topic)
    assert sorted(gate.order) == sorted(ids)
    assert gate.most == 8  # the partition's limit, reached with a single key, and never passed


async def test_the_process_limit_bounds_every_partition_together(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 3)
    ids = [f"three-parts-{i}" for i in range(90)]
    await produce(kafka_bootstrap, topic, [event(i) for i in ids], spread=30)
    gate = Gate("gate", hold=10)
    config = consumer_config(kafka_bootstrap, topic_prefix, group, [], max_in_flight=10, max_in_flight_per_partition=8)
    async with running_consumer(config, [gate]):
        await wait_committed(kafka_bootstrap, group, topic)
    assert sorted(gate.order) == sorted(ids)
    assert gate.most == 10  # more than one partition's 8: the process limit is what binds


async def test_an_ordered_workflow_runs_one_key_at_a_time_in_offset_order(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    events = [_keyed(f"ordered-{i}", "ab"[i % 2]) for i in range(12)]
    producer_order = [ev.id for ev in events]
    # The record key is the entity (the event's subject), as the gateway's default key makes it.
    for ev in events:
        await produce(kafka_bootstrap, topic, [ev], key=(ev.subject or "").encode())
    ordered, free = Gate("ordered", hold=2, ordered=True), Gate("free", hold=4)
    config = consumer_config(kafka_bootstrap, topic_prefix, group, [], max_in_flight_per_partition=8)
    async with running_consumer(config, [ordered, free]):
        await wait_committed(kafka_bootstrap, group, topic)
    assert dict(ordered.most_by_key) == {"a": 1, "b": 1}  # never two runs of one key at once
    assert ordered.most == 2  # but the two keys run side by side
    for key in "ab":
        mine = [i for i in producer_order if int(i.split("-")[1]) % 2 == "ab".index(key)]
        assert [i for i in ordered.order if i in mine] == mine  # in offset order
    assert free.most == 4  # the unordered workflow of the same records is not held back


class Quick:
    """A workflow that records each event and succeeds at once (optionally after ``hold`` seconds)."""

    target = "test:quick"
    ordered = False

    def __init__(self, name: str, hold: float = 0.0) -> None:
        self.name = name
        self.hold = hold
        self.seen: list[str] = []

    def matches(self, event: Envelope) -> bool:
        return True

    async def run(self, event: Envelope) -> ActionResult:
        if self.hold:
            await asyncio.sleep(self.hold)
        self.seen.append(event.id)
        return ActionResult(ok=True, status=200)


def _count_discarded_fetches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the fetched partition results aiokafka throws away (a paused partition's, or one sought away)."""
    discarded = [0]
    original = FetchResult.check_assignment

    def check(self: FetchResult, tp: object) -> bool:
        kept: bool = original(self, tp)
        discarded[0] += not kept
        return kept

    monkeypatch.setattr(FetchResult, "check_assignment", check)
    return discarded


async def test_a_full_process_waits_for_room_without_discarding_what_was_fetched(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One fetch holds far more than max_in_flight records: the process is full again and again. Pausing the
    # partition then made aiokafka drop the rest of the fetch, to fetch it again on resume (a third of the
    # throughput at max_in_flight: 100).
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    ids = [f"full-{i}" for i in range(600)]
    await produce(kafka_bootstrap, topic, [event(i, data=b'{"pad":"' + b"x" * 1000 + b'"}') for i in ids])
    discarded = _count_discarded_fetches(monkeypatch)
    quick = Quick("quick")
    config = consumer_config(kafka_bootstrap, topic_prefix, group, [], max_in_flight=20)
    async with running_consumer(config, [quick]):
        await wait_committed(kafka_bootstrap, group, topic)
    assert sorted(quick.seen) == sorted(ids)
    assert discarded[0] == 0


async def test_a_process_full_for_longer_than_the_poll_interval_stays_in_its_group(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    # Each run holds 1.5 s, the process is full for all of it, and a member that does not poll for
    # max_poll_interval_ms (1 s) leaves its group: the loop polls (paused) at half of it.
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    ids = [f"slow-{i}" for i in range(12)]
    await produce(kafka_bootstrap, topic, [event(i) for i in ids])
    slow = Quick("slow", hold=1.5)
    config = consumer_config(kafka_bootstrap, topic_prefix, group, [], max_in_flight=4)
    short = config.consumer.group.model_copy(update={"max_poll_interval_ms": 1000})
    config = config.model_copy(update={"consumer": config.consumer.model_copy(update={"group": short})})
    async with running_consumer(config, [slow]) as (_, metrics):
        joined = sample(metrics, "hookgate_consumer_rebalances_total", kind="revoked")  # the join's empty one
        await wait_committed(kafka_bootstrap, group, topic)
        revoked = sample(metrics, "hookgate_consumer_rebalances_total", kind="revoked") - joined
    assert sorted(slow.seen) == sorted(ids)
    assert revoked == 0  # never dropped from the group, so never had its partition taken
