"""The gateway's aiohttp application: wiring and lifecycle.

The application composes the handler with its event sink: the Kafka publisher, or the sink given
(unit tests of the request chain pass an in-memory one). Start-up returns at once, before Kafka is
reachable: the gateway answers 503 (and ``/readyz`` fails) until the producer connects. Shutdown: stop
accepting, let in-flight requests finish (their events are acknowledged or answered 503), then flush
and close the producer.

``/healthz``, ``/readyz`` and ``/metrics`` are served on the webhook port, or, with
``gateway.ops_listen``, only on a listener of their own, whose connections a webhook flood cannot take.
Each listener's connections are capped and given a head deadline
(:mod:`hookgate.gateway.intake.connections`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiokafka.errors import KafkaError

from hookgate.core.health import add_ops_routes
from hookgate.core.logging import get_logger
from hookgate.core.runtime import freeze_startup_heap, open_file_limit, raise_fd_limit
from hookgate.gateway.audit.record import Auditor, AuditRecord
from hookgate.gateway.audit.topic import AuditTopicWriter
from hookgate.gateway.catalog.kafka import KafkaTriggerCatalog
from hookgate.gateway.catalog.reload import install_trigger_reload
from hookgate.gateway.config import GatewayConfig, TriggerConfig
from hookgate.gateway.http.ingest import IngestHandler
from hookgate.gateway.http.tls import server_context
from hookgate.gateway.http.workers import WorkerRole, supervisor
from hookgate.gateway.intake.admission import Admission
from hookgate.gateway.intake.connections import OPS_MAX_CONNECTIONS, ConnectionGuard, GuardedSite, connection_cap
from hookgate.gateway.intake.limits import LimitSettings, server_handler_args
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.publisher import Publisher
from hookgate.gateway.publish.sink import EventSink
from hookgate.gateway.triggers import TriggerRegistry

log = get_logger("hookgate.gateway")

CONNECTIONS = web.AppKey("connections", ConnectionGuard)
"""The guard of the connections of the listener that serves this application."""
OPS_APP = web.AppKey("ops_app", web.Application)
"""The ops application (``/healthz``, ``/readyz``, ``/metrics``), set when ``gateway.ops_listen`` is."""
AUDIT_TOPIC = web.AppKey("audit_topic", AuditTopicWriter)
"""The audit topic writer, set when ``gateway.audit.topic`` is on (the admin API writes its records there too)."""
CATALOG = web.AppKey("catalog", KafkaTriggerCatalog)
"""The replica's trigger catalog (YAML and runtime triggers); the admin API is built from it."""
MAX_BODY_BYTES = web.AppKey("max_body_bytes", int)
"""``gateway.max_body_bytes``: the most a tenant token may give one of its triggers (the admin API's policy)."""


