"""Several worker processes of one service, supervised by a parent: ``consumer.workers`` and ``gateway.workers``.

The parent starts ``count`` copies of a command (the service's own command line) with two environment
variables, ``HOOKGATE_WORKER`` (the worker's index, 0-based) and ``HOOKGATE_WORKER_FD`` (its end of a
socket pair shared with the parent). A worker finds them with :func:`worker_context`, and then:

- reports what the parent needs to know of it, e.g. its ops port (:meth:`WorkerContext.report`);
- stops gracefully when the parent goes away, however it went (even ``kill -9``): its end of the
  socket reads end-of-file (:meth:`WorkerContext.watch_parent`), so no orphan keeps consuming.

The parent (:class:`Supervisor`):

- restarts a worker that exits while the service is running, after a backoff that grows while the
  worker keeps failing and starts over once it ran for :data:`STABLE_SECONDS`;
- on SIGTERM (``stop``) sends SIGTERM to every worker and waits for all of them to drain (each does what
  the single process does on SIGTERM), killing those still running ``grace`` seconds later; a second
  signal (the task cancelled) kills them at once. SIGHUP is passed on to every worker;
- optionally serves the ops routes for all of them on the service's port (:class:`OpsSpec`):
  ``/healthz`` (the parent is alive), ``/readyz`` (ready when every worker answers ready on its own,
  ephemeral, loopback-only ops port; the body lists each worker), and ``/metrics`` (every worker's
  exposition with a ``worker="<index>"`` label added, merged per metric family, followed by the
  supervisor's own series: ``<prefix>workers``, ``<prefix>worker_up{worker}``,
  ``<prefix>worker_restarts_total{worker}``). One scrape target per pod, as with a single process.

The gateway's workers share one webhook port (``SO_REUSEPORT``) and still report an ops port of their
own: the parent serves the ops routes on ``gateway.ops_listen`` (:mod:`hookgate.gateway.http.workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from hookgate.core.backoff import Backoff, pause
from hookgate.core.logging import get_logger
from hookgate.core.metrics import render

log = get_logger("hookgate.workers")

ENV_INDEX = "HOOKGATE_WORKER"
ENV_FD = "HOOKGATE_WORKER_FD"
RESTART = Backoff(base=0.5, cap=30.0)
"""Between restarts of a worker that keeps exiting."""
STABLE_SECONDS = 60.0
"""A worker that ran this long before it exited is restarted after the shortest delay again."""
KILL_MARGIN = 5.0
"""Seconds past the drain grace after which a worker that has not exited is killed (before a pod's
terminationGracePeriodSeconds, which the chart makes the grace plus 10 s and the preStop pause, runs out)."""


# -- the worker's side -------------------------------------------------------------------------------


@dataclass
class WorkerContext:
    """What a worker process knows of its supervisor."""

    index: int
    channel: socket.socket
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_unix_connection(sock=self.channel)
        return self._reader, self._writer

    async def report(self, **facts: Any) -> None:
        """Tell the parent ``facts`` (one JSON object per call), e.g. ``report(ops_port=41234)``."""
        _, writer = await self._open()
        writer.write(orjson.dumps(facts) + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def watch_parent(self, stop: asyncio.Event) -> None:
        """Set ``stop`` when the parent is gone (its end of the channel closed); run as a task."""
        reader, _ = await self._open()
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass  # the parent sends nothing; anything it might is ignored
        if not stop.is_set():
            log.warning("worker_parent_gone", worker=self.index, outcome="stopping")
            stop.set()


def worker_context(environ: Mapping[str, str] = os.environ) -> WorkerContext | None:
    """The supervisor's channel when this process is a supervised worker, else None."""
    index, fd = environ.get(ENV_INDEX), environ.get(ENV_FD)
    if index is None or fd is None:
        return None
    return WorkerContext(int(index), socket.socket(fileno=int(fd)))


# -- the parent's side -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpsSpec:
    """Where the parent serves the ops routes for all its workers, and the prefix of its own series."""

    host: str
    port: int
    metrics_prefix: str  # e.g. "hookgate_consumer_"


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process | None = None
    ops_port: int | None = None
    started_at: float = 0.0
    failures: int = 0


