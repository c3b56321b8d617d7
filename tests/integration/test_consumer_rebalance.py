"""Two replicas of one group split the partitions; rebalances in mid-stream run no action twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import create_topic, event, produce, scrape, wait_committed
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service
from tests.support.receiver import Receiver, run_receiver

pytestmark = pytest.mark.kafka

EVENTS = 2000
PARTITIONS = 6
# What the group's members own between them: the source topic's partitions and as many of the group's
# re-drive topic (created with the dedupe changelog's count, kafka.topics.partitions = PARTITIONS).
OWNED = 2 * PARTITIONS


def _config(bootstrap: str, prefix: str, group: str, url: str, port: int) -> dict[str, Any]:
    return {
        "consumer": {
            "group_id": group,
            "group": {"start": "earliest"},
            "topics": [f"{prefix}.acme"],
            "listen": {"host": "127.0.0.1", "port": port},
            "log_level": "warning",
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": PARTITIONS}},
        "workflows": [
            {"name": "sink", "action": {"type": "http", "url": f"{url}/sink"}},
            {"name": "elsewhere", "match": {"tenant": "globex"}, "action": {"type": "http", "url": f"{url}/never"}},
        ],
    }


async def _start(bootstrap: str, prefix: str, group: str, receiver: Receiver, tmp: Path) -> Service:
    port = free_port()
    svc = start_service("consumer", _config(bootstrap, prefix, group, receiver.url, port), tmp, port)
    await asyncio.to_thread(svc.wait_ready)
    return svc


async def _split(a: Service, b: Service, timeout: float = 60.0) -> None:
    """Wait until the two replicas own every partition between them, each at least one."""
    async with asyncio.timeout(timeout):
        while True:
            na = await scrape(a.url, "hookgate_consumer_assigned_partitions")
            nb = await scrape(b.url, "hookgate_consumer_assigned_partitions")
            if na > 0 and nb > 0 and na + nb == OWNED:
                return
            await asyncio.sleep(0.2)


async def test_two_replicas_split_partitions_and_rebalances_run_nothing_twice(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Each rebalance happens between two parts of the stream, whatever the machine's speed.

    Part one flows while the second replica joins (rebalance 1); part two is produced only once the two
    split the partitions, and flows while the first replica leaves (rebalance 2); part three only after it left.
    """
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, PARTITIONS)
    ids = [f"reb-{i}" for i in range(EVENTS)]
    first, second, third = ids[:700], ids[700:1400], ids[1400:]

    def stream(part: list[str]) -> asyncio.Task[None]:
        return asyncio.create_task(produce(kafka_bootstrap, topic, [event(i) for i in part], spread=24, pace=0.25))

    async with run_receiver() as receiver:
        a = await _start(kafka_bootstrap, topic_prefix, group, receiver, tmp_path)
        streams = [stream(first)]
        b: Service | None = None
        try:
            await receiver.wait_for(300, timeout=60)
            b = await _start(kafka_bootstrap, topic_prefix, group, receiver, tmp_path)  # rebalance 1: join
            await _split(a, b)
            streams.append(stream(second))
            await receiver.wait_for(len(first) + 100, timeout=120)
            a_done = await scrape(a.url, "hookgate_consumer_deliveries_total", workflow="sink", outcome="succeeded")
            mid = len(receiver.received)
            a_code = await asyncio.to_thread(a.stop)  # rebalance 2: a leaves (SIGTERM)
            await asyncio.gather(*streams)
            streams.append(stream(third))
            await streams[-1]
            await wait_committed(kafka_bootstrap, group, topic, timeout=120)
            b_done = await scrape(b.url, "hookgate_consumer_deliveries_total", workflow="sink", outcome="succeeded")
            b_code = await asyncio.to_thread(b.stop)
        finally:
            for task in streams:
                task.cancel()
            a.stop()
            if b is not None:
                b.stop()
    assert a_code == 0, a.logs()
    assert b_code == 0, b.logs()
    assert mid < EVENTS  # a left with part three still to come
    assert a_done > 0
    assert b_done > 0
    runs = Counter(r.headers["ce-id"] for r in receiver.received)
    assert set(runs) == set(ids)  # none lost
    duplicates = {i: n for i, n in runs.items() if n > 1}
    assert duplicates == {}  # graceful hand-overs: not even the crash window applies
    assert all(r.path == "/sink" for r in receiver.received)
