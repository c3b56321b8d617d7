"""The consumer's ops port on a shared host: a taken port is one clear error (exit 2, no traceback), and
``--port 0`` picks a free port and says which in ``consumer_started``."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from hookgate.consumer.app import serve
from hookgate.consumer.config import ConsumerConfig, GroupSettings
from hookgate.core.config import load_model
from tests.support.consumer_group import create_topics
from tests.support.kafka import free_port
from tests.support.processes import start_service

pytestmark = pytest.mark.kafka

# A brand-new group reads from where consumer.group.start says, and refuses to start without it once that key
# exists (issue #12's group start, merged separately): these groups are new, so they name it when it exists.
GROUP = {"group": {"start": "earliest"}} if "start" in GroupSettings.model_fields else {}


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


async def test_a_port_another_service_holds_is_a_clear_error(kafka_bootstrap: str, topic_prefix: str) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = load_model(
            ConsumerConfig,
            {
                "consumer": {"group_id": f"{topic_prefix}-g", "topics": [f"{topic_prefix}.acme"]}
                | {"listen": {"host": "127.0.0.1", "port": port}},
                "kafka": {"bootstrap_servers": kafka_bootstrap},
            },
            "test",
        )
        with capture_logs() as logs:
            code = await asyncio.wait_for(serve(config, asyncio.Event()), 30)
    assert code == 2
    [failed] = [entry for entry in logs if entry["event"] == "ops_listen_failed"]
    assert failed["port"] == port
    assert failed["log_level"] == "error"
    assert "consumer.listen.port" in failed["hint"]
    assert not [entry for entry in logs if entry["event"] == "consumer_started"]


async def test_port_zero_picks_a_free_port_and_logs_it(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topics(kafka_bootstrap, [topic])
    config = {
        "consumer": {
            "group_id": f"{topic_prefix}-g",
            "topics": [topic],
            "listen": {"host": "127.0.0.1", "port": 8081},
            **GROUP,
        },
        "kafka": {"bootstrap_servers": kafka_bootstrap},
    }
    service = start_service("consumer", config, tmp_path, free_port(), args=["--port", "0"])
    try:
        deadline = time.monotonic() + 60
        ops = None
        while ops is None and time.monotonic() < deadline:
            for line in service.logs().splitlines():
                if line.startswith("{") and orjson.loads(line).get("event") == "consumer_started":
                    ops = orjson.loads(line)["ops"]
            if service.proc.poll() is not None:
                pytest.fail(service.logs())
            await asyncio.sleep(0.2)
        assert ops is not None, service.logs()
        assert ops.startswith("http://127.0.0.1:")
        assert not ops.endswith(":8081")
        ready = False
        while not ready and time.monotonic() < deadline:
            ready = await asyncio.to_thread(_ready, f"{ops}/readyz")
            if not ready:
                await asyncio.sleep(0.2)
        assert ready, service.logs()
    finally:
        assert service.stop() == 0
