"""``consumer.group`` reaches aiokafka, and a killed member's partitions move after its session timeout.

With ``session_timeout_ms: 6000`` a member killed with SIGKILL (no leave-group) is dropped by the broker
after about 6 s instead of aiokafka's default 10 s. The time is printed, not asserted (the machine is
noisy); what is asserted is that the survivor takes every partition over, and that the configured values
are the ones aiokafka's group coordinator runs with.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from hookgate.consumer.config import ConsumerConfig
from hookgate.core.config import load_model
from tests.support.events import create_topic, running_consumer, scrape
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka

PARTITIONS = 4
# What the group's members own between them: the source topic's partitions and as many of the group's
# re-drive topic (created with the dedupe changelog's count, kafka.topics.partitions = PARTITIONS).
OWNED = 2 * PARTITIONS
GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "max_poll_interval_ms": 60_000}


async def test_the_group_settings_are_what_aiokafkas_coordinator_runs_with(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    await create_topic(kafka_bootstrap, f"{topic_prefix}.acme", 1)
    port = free_port()
    config = load_model(
        ConsumerConfig, _config(kafka_bootstrap, topic_prefix, f"{topic_prefix}-g", port), "<t>", env={}
    )
    async with running_consumer(config, []) as (pipeline, _):
        runner = pipeline._runner
        assert runner is not None
        consumer = runner._consumer
        assert consumer is not None
        # aiokafka has no public getter for these; its group coordinator holds what it sends the broker.
        coordinator = consumer._coordinator
        assert coordinator._session_timeout_ms == 6000
        assert coordinator._heartbeat_interval_ms == 1000
        assert coordinator._max_poll_interval == 60.0  # aiokafka keeps it in seconds


def _config(bootstrap: str, prefix: str, group: str, port: int) -> dict[str, Any]:
    return {
        "consumer": {
            "group_id": group,
            "topics": [f"{prefix}.acme"],
            "listen": {"host": "127.0.0.1", "port": port},
            "log_level": "warning",
            "group": {**GROUP, "start": "earliest"},
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": PARTITIONS}},
        "workflows": [{"name": "sink", "action": {"type": "http", "url": "http://127.0.0.1:9/never"}}],
    }


async def _assigned(service: Service) -> float:
    return await scrape(service.url, "hookgate_consumer_assigned_partitions")


async def _until_assigned(services: list[Service], want: list[int] | None, timeout: float = 60.0) -> None:
    """Until the services own ``want`` partitions each, or (``want`` None) all of them, each at least one."""
    async with asyncio.timeout(timeout):
        while True:
            counts = [int(await _assigned(s)) for s in services]
            if counts == want or (want is None and sum(counts) == OWNED and min(counts) > 0):
                return
            await asyncio.sleep(0.1)


async def test_a_killed_members_partitions_move_to_the_survivor(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    group = f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, f"{topic_prefix}.acme", PARTITIONS)
    started: list[Service] = []
    try:
        for _ in range(2):
            port = free_port()
            started.append(
                start_service("consumer", _config(kafka_bootstrap, topic_prefix, group, port), tmp_path, port)
            )
            await asyncio.to_thread(started[-1].wait_ready)
        killed, survivor = started
        await _until_assigned(started, None)

        killed.proc.kill()  # SIGKILL: no leave-group, the broker notices only when the session times out
        await asyncio.to_thread(killed.proc.wait)
        t0 = time.monotonic()
        await _until_assigned([survivor], [OWNED])
        took = time.monotonic() - t0
        print(f"\nthe survivor owned all {OWNED} partitions {took:.1f} s after the kill (session_timeout_ms=6000)")
    finally:
        for service in started:
            service.stop()
    assert survivor.proc.returncode == 0, survivor.logs()
