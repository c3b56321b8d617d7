"""``hookgate consumer --reload`` as a developer runs it: a change to the handler module or the config restarts
the consumer (new workflows in force, same ops port), and SIGTERM stops it and its child cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from hookgate.consumer.config import GroupSettings
from tests.support.consumer_group import create_topics
from tests.support.kafka import free_port

pytestmark = pytest.mark.kafka

# A brand-new group reads from where consumer.group.start says, and refuses to start without it once that key
# exists (issue #12's group start, merged separately): these groups are new, so they name it when it exists.
GROUP = {"group": {"start": "earliest"}} if "start" in GroupSettings.model_fields else {}

DEADLINE_S = 90.0
HANDLER_SPEC = "reloadmods.handlers:app"

HANDLERS = """
from hookgate.consumer import Consumer, Event, match

app = Consumer("team")

@app.workflow({name!r}, match=match.type("com.github.push"))
async def handler(event: Event) -> None:
    return None
"""


def json_lines(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return out


def wait_for(what: str, found: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if found():
            return
        if proc.poll() is not None:
            pytest.fail(f"--reload exited ({proc.returncode}) before {what}:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    pytest.fail(f"no {what} within {DEADLINE_S} s:\n{log.read_text(errors='replace')}")


def started_with(log: Path) -> list[list[str]]:
    return [line["workflows"] for line in json_lines(log) if line.get("event") == "consumer_started"]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def test_a_change_to_the_handlers_or_the_config_restarts_the_consumer(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = f"{topic_prefix}.acme"
    asyncio.run(create_topics(kafka_bootstrap, [topic]))
    port = free_port()
    config: dict[str, Any] = {
        "consumer": {
            "group_id": f"{topic_prefix}-reload",
            "topics": [topic],
            "listen": {"host": "127.0.0.1", "port": port},
            "shutdown_grace_seconds": 2,
            **GROUP,
        },
        "kafka": {"bootstrap_servers": kafka_bootstrap},
    }
    cfg_path = tmp_path / "consumer.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    pkg = tmp_path / "reloadmods"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    handlers = pkg / "handlers.py"
    handlers.write_text(textwrap.dedent(HANDLERS.format(name="first")))
    log = tmp_path / "reload.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hookgate", "consumer", "--reload", "-c", "consumer.yaml", "--handlers", HANDLER_SPEC],
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        wait_for("first start", lambda: started_with(log) == [["first"]], proc, log)
        wait_for("readiness", lambda: ready(port), proc, log)
        assert f"reload: consumer ops routes on http://127.0.0.1:{port}" in log.read_text()

        handlers.write_text(textwrap.dedent(HANDLERS.format(name="second")))
        wait_for("a restart with the edited handler", lambda: ["second"] in started_with(log), proc, log)
        assert "reloadmods/handlers.py changed; restarting the consumer" in log.read_text()

        config["workflows"] = [
            {"name": "from-yaml", "match": {"type": "x"}, "action": {"type": "http", "url": "http://127.0.0.1:9/x"}}
        ]
        cfg_path.write_text(yaml.safe_dump(config))
        wait_for("a restart with the edited config", lambda: ["from-yaml", "second"] in started_with(log), proc, log)
        wait_for("readiness on the same port", lambda: ready(port), proc, log)
        # Every restart stopped the previous consumer first: it drained and left its group.
        stopped = [line for line in json_lines(log) if line.get("event") == "consumer_stopped"]
        assert len(stopped) == len(started_with(log)) - 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()
    assert len([line for line in json_lines(log) if line.get("event") == "consumer_stopped"]) == len(started_with(log))
