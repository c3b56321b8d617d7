"""Reload the ``workflows:`` of a running consumer: on SIGHUP, and optionally when the file changes.

A reload re-reads and validates the whole config file, builds the new workflows, and swaps the
:class:`WorkflowSet` in one assignment: a record is matched against the old set or the new one, never
a mix. Anything wrong (unreadable file, invalid YAML, a bad key, a duplicate name) is logged with the
key path and the old set stays in force. Only ``workflows:`` is applied; the ``consumer:`` and
``kafka:`` sections take a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.workflows.match import describe_workflow
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.logging import get_logger
from hookgate.core.reload import watch_file

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
    log_matches(workflows)
    return True


def log_matches(workflows: Iterable[Workflow]) -> None:
    """One ``workflow_match`` line per workflow, in plain words: at start-up and after every reload, so the
    log always says what the running set matches."""
    for workflow in workflows:
        log.info("workflow_match", workflow=workflow.name, match=describe_workflow(workflow))


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
    return watch_file(
        path,
        lambda reason: reload_workflows(path, workflow_set, build, reason=reason),
        stop,
        interval=interval,
        name="workflow-reload",
    )
