"""The consumer process: the fetch loop plus the ops HTTP server (/healthz, /readyz, /metrics)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.runner import Runner
from hookgate.core.health import add_ops_routes
from hookgate.core.logging import get_logger

log = get_logger("hookgate.consumer")


async def serve(config: ConsumerConfig, stop: asyncio.Event) -> int:
    """Consume until ``stop`` is set, then commit what is finished and leave the group."""
    metrics = ConsumerMetrics()
    runner = Runner(config, metrics)
    app = web.Application()
    add_ops_routes(app, metrics.registry, runner.readiness)
    web_runner = web.AppRunner(app, access_log=None)
    await web_runner.setup()
    listen = config.consumer.listen
    await web.TCPSite(web_runner, listen.host, listen.port, reuse_address=True).start()
    log.info("consumer_started", group=config.consumer.group_id, workflows=[w.name for w in config.workflows])
    try:
        await runner.run(stop)
    finally:
        await web_runner.cleanup()
        log.info("consumer_stopped")
    return 0
