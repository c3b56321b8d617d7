"""Reloading workflows: a valid file swaps the set whole; anything wrong keeps the old set and says where."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.reload import install_reload, reload_workflows
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.envelope import Envelope

PUSH = Envelope(id="1", source="/s", type="com.github.push", data=b"{}", extensions={"tenant": "acme"})


def write(path: Path, workflows: list[dict[str, Any]] | str) -> None:
    if isinstance(workflows, str):
        path.write_text(workflows)
        return
    path.write_text(yaml.safe_dump({"consumer": {"topics": ["hookgate.acme"]}, "workflows": workflows}))


def wf(name: str, **match: Any) -> dict[str, Any]:
    return {"name": name, "match": match, "action": {"url": f"http://127.0.0.1:9/{name}"}}


async def test_reload_swaps_and_keeps_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "consumer.yaml"
    async with HttpClients() as clients:

        def build(config: ConsumerConfig) -> list[Workflow]:
            built: list[Workflow] = list(build_workflows(config.workflows, clients))
            if any(w.name == "reserved" for w in built):
                raise ValueError("workflow name(s) defined twice (YAML and Python handlers): reserved")
            return built

        ws = WorkflowSet()
        write(path, [wf("a", type="com.github.push")])
        assert reload_workflows(path, ws, build)
        assert [w.name for w in ws.select(PUSH)] == ["a"]

        write(path, [wf("b", type="com.github.*"), wf("c", tenant="globex")])
        with capture_logs() as logs:
            assert reload_workflows(path, ws, build, reason="file_changed")
        assert [w.name for w in ws.select(PUSH)] == ["b"]
        assert ws.names() == ["b", "c"]
        done = next(e for e in logs if e["event"] == "workflows_reloaded")
        assert done["added"] == ["b", "c"]
        assert done["removed"] == ["a"]
        assert done["reason"] == "file_changed"
        # What the new set matches is said again, as at start-up (one line per workflow, in plain words).
        matches = {e["workflow"]: e["match"] for e in logs if e["event"] == "workflow_match"}
        assert sorted(matches) == ["b", "c"]
        assert matches["b"] == "type starts with com.github."
        assert "globex" in matches["c"]

        bad_files: list[tuple[list[dict[str, Any]] | str, str]] = [
            ([wf("d", subject={"regex": "("})], "workflows[0].match.subject.regex"),
            ([wf("d", tpye="x")], "workflows[0].match.tpye: unknown key"),
            ("workflows: [\n", "not valid YAML"),
            ([wf("reserved")], "defined twice"),
        ]
        for content, words in bad_files:
            write(path, content)
            with capture_logs() as logs:
                assert not reload_workflows(path, ws, build)
            failed = next(e for e in logs if e["event"] == "workflows_reload_failed")
            assert words in failed["error"]
            assert failed["outcome"] == "kept_previous"
            assert ws.names() == ["b", "c"]

        path.unlink()
        assert not reload_workflows(path, ws, build)
        assert ws.names() == ["b", "c"]


async def test_install_reload_on_sighup_and_on_file_change(tmp_path: Path) -> None:
    path = tmp_path / "consumer.yaml"
    write(path, [wf("a")])
    stop = asyncio.Event()
    async with HttpClients() as clients:
        ws = WorkflowSet(build_workflows([], clients))

        def build(config: ConsumerConfig) -> list[Workflow]:
            return list(build_workflows(config.workflows, clients))

        async def until(done: Callable[[], bool]) -> None:
            async with asyncio.timeout(10):
                while True:
                    if done():
                        return
                    await asyncio.sleep(0.01)

        with capture_logs() as logs:
            task = install_reload(path, ws, build, stop, interval=0.05)
            await until(lambda: any(e["event"] == "workflow_reload_ready" for e in logs))
            os.kill(os.getpid(), signal.SIGHUP)  # the handler is installed: this reloads, it does not kill
            await until(lambda: ws.names() == ["a"])
            write(path, [wf("b"), wf("c")])  # the file watch notices the new content
            await until(lambda: ws.names() == ["b", "c"])
            stop.set()
            await asyncio.wait_for(task, 5)
        reasons = [e["reason"] for e in logs if e["event"] == "workflows_reloaded"]
        assert reasons == ["signal", "file_changed"]


def test_reload_interval_is_a_validated_consumer_setting() -> None:
    from hookgate.core.config import ConfigError, load_model

    base = {"topics": ["hookgate.acme"]}
    cfg = load_model(ConsumerConfig, {"consumer": {**base, "reload_interval_seconds": 5}}, "<t>", env={})
    assert cfg.consumer.reload_interval_seconds == 5
    assert load_model(ConsumerConfig, {"consumer": base}, "<t>", env={}).consumer.reload_interval_seconds is None
    with pytest.raises(ConfigError, match=r"consumer\.reload_interval_seconds"):
        load_model(ConsumerConfig, {"consumer": {**base, "reload_interval_seconds": 0}}, "<t>", env={})
