"""The consumer process, composed: Kafka state, deliverer and runner, plus the ops HTTP server.

:class:`Pipeline` is where the parts meet. It creates the internal topics and starts the one idempotent
producer, the dedupe changelog (a :class:`DoneStore`) and the dead-letter sink on it, builds the
:class:`Deliverer` over them, hands both to the :class:`Runner`, and closes what it started after the
runner left its group. The runner owns only its group consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import structlog
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from hookgate.consumer.config import BreakerSettings, ConsumerConfig
from hookgate.consumer.engine.breaker import Breakers, BreakerState, CircuitBreaker
from hookgate.consumer.engine.delivery import Deliverer
from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.engine.runner import Runner
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.reload import install_reload
from hookgate.consumer.state.changelog import DedupeChangelog
from hookgate.consumer.state.deadletter import KafkaDeadLetters
from hookgate.consumer.state.dedupe import DedupeTable
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.backoff import RECONNECT
from hookgate.core.health import add_ops_routes
from hookgate.core.kafka import TopicAdmin, make_producer
from hookgate.core.logging import get_logger
from hookgate.core.outage import DependencyWatch
from hookgate.core.runtime import freeze_startup_heap
from hookgate.core.workers import OpsSpec, Supervisor, WorkerContext, own_command, worker_context

log = get_logger("hookgate.consumer")

# How often the pipeline turns its readiness into outage log lines (kafka_unreachable / kafka_reachable).
_WATCH_INTERVAL_S = 1.0


def _workflow_set(config: ConsumerConfig, clients: HttpClients, extra: Sequence[Workflow]) -> WorkflowSet:
    workflows: list[Workflow] = [*build_workflows(config.workflows, clients), *extra]
    names = [w.name for w in workflows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"workflow name(s) defined twice (YAML and Python handlers): {', '.join(dupes)}")
    return WorkflowSet(workflows)


def _breakers(settings: BreakerSettings, metrics: ConsumerMetrics) -> Breakers:
    """One breaker per target, its state mirrored in ``hookgate_consumer_circuit_state``."""

    def breaker(target: str) -> CircuitBreaker:
        gauge = metrics.circuit.labels(target)
        gauge.set(BreakerState.CLOSED)
        threshold = settings.failure_threshold if settings.enabled else 2**31
        return CircuitBreaker(threshold, settings.reset_seconds, on_change=lambda st: gauge.set(st))

    return Breakers(breaker)


class Pipeline:
    """The consumer's parts, composed and run until stopped; :meth:`readiness` covers every phase."""

    def __init__(self, config: ConsumerConfig, workflows: WorkflowSet, metrics: ConsumerMetrics) -> None:
        self._config = config
        self._workflows = workflows
        self._metrics = metrics
        self._runner: Runner | None = None
        self._stopping = False
        # The broker's outages, logged on change (start-up retries, the runner's connect, readiness).
        self._watch = DependencyWatch("kafka")

    def readiness(self) -> tuple[bool, dict[str, str]]:
        if self._runner is not None:
            return self._runner.readiness()
        return False, {"kafka": "stopping" if self._stopping else "connecting"}

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, consume until ``stop`` is set, drain and commit, then close the producer side."""
        try:
            started = await self._start_state(stop)
            if started is None:
                return
            producer, dedupe = started
            try:
                cfg, s = self._config, self._config.consumer
                deliverer = Deliverer(
                    policy=RetryPolicy(s.retry.attempts, s.retry.base_delay_seconds, s.retry.max_delay_seconds),
                    breakers=_breakers(s.breaker, self._metrics),
                    dedupe=dedupe,
                    dead_letters=KafkaDeadLetters(producer, cfg.dead_letter_topic()),
                    metrics=self._metrics,
                )
                self._runner = Runner(
                    cfg, self._workflows, self._metrics, deliverer=deliverer, dedupe=dedupe, watch=self._watch
                )
                watching = asyncio.create_task(self._follow_readiness(), name="kafka-watch")
                try:
                    await self._runner.run(stop)
                finally:
                    watching.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watching
            finally:
                # Only now: the runner's drain wrote its last done records and dead letters through these.
                if dedupe is not None:
                    await dedupe.stop()
                await producer.stop()
        finally:
            self._stopping = True

    async def _start_state(self, stop: asyncio.Event) -> tuple[AIOKafkaProducer, DedupeChangelog | None] | None:
        """Create the internal topics, start the producer and the changelog reader, retrying until they are up.

        None when ``stop`` was set first.
        """
        cfg, s = self._config, self._config.consumer
        admin = TopicAdmin(cfg.kafka)
        async for _ in RECONNECT.attempts(stop):
            if stop.is_set():
                break
            producer: AIOKafkaProducer | None = None
            try:
                await admin.ensure([cfg.dead_letter_topic()], config={"cleanup.policy": "delete"})
                if s.dedupe.enabled:
                    retention_ms = str(int(s.dedupe.retention_seconds * 1000))
                    await admin.ensure(
                        [cfg.dedupe_topic()], config={"cleanup.policy": "compact,delete", "retention.ms": retention_ms}
                    )
                producer = make_producer(cfg.kafka)
                await producer.start()
                dedupe = None
                if s.dedupe.enabled:
                    dedupe = DedupeChangelog(cfg.kafka, producer, cfg.dedupe_topic(), self._new_table)
                    await dedupe.start()
                self._watch.up()
                return producer, dedupe
            except (KafkaError, OSError, RuntimeError) as exc:
                if producer is not None:
                    await producer.stop()
                self._watch.down(type(exc).__name__, str(exc) or None)
        return None

    async def _follow_readiness(self) -> None:
        """Report the runner's view of the broker to the watch: a lost coordinator is an outage."""
        while True:
            await asyncio.sleep(_WATCH_INTERVAL_S)
            _, checks = self.readiness()
            if checks.get("kafka") == "unreachable":
                self._watch.down("coordinator_unknown", "the group coordinator cannot be reached")
            elif checks.get("group") == "member":
                self._watch.up()

    def _new_table(self) -> DedupeTable:
        d = self._config.consumer.dedupe
        return DedupeTable(d.retention_seconds, d.max_entries, on_evict=self._metrics.dedupe_evictions.inc)


