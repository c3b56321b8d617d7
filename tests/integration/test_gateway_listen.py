"""A port another process holds is one clear error for the gateway: exit 2, a ``listen_failed`` line naming
the key to change, no traceback; nothing is left running (the webhook, ops and admin listeners alike)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from structlog.testing import capture_logs

from hookgate.core.config import load_model
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.app import serve
from tests.support.builders import github_trigger, new_trigger_id
from tests.support.kafka import free_port

pytestmark = pytest.mark.kafka


@contextmanager
def held_port() -> Iterator[int]:
    """A loopback port this test holds (bound and listening) for as long as the block runs."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def gateway_config(kafka_bootstrap: str, topic_prefix: str, **gateway: Any) -> dict[str, Any]:
    return {
        "gateway": {"listen": {"host": "127.0.0.1", "port": free_port()}, **gateway},
        "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 1}},
        "triggers": [github_trigger(new_trigger_id())],
    }


async def refused(raw: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    config = load_model(GatewayConfig, raw, "test")
    with capture_logs() as logs:
        code = await asyncio.wait_for(serve(config, asyncio.Event()), 60)
    return code, logs


@pytest.mark.parametrize("listener", ["listen", "ops_listen", "admin"])
async def test_a_taken_port_ends_the_gateway_with_the_key_to_change(
    listener: str, kafka_bootstrap: str, topic_prefix: str
) -> None:
    with held_port() as port:
        raw = gateway_config(kafka_bootstrap, topic_prefix)
        where = {"host": "127.0.0.1", "port": port}
        if listener == "admin":
            token = {"name": "ops", "token": "t" * 40, "scope": "admin"}
            raw["gateway"]["admin"] = {"listen": where, "tokens": [token]}
            key = "gateway.admin.listen.port"
        else:
            raw["gateway"][listener] = where
            key = f"gateway.{listener}.port"
        code, logs = await refused(raw)
    assert code == 2
    [failed] = [entry for entry in logs if entry["event"] == "listen_failed"]
    assert failed["log_level"] == "error"
    assert failed["key"] == key
    assert failed["port"] == port
    assert key in failed["message"]
    # What had started (the producer, the trigger catalog: the webhook app's lifecycle) stopped before the return;
    # the ops listener binds before that lifecycle begins, so its failure starts nothing.
    events = [entry["event"] for entry in logs]
    assert ("gateway_started" in events) == ("gateway_stopped" in events), events
    assert ("gateway_started" in events) == (listener != "ops_listen"), events
    if listener != "admin":  # the admin listener starts after the webhook one
        assert not [entry for entry in logs if entry["event"] == "gateway_listening" and entry["port"] == port]


def test_the_cli_exits_2_without_a_traceback(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    with held_port() as port:
        raw = gateway_config(kafka_bootstrap, topic_prefix)
        raw["gateway"]["listen"]["port"] = port
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(raw))
        done = subprocess.run(
            [sys.executable, "-m", "hookgate", "gateway", "-c", str(path)],
            capture_output=True,
            timeout=120,
            check=False,
        )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 2, output
    assert "Traceback" not in output
    lines = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith(b"{")]
    [failed] = [line for line in lines if line["event"] == "listen_failed"]
    assert failed["key"] == "gateway.listen.port"