def create_app(config: GatewayConfig, sink: EventSink | None = None, fd_limit: int | None = None) -> web.Application:
    """Build the gateway application from a validated config; events go to ``sink`` (default: Kafka).

    ``fd_limit`` (default: the soft limit now) bounds the connections its listener holds.
    """
    settings = config.gateway
    limits = settings.limits
    for warning in config.startup_warnings():
        log.warning(warning.event, trigger=warning.trigger, key=warning.key, message=warning.message)
    registry = TriggerRegistry(config.triggers, config.kafka.topics, settings.max_body_bytes)
    metrics = GatewayMetrics(trigger_labels=settings.trigger_labels, triggers=[t.name for t in config.triggers])
    events = sink if sink is not None else kafka_sink(config, registry, metrics)
    audit_topic = AuditTopicWriter(config.kafka, settings.audit, metrics.registry) if settings.audit.topic else None
    largest = max([settings.max_body_bytes, *(t.max_body_bytes or 0 for t in config.triggers)])
    fds = fd_limit if fd_limit is not None else open_file_limit()
    separate_ops = settings.ops_listen is not None
    cap = connection_cap(fds, limits.max_connections, OPS_MAX_CONNECTIONS if separate_ops else 0)
    if limits.max_connections is not None and cap < limits.max_connections:
        log.warning(
            "max_connections_lowered",
            key="gateway.limits.max_connections",
            configured=limits.max_connections,
            limit=cap,
            fd_limit=fds,
            message="The file-descriptor limit allows fewer open connections than configured.",
        )
    guard = connection_guard("webhooks", cap, limits, metrics)
    app = web.Application(
        client_max_size=largest + 1, handler_args=server_handler_args(limits), middlewares=[guard.middleware]
    )
    app[CONNECTIONS] = guard
    handler = ingest_handler(config, registry, events, metrics, audit_topic.submit if audit_topic else None)
    # Runtime triggers come from Kafka: with an in-memory sink (unit tests) the catalog does not follow.
    catalog_settings = settings.catalog
    if sink is not None and catalog_settings.enabled:
        catalog_settings = catalog_settings.model_copy(update={"enabled": False})
    catalog = KafkaTriggerCatalog(
        config.kafka,
        catalog_settings,
        config.triggers,
        base_url=settings.proxies.public_base_url,
        registry=metrics.registry,
        client_ca=settings.tls is not None and settings.tls.client_ca is not None,
    )
    catalog.apply = trigger_swapper(registry, events, metrics, handler)
    app[CATALOG] = catalog
    app[MAX_BODY_BYTES] = settings.max_body_bytes
    if audit_topic is not None:
        app[AUDIT_TOPIC] = audit_topic

    def readiness() -> tuple[bool, dict[str, str]]:
        ok, checks = events.readiness()
        loaded, more = catalog.readiness()
        return ok and loaded, {**checks, **more}

    app.router.add_route("*", "/hooks/{trigger_id}", handler.handle)
    # Only triggers with allow_subpaths serve these; the rest answer 404 as for an unknown trigger.
    app.router.add_route("*", "/hooks/{trigger_id}{subpath:/.*}", handler.handle)
    if separate_ops:
        ops_guard = connection_guard("ops", OPS_MAX_CONNECTIONS, limits, metrics)
        ops = web.Application(handler_args=server_handler_args(limits), middlewares=[ops_guard.middleware])
        ops[CONNECTIONS] = ops_guard
        add_ops_routes(ops, metrics.registry, readiness)
        app[OPS_APP] = ops
    else:
        add_ops_routes(app, metrics.registry, readiness)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await events.start()
        if audit_topic is not None:
            await audit_topic.start()
        await catalog.start()
        log.info("gateway_started", triggers=len(registry), topics=registry.topics())
        yield
        await catalog.stop()
        await events.stop()
        if audit_topic is not None:
            await audit_topic.stop()
        log.info("gateway_stopped")

    app.cleanup_ctx.append(lifecycle)
    return app


def trigger_swapper(
    registry: TriggerRegistry, events: EventSink, metrics: GatewayMetrics, handler: IngestHandler
) -> Callable[[list[TriggerConfig]], Awaitable[bool]]:
    """How a new trigger set (runtime triggers, a YAML reload) goes live: the topics of new triggers are
    created first (a trigger whose topic cannot be made yet waits, the rest go live), then the metrics
    series, the admission checks, the audit redaction and the registry are swapped with no await between
    them, so no request sees half of a change."""

    waiting: set[str] = set()  # topics whose triggers wait; logged when the set changes, not per retry

    async def swap(configs: list[TriggerConfig]) -> bool:
        nonlocal waiting
        wanted = {registry.topic_of(c) for c in configs if c.enabled}
        new_topics = sorted(wanted - set(registry.topics()))
        unavailable: set[str] = set()
        if new_topics and isinstance(events, Publisher):
            try:
                await events.ensure_topics(new_topics)
            except (KafkaError, OSError, RuntimeError) as exc:
                unavailable = set(new_topics)
                if unavailable != waiting:
                    error = str(exc) or type(exc).__name__
                    log.warning("trigger_topics_unavailable", topics=new_topics, error=error)
        if waiting and not unavailable:
            log.info("trigger_topics_available", topics=sorted(waiting))
        waiting = unavailable
        serve = [c for c in configs if not (c.enabled and registry.topic_of(c) in unavailable)]
        metrics.add_triggers(c.name for c in serve if c.enabled)
        handler.admission.set_triggers(serve)
        handler.auditor.set_verify_headers({c.name: c.verify.header_names() for c in serve})
        registry.replace(serve)
        return not unavailable

    return swap


def connection_guard(listener: str, cap: int, limits: LimitSettings, metrics: GatewayMetrics) -> ConnectionGuard:
    """The guard of one listener's connections, its series created at 0 in ``metrics``."""
    holder: list[ConnectionGuard] = []
    refused, timed_out = metrics.track_connections(listener, lambda: holder[0].open, cap)
    guard = ConnectionGuard(
        listener, limit=cap, head_timeout=limits.head_timeout_seconds, refused=refused, timed_out=timed_out
    )
    holder.append(guard)
    return guard


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


