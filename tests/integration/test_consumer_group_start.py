"""``consumer.group.start``: where a group with no committed offsets starts, against the real broker.

``earliest`` reads every retained event, ``latest`` only those written after it joined, a time the first
at or after it; without ``start`` a brand-new group refuses to start, naming the choices, while an
established group needs none. The start position is committed at once, so a ``latest`` group restarted
before its first event still reads the events that arrived while it was down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from aiokafka.structs import TopicPartition

from hookgate.consumer import Consumer, Event
from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.engine.start import GroupStartRefused
from hookgate.core.config import load_model
from tests.support.events import create_topic, event, group_offsets, produce, running_consumer

pytestmark = pytest.mark.kafka


class Seen:
    """A Python handler that remembers the ids it ran for."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._ran = asyncio.Event()
        self.app = Consumer("start-test")
        self.app.add("collect", self._collect)

    async def _collect(self, event: Event) -> None:
        self.ids.append(event.id)
        self._ran.set()

    async def until(self, *ids: str) -> None:
        async with asyncio.timeout(60):
            while True:
                self._ran.clear()  # before the check: nothing runs between the two (no await)
                if set(ids) <= set(self.ids):
                    return
                await self._ran.wait()


def _config(bootstrap: str, prefix: str, group: str, start: str | None) -> ConsumerConfig:
    """A consumer of ``{prefix}.acme`` in ``group``; ``start`` None leaves consumer.group.start unset."""
    data: dict[str, Any] = {
        "consumer": {
            "group_id": group,
            "topics": [f"{prefix}.acme"],
            "listen": {"host": "127.0.0.1", "port": 0},
            "group": {"start": start} if start is not None else {},
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": 3}},
    }
    return load_model(ConsumerConfig, data, "<test>", env={})


@asynccontextmanager
async def _running(config: ConsumerConfig, seen: Seen) -> AsyncIterator[None]:
    async with running_consumer(config, seen.app.workflows):
        yield


async def test_earliest_latest_and_a_time_start_where_they_say(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 1)  # one partition: the offsets below are exact
    await produce(kafka_bootstrap, topic, [event("old-1"), event("old-2")])
    await asyncio.sleep(0.05)  # record timestamps are milliseconds: keep the boundary between the batches clear
    boundary = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await produce(kafka_bootstrap, topic, [event("mid-1"), event("mid-2")])

    earliest, latest, timed = Seen(), Seen(), Seen()
    with structlog.testing.capture_logs() as logs:
        async with (
            _running(_config(kafka_bootstrap, topic_prefix, f"{topic_prefix}-earliest", "earliest"), earliest),
            _running(_config(kafka_bootstrap, topic_prefix, f"{topic_prefix}-latest", "latest"), latest),
            _running(_config(kafka_bootstrap, topic_prefix, f"{topic_prefix}-time", boundary.isoformat()), timed),
        ):
            await produce(kafka_bootstrap, topic, [event("new-1"), event("new-2")])
            await earliest.until("old-1", "old-2", "mid-1", "mid-2", "new-1", "new-2")
            await latest.until("new-1", "new-2")
            await timed.until("mid-1", "mid-2", "new-1", "new-2")
    assert sorted(earliest.ids) == ["mid-1", "mid-2", "new-1", "new-2", "old-1", "old-2"]
    assert sorted(latest.ids) == ["new-1", "new-2"]
    assert sorted(timed.ids) == ["mid-1", "mid-2", "new-1", "new-2"]

    # One line per assignment says where each group started, with the offsets (the source topic's here; the
    # group's re-drive topic, empty, starts at 0 in every case).
    starts = {e["group"]: e for e in logs if e["event"] == "group_start"}

    def source_offsets(group: str) -> dict[str, int]:
        return {k: v for k, v in starts[group]["offsets"].items() if k.startswith(f"{topic}:")}

    assert starts[f"{topic_prefix}-earliest"]["start"] == "earliest"
    assert source_offsets(f"{topic_prefix}-earliest") == {f"{topic}:0": 0}
    assert starts[f"{topic_prefix}-latest"]["start"] == "latest"
    assert source_offsets(f"{topic_prefix}-latest") == {f"{topic}:0": 4}
    assert starts[f"{topic_prefix}-time"]["start"] == boundary.isoformat()
    assert source_offsets(f"{topic_prefix}-time") == {f"{topic}:0": 2}


async def test_a_new_group_without_start_refuses_and_an_established_one_needs_none(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 2)
    await produce(kafka_bootstrap, topic, [event("e1")])

    seen = Seen()
    config = _config(kafka_bootstrap, topic_prefix, group, None)
    with pytest.raises(GroupStartRefused) as refused:
        async with _running(config, seen):
            pass
    message = str(refused.value)
    assert "consumer.group.start" in message
    assert all(choice in message for choice in ("earliest", "latest", "RFC 3339"))
    assert seen.ids == []
    assert await group_offsets(kafka_bootstrap, group) == {}  # it read and committed nothing

    # Told where to start, it runs; afterwards it has offsets, and without start it simply continues.
    async with _running(_config(kafka_bootstrap, topic_prefix, group, "earliest"), seen):
        await seen.until("e1")
    await produce(kafka_bootstrap, topic, [event("e2")])
    async with _running(config, seen):
        await seen.until("e2")
    assert seen.ids == ["e1", "e2"]


async def test_a_latest_start_is_committed_at_once_so_a_restart_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    await produce(kafka_bootstrap, topic, [event("before")])
    seen = Seen()
    config = _config(kafka_bootstrap, topic_prefix, group, "latest")
    async with _running(config, seen):
        pass  # joined and left without a single event
    assert (await group_offsets(kafka_bootstrap, group))[TopicPartition(topic, 0)] == 1
    await produce(kafka_bootstrap, topic, [event("while-down")])  # the gateway accepted it meanwhile
    async with _running(config, seen):
        await seen.until("while-down")
    assert seen.ids == ["while-down"]


async def test_the_refusal_is_exit_status_2_for_the_process(kafka_bootstrap: str, topic_prefix: str) -> None:
    """The pipeline raises; ``serve`` (what ``hookgate consumer`` runs) turns that into exit status 2."""
    from hookgate.consumer.app import serve

    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 1)
    config = _config(kafka_bootstrap, topic_prefix, f"{topic_prefix}-g", None)
    code = await asyncio.wait_for(serve(config, asyncio.Event()), 60)
    assert code == 2
    # A supervisor of several workers refuses once, before starting any (each would refuse, and be restarted).
    supervised = config.model_copy(update={"consumer": config.consumer.model_copy(update={"workers": 2})})
    code = await asyncio.wait_for(serve(supervised, asyncio.Event(), worker_command=["false"]), 60)
    assert code == 2
