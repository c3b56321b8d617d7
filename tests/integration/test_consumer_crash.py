"""kill -9 of a consumer process in mid-stream, then a restart: no event lost, no action run twice."""

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

EVENTS = 3000
MAX_IN_FLIGHT = 50


def _config(bootstrap: str, prefix: str, group: str, url: str, port: int, commit_every: float) -> dict[str, Any]:
    return {
        "consumer": {
            "group_id": group,
            "group": {"start": "earliest"},
            "topic_pattern": f"^{prefix}\\.",
            "listen": {"host": "127.0.0.1", "port": port},
            "max_in_flight": MAX_IN_FLIGHT,
            "commit_interval_seconds": commit_every,
            "log_level": "warning",
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": 3}},
        "workflows": [
            {"name": "sink", "action": {"type": "http", "url": f"{url}/sink"}},
            {"name": "elsewhere", "match": {"tenant": "globex"}, "action": {"type": "http", "url": f"{url}/never"}},
        ],
    }


async def _start(
    bootstrap: str, prefix: str, group: str, receiver: Receiver, tmp: Path, commit_every: float
) -> Service:
    port = free_port()
    svc = start_service("consumer", _config(bootstrap, prefix, group, receiver.url, port, commit_every), tmp, port)
    await asyncio.to_thread(svc.wait_ready)
    return svc


async def _distinct(receiver: Receiver, count: int, timeout: float = 120.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            receiver.arrived.clear()
            if len({r.headers["ce-id"] for r in receiver.received}) >= count:
                return
            await receiver.arrived.wait()


async def test_kill_9_in_mid_stream_loses_nothing_and_runs_nothing_twice(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 3)
    ids = [f"crash-{i}" for i in range(EVENTS)]
    async with run_receiver() as receiver:
        # The first process never reaches its commit interval: everything it finished is redelivered.
        first = await _start(kafka_bootstrap, topic_prefix, group, receiver, tmp_path, commit_every=300)
        stream = asyncio.create_task(produce(kafka_bootstrap, topic, [event(i) for i in ids], spread=9, pace=0.05))
        try:
            await receiver.wait_for(EVENTS // 3, timeout=120)
            first.proc.kill()  # SIGKILL: no drain, no commit, no leave-group
            await asyncio.to_thread(first.proc.wait)
            at_kill = len({r.headers["ce-id"] for r in receiver.received})
            second = await _start(kafka_bootstrap, topic_prefix, group, receiver, tmp_path, commit_every=1)
            try:
                await stream
                await _distinct(receiver, EVENTS)
                await wait_committed(kafka_bootstrap, group, topic, timeout=120)
                skipped = await scrape(
                    second.url, "hookgate_consumer_deliveries_total", workflow="sink", outcome="deduplicated"
                )
            finally:
                code = await asyncio.to_thread(second.stop)
            assert code == 0, second.logs()
        finally:
            stream.cancel()
            first.stop()

    assert at_kill < EVENTS  # the crash really was in mid-stream
    runs = Counter(r.headers["ce-id"] for r in receiver.received)
    assert set(runs) == set(ids)  # none lost
    assert all(r.path == "/sink" for r in receiver.received)  # and only the matching workflow ran
    # "Never twice": the only repeats allowed are runs that were in flight at the kill (the action reached
    # the target but its done record was not written yet), at most max_in_flight; each carries the same
    # Idempotency-Key, so a target honouring it performs the side effect once.
    repeated = {i: n for i, n in runs.items() if n > 1}
    assert len(repeated) <= MAX_IN_FLIGHT, repeated
    assert all(n == 2 for n in repeated.values()), repeated
    # Everything the first process finished was redelivered (nothing was committed) and skipped, save the
    # runs cut off in the window.
    assert skipped >= at_kill - MAX_IN_FLIGHT
    assert skipped + len(repeated) >= at_kill
    keys = Counter(r.headers["Idempotency-Key"] for r in receiver.received)
    assert set(keys) == {f"sink:{i}" for i in ids}
