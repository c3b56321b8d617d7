"""The consumer process, composed: Kafka state, deliverer and runner, plus the ops HTTP server.

:class:`Pipeline` is where the parts meet. It creates the internal topics and starts the one idempotent
producer, the dedupe changelog (a :class:`DoneStore`) and the dead-letter sink on it, builds the
:class:`Deliverer` over them, hands both to the :class:`Runner`, and closes what it started after the
runner left its group. The runner owns only its group consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from hookgate.consumer.config import BreakerSettings, ConsumerConfig
from hookgate.consumer.engine.breaker import Breakers, BreakerState, CircuitBreaker
from hookgate.consumer.engine.delivery import Deliverer
from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.engine.runner import Runner
from hookgate.consumer.engine.start import GroupStartRefused, StartRefused, TopicLayoutError
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.reload import install_reload, log_matches
from hookgate.consumer.state.changelog import DedupeChangelog
from hookgate.consumer.state.deadletter import KafkaDeadLetters
from hookgate.consumer.state.dedupe import DedupeTable
from hookgate.consumer.state.ledger import DeadLetterLedger, follow_ledger
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.backoff import RECONNECT
from hookgate.core.health import add_ops_routes
from hookgate.core.kafka import TopicAdmin, connection_kwargs, make_producer
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
                    dead_letters=KafkaDeadLetters(producer, cfg.dead_letter_topic(), cfg.dead_letter_state_topic()),
                    metrics=self._metrics,
                    group=s.group_id,
                )
                self._runner = Runner(
                    cfg, self._workflows, self._metrics, deliverer=deliverer, dedupe=dedupe, watch=self._watch
                )
                ledger_stop = asyncio.Event()
                ledger = DeadLetterLedger(lambda wf, n: self._metrics.dead_letters_waiting.labels(wf).set(n))
                background = [
                    asyncio.create_task(self._follow_readiness(), name="kafka-watch"),
                    asyncio.create_task(
                        follow_ledger(
                            cfg.kafka, cfg.dead_letter_topic(), cfg.dead_letter_state_topic(), ledger, ledger_stop
                        ),
                        name="dead-letter-ledger",
                    ),
                ]
                try:
                    await self._runner.run(stop)
                finally:
                    ledger_stop.set()
                    for task in background:
                        task.cancel()
                    for task in background:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
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
                # Resolutions are kept as long as their key lives (compaction only): a letter must not turn
                # "waiting" again because its resolution aged out first.
                await admin.ensure([cfg.dead_letter_state_topic()], partitions=1, config={"cleanup.policy": "compact"})
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
                try:
                    await self._ensure_redrive_topic(admin, producer, dedupe)
                except StartRefused:
                    if dedupe is not None:
                        await dedupe.stop()
                    raise
                self._watch.up()
                return producer, dedupe
            except StartRefused:
                if producer is not None:
                    await producer.stop()
                raise
            except (KafkaError, OSError, RuntimeError) as exc:
                if producer is not None:
                    await producer.stop()
                self._watch.down(type(exc).__name__, str(exc) or None)
        return None

    async def _ensure_redrive_topic(
        self, admin: TopicAdmin, producer: AIOKafkaProducer, dedupe: DedupeChangelog | None
    ) -> None:
        """The group's re-drive topic, with as many partitions as its dedupe changelog.

        A re-drive of an event of source partition ``p`` goes to re-drive partition ``p % partitions``
        (``hookgate replay``); with the changelog's count, the member reading it also restores the changelog
        partition ``p % partitions`` that holds the event's dedupe state. A multiple works too; any other
        count would let a re-drive run against state it has not loaded, so it stops the consumer.
        """
        topic = self._config.redrive_topic()
        changelog = dedupe.partitions if dedupe is not None else None
        await admin.ensure([topic], partitions=changelog, config={"cleanup.policy": "delete"})
        if changelog is None:
            return
        have = len(await producer.partitions_for(topic))
        if have % changelog:
            raise TopicLayoutError(
                f"topic {topic} has {have} partitions; it needs a multiple of the dedupe changelog's {changelog} "
                f"({self._config.dedupe_topic()}) so that re-drives meet their dedupe state: recreate it"
            )

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
        refused = await _new_group_without_start(config)
        if refused is not None:
            # Each worker would refuse and be restarted again and again: refuse once, here.
            log.error("group_start_refused", group=refused.group, partitions=refused.partitions, reason=str(refused))
            sys.stderr.write(f"{refused}\n")
            return 2
        supervisor = Supervisor(
            "consumer",
            s.workers,
            worker_command or own_command(),
            grace=s.shutdown_grace_seconds,
            ops=OpsSpec(s.listen.host, s.listen.port, "hookgate_consumer_"),
        )
        return await supervisor.run(stop)
    return await _consume(config, stop, extra_workflows, config_path, worker)


async def _new_group_without_start(config: ConsumerConfig) -> GroupStartRefused | None:
    """The refusal a worker would hit, asked of the broker before any worker starts; None when the group has
    committed offsets, ``consumer.group.start`` is set, or the broker cannot be asked now (the workers
    decide then, as a single process does)."""
    if config.consumer.group.start is not None:
        return None
    admin = AIOKafkaAdminClient(**connection_kwargs(config.kafka))
    try:
        async with asyncio.timeout(15):
            await admin.start()
            offsets = await admin.list_consumer_group_offsets(config.consumer.group_id)
    except (KafkaError, OSError, TimeoutError):
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    if any(meta.offset >= 0 for meta in offsets.values()):
        return None
    return GroupStartRefused(config.consumer.group_id, [])


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
        try:
            await web.TCPSite(web_runner, host, port, reuse_address=True).start()
        except OSError as exc:
            # Another service on this host has the port (two consumers both on the default 8081).
            log.error(
                "ops_listen_failed",
                host=host,
                port=port,
                error=exc.strerror or str(exc),
                hint="set consumer.listen.port (or hookgate consumer --port; 0 picks a free port)",
            )
            await web_runner.cleanup()
            return 2
        watcher = None
        if worker is not None:
            structlog.contextvars.bind_contextvars(worker=worker.index)
            await worker.report(ops_port=web_runner.addresses[0][1])
            watcher = asyncio.create_task(worker.watch_parent(stop))
        log.info(
            "consumer_started",
            group=config.consumer.group_id,
            workflows=workflows.names(),
            ops=f"http://{host}:{web_runner.addresses[0][1]}",
        )
        log_matches(workflows)
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
        except StartRefused as exc:
            # Already logged where it was found (group_start_refused); the message again, for the operator.
            sys.stderr.write(f"{exc}\n")
            return 2
        finally:
            for task in (reloader, watcher):
                if task is not None:
                    task.cancel()
            await web_runner.cleanup()
            log.info("consumer_stopped")
    return 0
