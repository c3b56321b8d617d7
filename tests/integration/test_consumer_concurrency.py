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

from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.envelope import Envelope
from tests.support.events import consumer_config, create_topic, event, produce, running_consumer, wait_committed

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
