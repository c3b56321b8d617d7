"""``hookgate gateway`` reloads its YAML triggers on SIGHUP, without a restart; an invalid file keeps them."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.support.builders import github_signature, github_trigger, new_trigger_id
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka


async def push(http: aiohttp.ClientSession, gw: Service, tid: str) -> int:
    body = b'{"zen": "reload"}'
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": github_signature(body)}
    async with http.post(f"{gw.url}/hooks/{tid}", data=body, headers=headers) as resp:
        return resp.status


async def test_sighup_reloads_the_triggers(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    first, second = new_trigger_id(), new_trigger_id()
    port = free_port()
    config: dict[str, Any] = {
        "gateway": {"listen": {"host": "127.0.0.1", "port": port}},
        "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 1}},
        "triggers": [github_trigger(first)],
    }
    gw = start_service("gateway", config, tmp_path, port)
    path = tmp_path / f"gateway-{port}.yaml"
    try:
        gw.wait_ready()
        async with aiohttp.ClientSession() as http:
            assert await push(http, gw, first) == 202
            assert await push(http, gw, second) == 404

            path.write_text(yaml.safe_dump({**config, "triggers": [github_trigger(second, name="second")]}))
            gw.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while await push(http, gw, second) != 202:
                assert time.monotonic() < deadline, gw.logs()
                await asyncio.sleep(0.1)
            assert await push(http, gw, first) == 404  # removed from the file: no longer served

            bad = github_trigger(new_trigger_id(), name="bad", verify={"type": "github"})
            path.write_text(yaml.safe_dump({**config, "triggers": [bad]}))
            gw.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while "triggers_reload_failed" not in gw.logs():
                assert time.monotonic() < deadline, gw.logs()
                await asyncio.sleep(0.1)
            assert "triggers[0].verify.secrets" in gw.logs()
            assert await push(http, gw, second) == 202  # the old set is kept
        assert gw.proc.poll() is None  # SIGHUP reloads; it never ends the process
    finally:
        gw.stop()