class Supervisor:
    """Runs ``count`` workers of ``command`` until stopped; see the module docstring for the contract."""

    def __init__(
        self,
        name: str,
        count: int,
        command: Sequence[str],
        *,
        grace: float,
        ops: OpsSpec | None = None,
        env: Mapping[str, str] | None = None,
        restart: Backoff = RESTART,
    ) -> None:
        if count < 1:
            raise ValueError("a supervisor needs at least one worker")
        self.name = name
        self._command = list(command)
        self._grace = grace
        self._ops = ops
        self._env = dict(os.environ if env is None else env)
        self._restart = restart
        self._workers = [_Worker(i) for i in range(count)]
        self._stopping = False
        self.registry = CollectorRegistry()
        prefix = ops.metrics_prefix if ops is not None else f"hookgate_{name}_"
        Gauge(f"{prefix}workers", "Worker processes configured.", registry=self.registry).set(count)
        self._up = Gauge(f"{prefix}worker_up", "1 while the worker process runs.", ["worker"], registry=self.registry)
        self._restarts = Counter(
            f"{prefix}worker_restarts",
            "Worker processes started again after they exited.",
            ["worker"],
            registry=self.registry,
        )
        for w in self._workers:
            self._up.labels(str(w.index)).set(0)
            self._restarts.labels(str(w.index))

    @property
    def pids(self) -> list[int]:
        """The running workers' process ids."""
        return [w.proc.pid for w in self._workers if w.proc is not None and w.proc.returncode is None]

    async def run(self, stop: asyncio.Event) -> int:
        """Supervise until ``stop`` is set, then drain every worker; 0 when all of them exited cleanly."""
        loop = asyncio.get_running_loop()
        hup = getattr(signal, "SIGHUP", None)
        if hup is not None:
            loop.add_signal_handler(hup, self._signal_all, hup)
        web_runner = await self._serve_ops() if self._ops is not None else None
        log.info("workers_started", service=self.name, workers=len(self._workers))
        tasks = [asyncio.create_task(self._keep(w, stop), name=f"{self.name}-worker-{w.index}") for w in self._workers]
        try:
            await stop.wait()
            self._stopping = True
            self._signal_all(signal.SIGTERM)
            codes = await asyncio.gather(*tasks)
        except BaseException:
            self._stopping = True
            for w in self._workers:
                if w.proc is not None and w.proc.returncode is None:
                    w.proc.kill()
            raise
        finally:
            if hup is not None:
                loop.remove_signal_handler(hup)
            if web_runner is not None:
                await web_runner.cleanup()
        log.info("workers_stopped", service=self.name, exit_codes=codes)
        return 0 if all(code == 0 for code in codes) else 1

    def _signal_all(self, sig: int) -> None:
        for w in self._workers:
            if w.proc is not None and w.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(sig)

    async def _keep(self, worker: _Worker, stop: asyncio.Event) -> int | None:
        """Run ``worker`` again and again until the service stops; the exit code of its last run."""
        while True:
            code = await self._run_once(worker, stop)
            if self._stopping or stop.is_set():
                return code
            ran = time.monotonic() - worker.started_at
            worker.failures = 1 if ran >= STABLE_SECONDS else worker.failures + 1
            delay = self._restart.delay(worker.failures)
            log.warning(
                "worker_exited",
                service=self.name,
                worker=worker.index,
                exit_code=code,
                ran_s=round(ran, 1),
                retry_in_s=round(delay, 3),
            )
            if not await pause(delay, stop):
                return code
            self._restarts.labels(str(worker.index)).inc()

    async def _run_once(self, worker: _Worker, stop: asyncio.Event) -> int | None:
        parent_end, child_end = socket.socketpair()
        env = {**self._env, ENV_INDEX: str(worker.index), ENV_FD: str(child_end.fileno())}
        try:
            # A session of its own: a terminal's Ctrl-C reaches the parent, which drains the workers itself.
            proc = await asyncio.create_subprocess_exec(
                *self._command, env=env, pass_fds=(child_end.fileno(),), start_new_session=True
            )
        finally:
            child_end.close()  # the worker holds its own copy; ours must go so its EOF means "parent gone"
        worker.proc, worker.ops_port, worker.started_at = proc, None, time.monotonic()
        self._up.labels(str(worker.index)).set(1)
        reports = asyncio.create_task(self._read_reports(worker, parent_end))
        try:
            if self._stopping or stop.is_set():
                proc.send_signal(signal.SIGTERM)
            return await self._wait(proc, stop)
        finally:
            self._up.labels(str(worker.index)).set(0)
            worker.ops_port = None
            reports.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reports
            parent_end.close()

    async def _wait(self, proc: asyncio.subprocess.Process, stop: asyncio.Event) -> int:
        """The worker's exit code; once stopping, kill it if it is still there ``grace`` + margin later."""
        exited = asyncio.ensure_future(proc.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                try:
                    await asyncio.wait_for(asyncio.shield(exited), self._grace + KILL_MARGIN)
                except TimeoutError:
                    log.warning("worker_killed", service=self.name, pid=proc.pid, grace_s=self._grace)
                    proc.kill()
            return await exited
        finally:
            stopping.cancel()

    async def _read_reports(self, worker: _Worker, channel: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=channel)
        try:
            while line := await reader.readline():
                with contextlib.suppress(orjson.JSONDecodeError, TypeError, ValueError):
                    facts = orjson.loads(line)
                    if isinstance(facts, dict) and isinstance(facts.get("ops_port"), int):
                        worker.ops_port = facts["ops_port"]
        finally:
            writer.close()

    # -- ops routes for all workers ------------------------------------------------------------------

    async def _serve_ops(self) -> web.AppRunner:
        assert self._ops is not None
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self._ops.host, self._ops.port, reuse_address=True).start()
        return runner

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _fetch(self, path: str) -> dict[int, tuple[int, bytes] | None]:
        """``GET path`` from every worker's ops port: (status, body), None for one that did not answer."""

        async def one(session: aiohttp.ClientSession, port: int | None) -> tuple[int, bytes] | None:
            if port is None:
                return None
            try:
                async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                    return resp.status, await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                return None

        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            got = await asyncio.gather(*(one(session, w.ops_port) for w in self._workers))
        return {w.index: r for w, r in zip(self._workers, got, strict=True)}

    async def _readyz(self, _: web.Request) -> web.Response:
        if self._stopping:
            return web.json_response({"ready": False, "checks": {"workers": "stopping"}}, status=503)
        checks = {f"worker-{index}": _readiness(answer) for index, answer in (await self._fetch("/readyz")).items()}
        ok = all(v == "ready" for v in checks.values())
        return web.json_response({"ready": ok, "checks": checks}, status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        texts = {
            str(index): answer[1].decode("utf-8", "replace")
            for index, answer in (await self._fetch("/metrics")).items()
            if answer is not None and answer[0] == 200
        }
        merged = CollectorRegistry()
        merged.register(_Families(merge_expositions(texts)))
        body, content_type = render(merged)
        own = render(self.registry)[0]
        resp = web.Response(body=body + own)
        resp.content_type = content_type.split(";")[0]
        resp.charset = "utf-8"
        return resp


def _readiness(answer: tuple[int, bytes] | None) -> str:
    """One worker's ``/readyz`` answer in a word or two: ready, starting, or what its checks say."""
    if answer is None:
        return "starting"
    status, body = answer
    if status == 200:
        return "ready"
    try:
        checks = orjson.loads(body).get("checks", {})
    except (orjson.JSONDecodeError, AttributeError):
        return f"status {status}"
    return ", ".join(f"{k}: {v}" for k, v in checks.items()) or f"status {status}"


def merge_expositions(texts: Mapping[str, str], label: str = "worker") -> list[Metric]:
    """Prometheus text expositions, one per worker, as one set of families with a ``label`` naming the worker.

    Families of the same name merge (HELP and TYPE once, every worker's samples); pure.
    """
    families: dict[str, Metric] = {}
    for worker, text in texts.items():
        for fam in text_string_to_metric_families(text):
            merged = families.get(fam.name)
            if merged is None:
                merged = families[fam.name] = Metric(fam.name, fam.documentation, fam.type, fam.unit)
            merged.samples.extend(
                Sample(s.name, {**s.labels, label: worker}, s.value, s.timestamp, s.exemplar) for s in fam.samples
            )
    return list(families.values())


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def own_command() -> list[str]:
    """This process's command line, as a worker runs it: ``python -m hookgate`` and the same arguments."""
    return [sys.executable, "-m", "hookgate", *sys.argv[1:]]
