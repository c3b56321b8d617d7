"""``gateway.workers: 2``: two supervised gateway processes on one port (SO_REUSEPORT), one scrape target,
and one SIGTERM that drains both without losing an accepted event (real broker)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import github_signature, github_trigger, new_trigger_id, read_topic
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka


def _config(bootstrap: str, prefix: str, tid: str, port: int, ops_port: int) -> dict[str, Any]:
    return {
        "gateway": {
            "listen": {"host": "127.0.0.1", "port": port},
            "ops_listen": {"host": "127.0.0.1", "port": ops_port},
            "workers": 2,
            "shutdown_grace_seconds": 10,
            "limits": {"max_concurrent_per_client": None},
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": 3}},
        "triggers": [github_trigger(tid)],
    }


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


async def _accepted_by_worker(ops_url: str) -> dict[str, float]:
    """Accepted requests per ``worker`` label, from the parent's merged ``/metrics``."""
    async with aiohttp.ClientSession() as http, http.get(f"{ops_url}/metrics") as resp:
        text = await resp.text()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "hookgate_gateway_requests_total" and s.labels.get("outcome") == "accepted":
                out[s.labels["worker"]] = out.get(s.labels["worker"], 0.0) + s.value
    return out


async def _post(http: aiohttp.ClientSession, url: str, n: int) -> str | None:
    """One signed push; its event id when the gateway answered 202, None when it refused or was gone."""
    body = json.dumps({"n": n, "repository": {"full_name": "acme/app"}}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": f"delivery-{n}",
        "X-Hub-Signature-256": github_signature(body),
    }
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            if resp.status != 202:
                return None
            event_id: str = (await resp.json())["id"]
            return event_id
    except (aiohttp.ClientError, OSError):
        return None


def _listening_pids(svc: Service) -> set[int]:
    lines = [json.loads(line) for line in svc.logs().splitlines() if '"event":"gateway_listening"' in line]
    return {line["pid"] for line in lines}


async def test_two_workers_share_the_port_and_sigterm_drains_both_without_losing_an_accepted_event(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tid = new_trigger_id()
    port, ops_port = free_port(), free_port()
    svc = start_service("gateway", _config(kafka_bootstrap, topic_prefix, tid, port, ops_port), tmp_path, ops_port)
    url = f"http://127.0.0.1:{port}/hooks/{tid}"
    accepted: list[str] = []
    try:
        await asyncio.to_thread(svc.wait_ready)  # the parent's /readyz: every worker's producer connected
        workers = _children(svc.proc.pid)
        assert len(workers) == 2
        # A fresh connection per request, so that the kernel spreads them over both listening sockets.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            first = await asyncio.gather(*(_post(http, url, n) for n in range(200)))
            assert all(first), "every request before SIGTERM is accepted"
            accepted.extend(i for i in first if i is not None)
            async with asyncio.timeout(10):  # counted once the reply is written
                while True:
                    per_worker = await _accepted_by_worker(svc.url)
                    if sum(per_worker.values()) >= 200:
                        break
                    await asyncio.sleep(0.1)

            # Requests keep coming while the parent passes SIGTERM to both workers.
            async def keep_sending(start: int) -> None:
                n = start
                while svc.proc.poll() is None:
                    got = await asyncio.gather(*(_post(http, url, n + i) for i in range(20)))
                    accepted.extend(i for i in got if i is not None)
                    n += 20

            sender = asyncio.create_task(keep_sending(10_000))
            await asyncio.sleep(0.5)
            svc.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(svc.proc.wait, 60)
            await sender
    finally:
        if svc.proc.poll() is None:
            svc.stop(signal.SIGKILL)
    assert code == 0, svc.logs()

    assert set(per_worker) == {"0", "1"}
    assert all(v > 0 for v in per_worker.values()), per_worker  # both workers accepted requests
    assert sum(per_worker.values()) == 200
    assert _listening_pids(svc) == set(workers)  # two processes, distinct pids, each on the shared port
    assert not any(_alive(pid) for pid in workers)
    logs = svc.logs()
    assert logs.count('"event":"gateway_stopped"') == 2  # each drained and closed its producer
    assert '"event":"workers_stopped"' in logs

    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=len(accepted), timeout=30)
    written = {dict(r.headers)["ce_id"].decode() for r in records}
    assert len(accepted) > 200  # some were accepted while the workers drained
    assert set(accepted) <= written  # every 202 is a record


async def test_a_killed_worker_is_restarted_and_serves_again(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tid = new_trigger_id()
    port, ops_port = free_port(), free_port()
    svc = start_service("gateway", _config(kafka_bootstrap, topic_prefix, tid, port, ops_port), tmp_path, ops_port)
    url = f"http://127.0.0.1:{port}/hooks/{tid}"
    try:
        await asyncio.to_thread(svc.wait_ready)
        victim = _children(svc.proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        async with asyncio.timeout(60):
            while True:
                now = _children(svc.proc.pid)
                if victim not in now and len(now) == 2:
                    break
                await asyncio.sleep(0.2)
        await asyncio.to_thread(svc.wait_ready)  # the new worker's producer connected
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            got = await asyncio.gather(*(_post(http, url, n) for n in range(100)))
        per_worker = await _accepted_by_worker(svc.url)
    finally:
        code = await asyncio.to_thread(svc.stop, signal.SIGTERM, 60.0)
    assert code == 0, svc.logs()
    assert all(got)
    assert all(v > 0 for v in per_worker.values()), per_worker  # the restarted worker takes its share
    assert '"event":"worker_exited"' in svc.logs()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
