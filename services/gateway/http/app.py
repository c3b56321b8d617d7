"""The gateway's aiohttp application: wiring and lifecycle.

The application composes the handler with its event sink: the Kafka publisher, or the sink given
(unit tests of the request chain pass an in-memory one). Start-up returns at once, before Kafka is
reachable: the gateway answers 503 (and ``/readyz`` fails) until the producer connects. Shutdown: stop
accepting, let in-flight requests finish (their events are acknowledged or answered 503), then flush
and close the producer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from hookgate.core.health import add_ops_routes
from hookgate.core.logging import get_logger
from hookgate.gateway.audit.record import Auditor, AuditRecord
from hookgate.gateway.audit.topic import AuditTopicWriter
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.ingest import IngestHandler
from hookgate.gateway.http.tls import server_context
from hookgate.gateway.intake.admission import Admission
from hookgate.gateway.intake.limits import server_handler_args
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.publisher import Publisher
from hookgate.gateway.publish.sink import EventSink
from hookgate.gateway.triggers import TriggerRegistry

log = get_logger("hookgate.gateway")


def create_app(config: GatewayConfig, sink: EventSink | None = None) -> web.Application:
    """Build the gateway application from a validated config; events go to ``sink`` (default: Kafka)."""
    settings = config.gateway
    for warning in config.startup_warnings():
        log.warning(warning.event, trigger=warning.trigger, key=warning.key, message=warning.message)
    registry = TriggerRegistry(config.triggers, config.kafka.topics, settings.max_body_bytes)
    metrics = GatewayMetrics(trigger_labels=settings.trigger_labels, triggers=[t.name for t in config.triggers])
    events = sink if sink is not None else kafka_sink(config, registry, metrics)
    audit_topic = AuditTopicWriter(config.kafka, settings.audit, metrics.registry) if settings.audit.topic else None
    largest = max([settings.max_body_bytes, *(t.max_body_bytes or 0 for t in config.triggers)])
    app = web.Application(client_max_size=largest + 1, handler_args=server_handler_args(settings.limits.headers))
    handler = ingest_handler(config, registry, events, metrics, audit_topic.submit if audit_topic else None)
    app.router.add_route("*", "/hooks/{trigger_id}", handler.handle)
    # Only triggers with allow_subpaths serve these; the rest answer 404 as for an unknown trigger.
    app.router.add_route("*", "/hooks/{trigger_id}{subpath:/.*}", handler.handle)
    add_ops_routes(app, metrics.registry, events.readiness)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await events.start()
        if audit_topic is not None:
            await audit_topic.start()
        log.info("gateway_started", triggers=len(registry), topics=registry.topics())
        yield
        await events.stop()
        if audit_topic is not None:
            await audit_topic.stop()
        log.info("gateway_stopped")

    app.cleanup_ctx.append(lifecycle)
    return app


def ingest_handler(
    config: GatewayConfig,
    registry: TriggerRegistry,
    sink: EventSink,
    metrics: GatewayMetrics,
    audit_topic: Callable[[AuditRecord], None] | None = None,
) -> IngestHandler:
    """The webhook handler for ``config``: its admission checks and auditor, publishing to ``sink``."""
    settings = config.gateway
    admission = Admission(config, metrics.registry)
    metrics.track_in_flight(lambda: admission.in_flight.in_flight)
    return IngestHandler(
        registry,
        sink,
        metrics,
        retry_after=settings.retry_after_seconds,
        admission=admission,
        auditor=Auditor(settings.audit, audit_topic, {t.name: t.verify.header_names() for t in config.triggers}),
    )


def kafka_sink(config: GatewayConfig, registry: TriggerRegistry, metrics: GatewayMetrics) -> Publisher:
    """The production sink: the Kafka publisher for every topic the triggers write to."""
    settings = config.gateway
    # Each in-flight request has at most one event queued: the in-flight limit bounds the queue too.
    return Publisher(
        config.kafka,
        settings.producer,
        metrics,
        registry.topics(),
        timeout=settings.publish_timeout_seconds,
        queue_size=settings.limits.max_in_flight,
    )


async def serve(config: GatewayConfig, stop: asyncio.Event) -> int:
    """Serve until ``stop`` is set, then shut down gracefully."""
    app = create_app(config)
    listen = config.gateway.listen
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=config.gateway.shutdown_grace_seconds)
    await runner.setup()
    tls = config.gateway.tls
    ssl_context = server_context(tls) if tls is not None else None
    site = web.TCPSite(runner, listen.host, listen.port, backlog=1024, reuse_address=True, ssl_context=ssl_context)
    await site.start()
    log.info("gateway_listening", host=listen.host, port=listen.port, tls=tls is not None)
    await stop.wait()
    log.info("gateway_stopping")
    await runner.cleanup()
    return 0
