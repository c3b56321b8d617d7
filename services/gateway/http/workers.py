"""``gateway.workers: N``: N gateway processes on one port, supervised by the one the user started.

The parent runs :class:`hookgate.core.workers.Supervisor` over N copies of its own command line. Each
worker is a whole gateway (its own producer, limits, auditor and metrics) that binds ``gateway.listen``
with ``SO_REUSEPORT``, so the kernel spreads new connections over the workers' listening sockets; the
parent holds no webhook socket itself.

The ops routes: a Prometheus scrape of the shared webhook port would reach whichever worker the kernel
picked, so ``workers`` above 1 needs ``gateway.ops_listen`` (the config refuses it otherwise). The
parent serves ``/healthz``, ``/readyz`` (ready when every worker is) and ``/metrics`` there: every
worker's series with a ``worker="<index>"`` label, plus the supervisor's ``hookgate_gateway_workers``,
``hookgate_gateway_worker_up`` and ``hookgate_gateway_worker_restarts_total``. Each worker serves its own
ops routes on an ephemeral loopback port that it reports to the parent. One scrape target per pod, as
with one process; ``sum without (worker)`` gives the pod's figures. (prometheus_client's multiprocess
mode was the other choice: it cannot hold the gauges the gateway reads at scrape time, such as the
in-flight count and open connections.)

SIGTERM on the parent reaches every worker, each drains as a single gateway does (stops accepting,
finishes its requests, flushes its producer); a worker that exits while the service runs is started
again after a backoff.
"""

from __future__ import annotations

import asyncio
import os

import structlog

from hookgate.core.workers import OpsSpec, Supervisor, WorkerContext, own_command, worker_context
from hookgate.gateway.config import GatewayConfig, ListenSettings

WORKER_OPS = ListenSettings(host="127.0.0.1", port=0)
"""Where a supervised worker serves its own ops routes: loopback, a port of its own, reported to the parent."""

METRICS_PREFIX = "hookgate_gateway_"


def supervisor(config: GatewayConfig, role: WorkerRole) -> Supervisor | None:
    """The supervisor this process is with ``gateway.workers`` above 1, or None (a worker, or one process)."""
    settings = config.gateway
    if settings.workers <= 1 or role.context is not None:
        return None
    ops = settings.ops_listen
    assert ops is not None  # GatewaySettings refuses workers > 1 without it
    return Supervisor(
        "gateway",
        settings.workers,
        own_command(),
        grace=settings.shutdown_grace_seconds,
        ops=OpsSpec(ops.host, ops.port, METRICS_PREFIX),
    )


class WorkerRole:
    """What changes for a supervised worker: a shared webhook port, its ops routes on loopback, a parent to watch."""

    def __init__(self, context: WorkerContext | None) -> None:
        self.context = context
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    def current(cls) -> WorkerRole:
        """This process's role: a supervised worker, or the gateway process the user started (``context`` None).

        Call it once: the context owns the inherited channel's file descriptor.

        A worker's lines of its start and stop carry ``worker`` (its index) and ``pid``.
        """
        context = worker_context()
        if context is not None:
            structlog.contextvars.bind_contextvars(worker=context.index, pid=os.getpid())
        return cls(context)

    @property
    def reuse_port(self) -> bool:
        """Bind the webhook port with ``SO_REUSEPORT`` (every worker listens on the same one)."""
        return self.context is not None

    def ops_address(self, configured: ListenSettings) -> ListenSettings:
        """Where this process serves its ops routes."""
        return WORKER_OPS if self.context is not None else configured

    async def joined(self, ops_port: int, stop: asyncio.Event) -> None:
        """Once listening: tell the parent the ops port, and stop when the parent goes away."""
        if self.context is None:
            return
        await self.context.report(ops_port=ops_port, pid=os.getpid())
        self._watcher = asyncio.create_task(self.context.watch_parent(stop), name="gateway-watch-parent")

    def left(self) -> None:
        """The gateway stopped: stop watching the parent."""
        if self._watcher is not None:
            self._watcher.cancel()
