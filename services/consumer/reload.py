"""Reload the ``workflows:`` of a running consumer: on SIGHUP, and optionally when the file changes.

A reload re-reads and validates the whole config file, builds the new workflows, and swaps the
:class:`WorkflowSet` in one assignment: a record is matched against the old set or the new one, never
a mix. Anything wrong (unreadable file, invalid YAML, a bad key, a duplicate name) is logged with the
key path and the old set stays in force. Only ``workflows:`` is applied; the ``consumer:`` and
``kafka:`` sections take a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")

Build = Callable[[ConsumerConfig], Sequence[Workflow]]
"""Turns the new config's ``workflows:`` into the complete set (YAML workflows plus any Python handlers);
raises ``ValueError`` when they cannot be built (e.g. a name used twice)."""


def reload_workflows(path: Path, workflow_set: WorkflowSet, build: Build, *, reason: str = "signal") -> bool:
    """Load ``path`` and swap the new workflows in; False (old set kept, error logged) when anything fails."""
    try:
        config = load_yaml(ConsumerConfig, path)
        workflows = list(build(config))
    except (ConfigError, ValueError) as exc:
        log.error("workflows_reload_failed", reason=reason, outcome="kept_previous", error=str(exc))
        return False
    before = set(workflow_set.names())
    workflow_set.replace(workflows)
    after = [w.name for w in workflows]
    log.info(
        "workflows_reloaded",
        reason=reason,
        outcome="applied",
        workflows=after,
        added=sorted(set(after) - before),
        removed=sorted(before - set(after)),
    )
    return True


def _digest(path: Path) -> bytes | None:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None


def install_reload(
    path: Path,
    workflow_set: WorkflowSet,
    build: Build,
    stop: asyncio.Event,
    *,
    interval: float | None = None,
) -> asyncio.Task[None]:
    """Reload on SIGHUP (and every ``interval`` seconds when the file's content changed) until ``stop``.

    Call from the running loop; the task ends by itself once ``stop`` is set.
    """
    return asyncio.create_task(_watch(path, workflow_set, build, stop, interval), name="workflow-reload")


async def _watch(
    path: Path, workflow_set: WorkflowSet, build: Build, stop: asyncio.Event, interval: float | None
) -> None:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    hangups = 0

    def on_hangup() -> None:
        nonlocal hangups
        hangups += 1
        wake.set()

    async def wake_on_stop() -> None:
        await stop.wait()
        wake.set()

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    stopper = asyncio.create_task(wake_on_stop())
    digest = _digest(path)
    log.info("workflow_reload_ready", signal="SIGHUP", interval_s=interval)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)
            wake.clear()
            if stop.is_set():
                return
            if hangups:
                hangups = 0
                digest = _digest(path)
                reload_workflows(path, workflow_set, build, reason="signal")
            elif interval is not None:
                current = _digest(path)
                if current is not None and current != digest:
                    digest = current
                    reload_workflows(path, workflow_set, build, reason="file_changed")
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        stopper.cancel()
