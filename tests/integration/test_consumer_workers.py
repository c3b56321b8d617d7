"""``consumer.workers: 2``: two supervised processes in one group, one scrape target, one SIGTERM drains both."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import create_topic, event, produce, scrape, wait_committed
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service
from tests.support.receiver import Receiver, run_receiver

pytestmark = pytest.mark.kafka

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
            "workers": 2,
            "log_level": "info",
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": PARTITIONS}},
        "workflows": [{"name": "sink", "action": {"type": "http", "url": f"{url}/sink"}}],
    }


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _split(svc: Service, timeout: float = 60.0) -> None:
    """Until both workers own partitions and all of them between them (read from the parent's /metrics)."""
    async with asyncio.timeout(timeout):
        while True:
            w0 = await scrape(svc.url, "hookgate_consumer_assigned_partitions", worker="0")
            w1 = await scrape(svc.url, "hookgate_consumer_assigned_partitions", worker="1")
            if w0 > 0 and w1 > 0 and w0 + w1 == OWNED:
                return
            await asyncio.sleep(0.2)


async def _restarts(svc: Service) -> float:
    return sum([await scrape(svc.url, "hookgate_consumer_worker_restarts_total", worker=w) for w in ("0", "1")])


async def _distinct(receiver: Receiver, count: int, timeout: float = 120.0) -> None:
    async with asyncio.timeout(timeout):
        while len({r.headers["ce-id"] for r in receiver.received}) < count:
            receiver.arrived.clear()
            await receiver.arrived.wait()


async def test_two_workers_consume_every_event_once_and_sigterm_drains_both(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, PARTITIONS)
    ids = [f"workers-{i}" for i in range(600)]
    async with run_receiver() as receiver:
        port = free_port()
        svc = start_service(
            "consumer", _config(kafka_bootstrap, topic_prefix, group, receiver.url, port), tmp_path, port
        )
        try:
            await asyncio.to_thread(svc.wait_ready)  # the parent's /readyz: every worker ready
            workers = _children(svc.proc.pid)
            assert len(workers) == 2
            await _split(svc)
            await produce(kafka_bootstrap, topic, [event(i) for i in ids], spread=60)
            await _distinct(receiver, len(ids))
            await wait_committed(kafka_bootstrap, group, topic)
            delivered = [
                await scrape(
                    svc.url, "hookgate_consumer_deliveries_total", worker=w, workflow="sink", outcome="succeeded"
                )
                for w in ("0", "1")
            ]
        finally:
            code = await asyncio.to_thread(svc.stop, signal.SIGTERM, 90.0)
        assert code == 0, svc.logs()

    runs = Counter(r.headers["ce-id"] for r in receiver.received)
    assert set(runs) == set(ids)
    assert set(runs.values()) == {1}  # every event once
    assert all(n > 0 for n in delivered)  # both workers did part of the work
    assert sum(delivered) == len(ids)
    assert not any(_alive(pid) for pid in workers)  # SIGTERM on the parent ended both workers
    logs = svc.logs()
    assert logs.count('"event":"consumer_left_group"') == 2  # each drained, committed and left the group
    assert '"event":"workers_stopped"' in logs


async def test_a_crashed_worker_is_restarted_and_the_group_finishes_the_stream(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, PARTITIONS)
    first, second = [f"before-{i}" for i in range(200)], [f"after-{i}" for i in range(200)]
    async with run_receiver() as receiver:
        port = free_port()
        svc = start_service(
            "consumer", _config(kafka_bootstrap, topic_prefix, group, receiver.url, port), tmp_path, port
        )
        try:
            await asyncio.to_thread(svc.wait_ready)
            await produce(kafka_bootstrap, topic, [event(i) for i in first], spread=60)
            await _distinct(receiver, len(first))
            victim = _children(svc.proc.pid)[0]
            os.kill(victim, signal.SIGKILL)
            async with asyncio.timeout(60):
                while True:
                    if await _restarts(svc) >= 1:
                        break
                    await asyncio.sleep(0.2)
            await asyncio.to_thread(svc.wait_ready)  # the restarted worker rejoined
            assert victim not in _children(svc.proc.pid)
            assert len(_children(svc.proc.pid)) == 2
            await produce(kafka_bootstrap, topic, [event(i) for i in second], spread=60)
            await _distinct(receiver, len(first) + len(second))
            await wait_committed(kafka_bootstrap, group, topic)
        finally:
            code = await asyncio.to_thread(svc.stop, signal.SIGTERM, 90.0)
        assert code == 0, svc.logs()
    assert {r.headers["ce-id"] for r in receiver.received} == {*first, *second}
    assert '"event":"worker_exited"' in svc.logs()
