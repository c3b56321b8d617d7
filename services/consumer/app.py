"""The consumer process: the fetch loop plus the ops HTTP server (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.runner import Runner
from hookgate.consumer.subscriptions import build_workflows
from hookgate.consumer.workflows import WorkflowSet
from hookgate.core.health import add_ops_routes
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")


async def serve(config: ConsumerConfig, stop: asyncio.Event) -> int:
    """Consume until ``stop`` is set, then commit what is finished and leave the group."""
    metrics = ConsumerMetrics()
    async with aiohttp.ClientSession() as session:
        workflows = WorkflowSet(build_workflows(config.workflows, session))
        runner = Runner(config, workflows, metrics)
        app = web.Application()
        add_ops_routes(app, metrics.registry, runner.readiness)
        web_runner = web.AppRunner(app, access_log=None)
        await web_runner.setup()
        listen = config.consumer.listen
        await web.TCPSite(web_runner, listen.host, listen.port, reuse_address=True).start()
        log.info("consumer_started", group=config.consumer.group_id, workflows=workflows.names())
        try:
            await runner.run(stop)
        finally:
            await web_runner.cleanup()
            log.info("consumer_stopped")
    return 0
