"""The consumer process: the runner plus the ops HTTP server (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.engine.runner import Runner
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.reload import install_reload
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.health import add_ops_routes
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")


def _workflow_set(config: ConsumerConfig, session: aiohttp.ClientSession, extra: Sequence[Workflow]) -> WorkflowSet:
    workflows: list[Workflow] = [*build_workflows(config.workflows, session), *extra]
    names = [w.name for w in workflows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"workflow name(s) defined twice (YAML and Python handlers): {', '.join(dupes)}")
    return WorkflowSet(workflows)


async def serve(
    config: ConsumerConfig,
    stop: asyncio.Event,
    *,
    extra_workflows: Sequence[Workflow] = (),
    config_path: Path | None = None,
) -> int:
    """Consume until ``stop`` is set, then finish in-flight work, commit and leave the group.

    ``extra_workflows`` are Python handlers (the SDK) run beside the YAML workflows with the same runner.
    With ``config_path``, SIGHUP reloads that file's ``workflows:`` without a restart (reload.py).
    """
    metrics = ConsumerMetrics()
    async with aiohttp.ClientSession() as session:
        workflows = _workflow_set(config, session, extra_workflows)
        metrics.follow(workflows, config.consumer.topics)
        runner = Runner(config, workflows, metrics)
        app = web.Application()
        add_ops_routes(app, metrics.registry, runner.readiness)
        web_runner = web.AppRunner(app, access_log=None)
        await web_runner.setup()
        listen = config.consumer.listen
        await web.TCPSite(web_runner, listen.host, listen.port, reuse_address=True).start()
        log.info("consumer_started", group=config.consumer.group_id, workflows=workflows.names())
        reloader = None
        if config_path is not None:
            reloader = install_reload(
                config_path,
                workflows,
                lambda cfg: list(_workflow_set(cfg, session, extra_workflows)),
                stop,
                interval=config.consumer.reload_interval_seconds,
            )
        try:
            await runner.run(stop)
        finally:
            if reloader is not None:
                reloader.cancel()
            await web_runner.cleanup()
            log.info("consumer_stopped")
    return 0