async def serve(
    config: ConsumerConfig,
    stop: asyncio.Event,
    *,
    extra_workflows: Sequence[Workflow] = (),
    config_path: Path | None = None,
    worker_command: Sequence[str] | None = None,
) -> int:
    """Consume until ``stop`` is set, then finish in-flight work, commit and leave the group.

    ``extra_workflows`` are Python handlers (the SDK) run beside the YAML workflows with the same runner.
    With ``config_path``, SIGHUP reloads that file's ``workflows:`` without a restart (reload.py).

    With ``consumer.workers`` above 1 this process supervises that many workers instead
    (:mod:`hookgate.core.workers`), each running ``worker_command`` (default: this process's own command
    line) as a member of the same group, and serves the ops routes for all of them on ``consumer.listen``.
    """
    worker = worker_context()
    s = config.consumer
    if s.workers > 1 and worker is None:
        supervisor = Supervisor(
            "consumer",
            s.workers,
            worker_command or own_command(),
            grace=s.shutdown_grace_seconds,
            ops=OpsSpec(s.listen.host, s.listen.port, "hookgate_consumer_"),
        )
        return await supervisor.run(stop)
    return await _consume(config, stop, extra_workflows, config_path, worker)


async def _consume(
    config: ConsumerConfig,
    stop: asyncio.Event,
    extra_workflows: Sequence[Workflow],
    config_path: Path | None,
    worker: WorkerContext | None,
) -> int:
    metrics = ConsumerMetrics()
    http = config.consumer.http
    async with HttpClients(limit_per_target=http.max_connections_per_target, idle_seconds=http.idle_seconds) as clients:
        workflows = _workflow_set(config, clients, extra_workflows)
        metrics.follow(workflows, config.consumer.topics)
        pipeline = Pipeline(config, workflows, metrics)
        app = web.Application()
        add_ops_routes(app, metrics.registry, pipeline.readiness)
        web_runner = web.AppRunner(app, access_log=None)
        await web_runner.setup()
        listen = config.consumer.listen
        # A supervised worker serves its ops routes on loopback, on a port of its own that it reports.
        host, port = ("127.0.0.1", 0) if worker is not None else (listen.host, listen.port)
        await web.TCPSite(web_runner, host, port, reuse_address=True).start()
        watcher = None
        if worker is not None:
            structlog.contextvars.bind_contextvars(worker=worker.index)
            await worker.report(ops_port=web_runner.addresses[0][1])
            watcher = asyncio.create_task(worker.watch_parent(stop))
        log.info("consumer_started", group=config.consumer.group_id, workflows=workflows.names())
        freeze_startup_heap()  # full collections then skip the start-up heap (hookgate.core.runtime)
        reloader = None
        if config_path is not None:
            reloader = install_reload(
                config_path,
                workflows,
                lambda cfg: list(_workflow_set(cfg, clients, extra_workflows)),
                stop,
                interval=config.consumer.reload_interval_seconds,
            )
        try:
            await pipeline.run(stop)
        finally:
            for task in (reloader, watcher):
                if task is not None:
                    task.cancel()
            await web_runner.cleanup()
            log.info("consumer_stopped")
    return 0