async def serve(config: GatewayConfig, stop: asyncio.Event, *, config_path: Path | None = None) -> int:
    """Serve until ``stop`` is set, then shut down gracefully.

    With ``config_path``, SIGHUP (and, with ``gateway.reload_interval_seconds``, a change of the file)
    reloads its ``triggers:`` without a restart (:mod:`hookgate.gateway.catalog.reload`). With
    ``gateway.workers`` above 1 this process supervises that many gateway processes on the same port
    instead (:mod:`hookgate.gateway.http.workers`).
    """
    settings = config.gateway
    role = WorkerRole.current()
    parent = supervisor(config, role)
    if parent is not None:
        return await parent.run(stop)
    fds = raise_fd_limit()
    log.info("fd_limit", soft=fds.soft, hard=fds.hard, raised_from=fds.before if fds.raised else None)
    app = create_app(config, fd_limit=fds.usable)
    runners: list[web.AppRunner] = []
    ops_port: int | None = None
    ops = app.get(OPS_APP)
    if ops is not None and settings.ops_listen is not None:
        # Up first and down last: probes answer for as long as the process serves.
        ops_runner = web.AppRunner(ops, access_log=None, shutdown_timeout=1.0)
        await ops_runner.setup()
        runners.append(ops_runner)
        where = role.ops_address(settings.ops_listen)
        ops_site = GuardedSite(ops_runner, ops[CONNECTIONS], where.host, where.port)
        if not await _listen(ops_site, "gateway.ops_listen.port", where.host, where.port, runners):
            return 2
        ops_port = ops_site.port
        log.info("gateway_ops_listening", host=where.host, port=ops_site.port, max_connections=OPS_MAX_CONNECTIONS)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.shutdown_grace_seconds)
    await runner.setup()
    runners.append(runner)
    tls = settings.tls
    ssl_context = server_context(tls) if tls is not None else None
    listen = settings.listen
    guard = app[CONNECTIONS]
    site = GuardedSite(
        runner, guard, listen.host, listen.port, ssl_context=ssl_context, backlog=1024, reuse_port=role.reuse_port
    )
    if not await _listen(site, "gateway.listen.port", listen.host, listen.port, runners):
        return 2
    log.info("gateway_listening", host=listen.host, port=site.port, tls=tls is not None, max_connections=guard.limit)
    inspector = None
    if settings.admin is not None:
        # The admin side is loaded only when configured.
        from hookgate.admin.inspect.kafka import KafkaEventInspector
        from hookgate.admin.serve import start_admin

        inspector = KafkaEventInspector.for_gateway(config, app[CATALOG])
        # After the webhook runner: runners stop in reverse, so the admin listener goes first.
        try:
            runners.append(await start_admin(app, settings.admin, inspector))
        except OSError as exc:
            admin = settings.admin.listen
            await _listen_failed(exc, "gateway.admin.listen.port", admin.host, admin.port, runners)
            await inspector.close()
            return 2
    reloader = None
    if config_path is not None:
        reloader = install_trigger_reload(config_path, app[CATALOG], stop, interval=settings.reload_interval_seconds)
    if ops_port is not None:
        await role.joined(ops_port, stop)
    freeze_startup_heap()
    await stop.wait()
    log.info("gateway_stopping")
    role.left()
    if reloader is not None:
        reloader.cancel()
    for r in reversed(runners):
        await r.cleanup()
    if inspector is not None:
        await inspector.close()  # its replay producer, once no admin call can use it
    return 0


async def _listen(site: web.BaseSite, key: str, host: str, port: int, runners: list[web.AppRunner]) -> bool:
    """Start ``site``; False (after :func:`_listen_failed`) when its address cannot be bound."""
    try:
        await site.start()
    except OSError as exc:
        await _listen_failed(exc, key, host, port, runners)
        return False
    return True


async def _listen_failed(exc: OSError, key: str, host: str, port: int, runners: list[web.AppRunner]) -> None:
    """Log which key to change and release what was started (the runners, in reverse): a taken port ends
    the gateway with exit 2 and one line that names the key, not a traceback."""
    # Another process on this host holds the port, or the address is not this host's.
    log.error(
        "listen_failed",
        key=key,
        host=host,
        port=port,
        error=exc.strerror or str(exc),
        message=f"Cannot listen on {host}:{port}; set {key} to a free port (0 picks one).",
    )
    for r in reversed(runners):
        await r.cleanup()
