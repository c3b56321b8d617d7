"""``make bench``: ceiling vs gateway (GitHub preset, no verification) under wrk, then the consumer.

Scenarios, each server in a fresh process so its peak RSS is its own:

* ``ceiling``: a bare aiohttp server answering 202 (bench/ceiling.py), same interpreter and uvloop;
* ``github``: ``hookgate gateway`` with the GitHub preset, real broker, acks=all, idempotent;
* ``none``: the same gateway with ``verify: {type: none}`` on the same body;
* ``produce``: the produce path alone (bench/produce.py): each coroutine awaiting ``send_and_wait``
  (aiokafka issue 528) against the gateway's single-pump :class:`Publisher`;
* ``consumer``: events/s from a preloaded topic through ``hookgate consumer`` to a bare HTTP target,
  then end-to-end latency (load sender -> gateway -> Kafka -> consumer -> target) at a paced rate.

Results go to stdout and to ``bench/results/bench-<time>.json`` (and ``latest.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from aiokafka.errors import KafkaError

from bench import kafka_io
from bench.procs import Proc, free_port, pinning, start
from bench.wrk import run_wrk
from hookgate.consumer.workflows.actions.client import HttpClient, HttpClientError

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "github.lua"
SECRET = "bench-secret-not-for-production"
PARTITIONS = 3


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


SCENARIOS = (
    "ceiling",
    "ceiling-raw",
    "null-sink",
    "github",
    "relay",
    "none",
    "gateway-workers",
    "produce",
    "http-client",
    "consumer",
    "peer-consumer",
    "e2e",
)


def options(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.sh", description="hookgate benchmarks (every flag has a BENCH_* env)")
    p.add_argument("--duration", type=int, default=env_int("BENCH_DURATION", 15), help="seconds per scenario")
    p.add_argument("--warmup", type=int, default=env_int("BENCH_WARMUP", 5), help="warm-up seconds per scenario")
    p.add_argument("--threads", type=int, default=env_int("BENCH_THREADS", 1), help="wrk threads")
    p.add_argument("--connections", type=int, default=env_int("BENCH_CONNECTIONS", 32), help="wrk connections")
    p.add_argument("--body-bytes", type=int, default=env_int("BENCH_BODY_BYTES", 1024))
    p.add_argument("--consumer-events", type=int, default=env_int("BENCH_CONSUMER_EVENTS", 20_000))
    p.add_argument(
        "--consumer-timeout",
        type=int,
        default=env_int("BENCH_CONSUMER_TIMEOUT", 120),
        help="seconds to wait for events",
    )
    p.add_argument("--e2e-rate", type=int, default=env_int("BENCH_E2E_RATE", 1000), help="events/s for e2e latency")
    p.add_argument(
        "--rounds",
        type=int,
        default=env_int("BENCH_ROUNDS", 3),
        help="interleaved gateway/relay rounds (the ratio is the median of the per-round ratios)",
    )
    p.add_argument(
        "--consumer-keys",
        default=os.environ.get("BENCH_CONSUMER_KEYS", "default,tenant,tenant-ordered"),
        help="record keys of the preloaded events: default (the gateway's default key: the subject, else the"
        " event id; these events name no subject), tenant (key: {tenant}), id (the event id); a -ordered"
        " suffix makes the workflow ordered: true",
    )
    p.add_argument(
        "--consumer-workers",
        default=os.environ.get("BENCH_CONSUMER_WORKERS", "1,2"),
        help="consumer.workers values compared on the default key (unpinned, so more than one core is usable);"
        " empty to skip",
    )
    p.add_argument(
        "--consumer-rounds",
        type=int,
        default=env_int("BENCH_CONSUMER_ROUNDS", 3),
        help="interleaved rounds of the consumer scenarios (ratios are the median of the per-round ratios)",
    )
    p.add_argument(
        "--gateway-workers",
        default=os.environ.get("BENCH_GATEWAY_WORKERS", "1,2"),
        help="gateway.workers values compared with the GitHub preset (unpinned); empty to skip",
    )
    p.add_argument("--e2e-seconds", type=int, default=env_int("BENCH_E2E_SECONDS", 10))
    p.add_argument(
        "--scenarios",
        default=os.environ.get("BENCH_SCENARIOS", ",".join(SCENARIOS)),
        help=f"comma-separated subset of {','.join(SCENARIOS)}",
    )
    p.add_argument("--keep-topics", action="store_true", default=os.environ.get("BENCH_KEEP_TOPICS") == "1")
    return p.parse_args(argv)


def json_body(size: int, extra: dict[str, Any] | None = None) -> bytes:
    """A GitHub-push-like JSON object padded to exactly ``size`` bytes."""
    doc: dict[str, Any] = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/bench", "id": 1},
        "pusher": {"name": "bench"},
        **(extra or {}),
        "pad": "",
    }
    raw = json.dumps(doc, separators=(",", ":")).encode()
    doc["pad"] = "x" * max(0, size - len(raw))
    return json.dumps(doc, separators=(",", ":")).encode()


def github_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Bench:
    def __init__(self, opts: argparse.Namespace, bootstrap: str, workdir: Path) -> None:
        self.opts = opts
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.prefix = f"bench{kafka_io.run_id()}"
        self.load_cpu, self.server_cpu = pinning()
        self.body = json_body(opts.body_bytes)
        self.body_file = workdir / "body.json"
        self.body_file.write_bytes(self.body)
        self.env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        self.hookgate = [sys.executable, "-m", "hookgate"]

    # --- HTTP scenarios -------------------------------------------------------------------------

    def gateway_config(
        self, port: int, tenant: str, verify: dict[str, Any], *, workers: int = 1, ops_port: int | None = None
    ) -> tuple[Path, str]:
        tid = uuid.uuid4().hex + "bench"
        gateway: dict[str, Any] = {
            "listen": {"host": "127.0.0.1", "port": port},
            # wrk is one client address: the per-client limit would cap --connections above 32.
            "limits": {"max_concurrent_per_client": None},
        }
        if ops_port is not None:
            gateway["ops_listen"] = {"host": "127.0.0.1", "port": ops_port}
            gateway["workers"] = workers
        cfg = {
            "gateway": gateway,
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "topics": {"prefix": self.prefix, "partitions": PARTITIONS, "replication_factor": 1},
            },
            "triggers": [{"id": tid, "name": "bench", "tenant": tenant, "verify": verify}],
        }
        path = self.workdir / f"gateway-{tenant}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path, tid

    def load(self, proc: Proc, path: str, url: str | None = None) -> dict[str, Any]:
        o = self.opts
        wrk_env = {
            **os.environ,
            "BENCH_BODY_FILE": str(self.body_file),
            "BENCH_SIGNATURE": github_signature(self.body),
        }
        url = (url or proc.url) + path
        common = {"script": LUA, "env": wrk_env, "threads": o.threads, "connections": o.connections}
        warm = run_wrk(url, seconds=o.warmup, cpu=self.load_cpu, **common) if o.warmup > 0 else None
        cpu_before = tree_cpu_seconds(proc.popen.pid)
        result = run_wrk(url, seconds=o.duration, cpu=self.load_cpu, **common)
        cpu_after = tree_cpu_seconds(proc.popen.pid)
        out = result.summary()
        # The server's CPU per answered request (its process tree, read from /proc around the measured run):
        # the figure a shared machine skews least, since it does not count the time the server waited.
        out["cpu_us_per_request"] = round((cpu_after - cpu_before) * 1e6 / max(result.requests, 1), 1)
        out["warmup_requests"] = warm.requests if warm else 0
        out["warmup_non_2xx"] = warm.non_2xx if warm else 0
        out["peak_rss_mib"] = round(proc.peak_rss_kib() / 1024, 1)
        workers = proc.children_peak_rss_kib()
        if workers:
            out["worker_peak_rss_mib"] = [round(k / 1024, 1) for k in workers]
        out["valid"] = result.non_2xx == 0 and result.socket_errors == 0
        return out

    def ceiling(self, *, raw: bool = False) -> dict[str, Any]:
        """bench/ceiling.py: a bare aiohttp app; with ``raw``, no framework (an asyncio.Protocol over httptools)."""
        port = free_port()
        cmd = [sys.executable, str(ROOT / "bench" / "ceiling.py"), "--port", str(port), *(["--raw"] if raw else [])]
        name = "ceiling-raw" if raw else "ceiling"
        proc = start(name, cmd, workdir=self.workdir, port=port, cpu=self.server_cpu, env=self.env)
        try:
            proc.wait_ready()
            return self.load(proc, "/hooks/ceiling")
        finally:
            proc.stop()

    def null_sink(self) -> dict[str, Any]:
        """The gateway (GitHub preset, same config) with an event sink that acknowledges at once: no Kafka."""
        port = free_port()
        cfg, tid = self.gateway_config(port, "load-null-sink", {"type": "github", "secrets": [SECRET]})
        cmd = [sys.executable, "-m", "bench.null_sink", "-c", str(cfg)]
        proc = start("null-sink", cmd, workdir=self.workdir, port=port, cpu=self.server_cpu, env=self.env)
        try:
            proc.wait_ready()
            return self.load(proc, f"/hooks/{tid}")
        finally:
            proc.stop()

    def gateway(self, name: str, verify: dict[str, Any]) -> dict[str, Any]:
        port = free_port()
        tenant = f"load-{name}"
        cfg, tid = self.gateway_config(port, tenant, verify)
        cmd = [*self.hookgate, "gateway", "-c", str(cfg)]
        proc = start(f"gateway-{name}", cmd, workdir=self.workdir, port=port, cpu=self.server_cpu, env=self.env)
        try:
            proc.wait_ready()
            out = self.load(proc, f"/hooks/{tid}")
        finally:
            proc.stop()
        topic = f"{self.prefix}.{tenant}"
        out["kafka_records"] = asyncio.run(kafka_io.record_count(self.bootstrap, topic))
        out["accepted_responses"] = out["requests"] + out["warmup_requests"] - out["non_2xx"] - out["warmup_non_2xx"]
        return out

    def gateway_github(self) -> dict[str, Any]:
        return self.gateway("github", {"type": "github", "secrets": [SECRET]})

    def gateway_workers(self, workers: int) -> dict[str, Any]:
        """The GitHub preset with ``gateway.workers: workers`` (ops on a port of their own), unpinned for 1 and
        2 alike: a second process can only help where a second core is there to run it."""
        port, ops_port = free_port(), free_port()
        tenant = f"load-workers-{workers}"
        verify = {"type": "github", "secrets": [SECRET]}
        cfg, tid = self.gateway_config(port, tenant, verify, workers=workers, ops_port=ops_port)
        cmd = [*self.hookgate, "gateway", "-c", str(cfg)]
        # Proc.port is the ops port (readiness: every worker's producer connected); wrk goes to the shared port.
        proc = start(f"gateway-workers-{workers}", cmd, workdir=self.workdir, port=ops_port, cpu=None, env=self.env)
        try:
            proc.wait_ready()
            out = self.load(proc, f"/hooks/{tid}", url=f"http://127.0.0.1:{port}")
        finally:
            proc.stop()
        topic = f"{self.prefix}.{tenant}"
        out["kafka_records"] = asyncio.run(kafka_io.record_count(self.bootstrap, topic))
        out["accepted_responses"] = out["requests"] + out["warmup_requests"] - out["non_2xx"] - out["warmup_non_2xx"]
        out["workers"] = workers
        out["pinned"] = False
        return out

    # --- produce path alone ---------------------------------------------------------------------

    def produce(self) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "bench.produce", "--bootstrap", self.bootstrap, "--prefix", self.prefix]
        cmd += ["--seconds", str(max(2, self.opts.duration // 4)), "--size", str(self.opts.body_bytes)]
        if self.server_cpu is not None:
            cmd = ["taskset", "-c", self.server_cpu, *cmd]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
        if res.returncode != 0:
            raise RuntimeError(f"bench.produce failed ({res.returncode}):\n{res.stderr[-3000:]}{res.stdout[-3000:]}")
        result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
        return result

    def http_client(self) -> dict[str, Any]:
        """The consumer's HTTP client against aiohttp's pooled ClientSession, same target (bench/http_clients.py)."""
        target = self.target()
        try:
            cmd = [
                sys.executable,
                "-m",
                "bench.http_clients",
                "--port",
                str(target.port),
                "--size",
                str(self.opts.body_bytes),
            ]
            if self.server_cpu is not None:
                cmd = ["taskset", "-c", self.server_cpu, *cmd]
            res = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
        finally:
            target.stop()
        if res.returncode != 0:
            raise RuntimeError(f"bench.http_clients failed ({res.returncode}):\n{res.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
        return result

    def relay(self) -> dict[str, Any]:
        """The hand-written relay peer (bench/relay.py) under the same load as the gateway."""
        port = free_port()
        topic = f"{self.prefix}.relay"
        asyncio.run(kafka_io.create_topics(self.bootstrap, [topic], PARTITIONS))
        cmd = [sys.executable, "-m", "bench.relay", "--port", str(port), "--bootstrap", self.bootstrap]
        cmd += ["--topic", topic, "--secret", SECRET]
        proc = start("relay", cmd, workdir=self.workdir, port=port, cpu=self.server_cpu, env=self.env)
        try:
            proc.wait_ready()
            out = self.load(proc, "/hooks/relay")
        finally:
            proc.stop()
        out["kafka_records"] = asyncio.run(kafka_io.record_count(self.bootstrap, topic))
        out["accepted_responses"] = out["requests"] + out["warmup_requests"] - out["non_2xx"] - out["warmup_non_2xx"]
        return out

    # --- consumers ---------------------------------------------------------------------------------

    def preloaded(self, name: str, keys: str) -> str:
        topic = f"{self.prefix}.{name}-{kafka_io.run_id()}"
        asyncio.run(kafka_io.create_topics(self.bootstrap, [topic], PARTITIONS))
        asyncio.run(kafka_io.preload(self.bootstrap, topic, self.opts.consumer_events, self.body, "bench", keys))
        return topic

    def target(self, *, pinned: bool = True) -> Proc:
        port = free_port()
        cmd = [sys.executable, str(ROOT / "bench" / "target.py"), "--port", str(port)]
        cpu = self.load_cpu if pinned else None
        target = start("target", cmd, workdir=self.workdir, port=port, cpu=cpu, env=self.env)
        target.wait_ready()
        return target

    def consumer_config(self, topic: str, port: int, target: Proc, workers: int = 1, *, ordered: bool = False) -> Path:
        path = self.workdir / f"consumer-{port}.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "consumer": {
                        "group_id": f"{self.prefix}-{port}",
                        "group": {"start": "earliest"},
                        "topics": [topic],
                        "listen": {"host": "127.0.0.1", "port": port},
                        "workers": workers,
                    },
                    "kafka": {"bootstrap_servers": self.bootstrap, "topics": {"prefix": self.prefix}},
                    "workflows": [
                        {
                            "name": "bench",
                            "match": {"tenant": "bench"},
                            "action": {"type": "http", "url": f"{target.url}/wf"},
                            "ordered": ordered,
                        }
                    ],
                }
            )
        )
        return path

    def drain(
        self, name: str, cmd: list[str], target: Proc, port: int | None, *, pinned: bool = True
    ) -> dict[str, Any]:
        """Start a consumer process and time the preloaded events arriving at the target.

        Besides events/s (wall clock, which other load on the machine skews), the CPU time the consumer's
        process tree spent between the first and the last event, per event: the figure that stays
        comparable on a shared machine.
        """
        started = time.time_ns()
        cpu = self.server_cpu if pinned else None
        proc = start(name, cmd, workdir=self.workdir, port=port or free_port(), cpu=cpu, env=self.env)
        try:
            first = wait_count(target, 1, timeout=self.opts.consumer_timeout, proc=proc, interval=0.02)
            cpu_first = tree_cpu_seconds(proc.popen.pid)
            stats = wait_count(target, self.opts.consumer_events, timeout=self.opts.consumer_timeout, proc=proc)
            cpu_last = tree_cpu_seconds(proc.popen.pid)
            time.sleep(1.0)  # late duplicates would arrive now
            stats = read_stats(target)
            peak = round(proc.peak_rss_kib() / 1024, 1)
        finally:
            proc.stop()
        span_s = (stats["last_ns"] - stats["first_ns"]) / 1e9
        events = self.opts.consumer_events
        counted = self.opts.consumer_events - first["count"]
        return {
            "events": events,
            "delivered": stats["count"],
            "unique_ids": stats["unique_ids"],
            "duplicates": stats["count"] - stats["unique_ids"],
            "events_per_second": round((stats["count"] - 1) / span_s, 1) if span_s > 0 else None,
            "cpu_us_per_event": round((cpu_last - cpu_first) / counted * 1e6, 1) if counted > 0 else None,
            "seconds_first_to_last": round(span_s, 2),
            "seconds_from_process_start": round((stats["last_ns"] - started) / 1e9, 2),
            "peak_rss_mib": peak,
            "valid": stats["count"] == events and stats["unique_ids"] == events,
        }

    def consumer(self, keys: str) -> dict[str, Any]:
        """``hookgate consumer`` (dedupe on, one process, pinned like every server) over events keyed by ``keys``."""
        key, _, ordered = keys.partition("-")
        topic = self.preloaded(f"bench-{keys}", key)
        target = self.target()
        try:
            port = free_port()
            config = self.consumer_config(topic, port, target, ordered=ordered == "ordered")
            cmd = [*self.hookgate, "consumer", "-c", str(config)]
            out = self.drain(f"consumer-{keys}", cmd, target, port)
        finally:
            target.stop()
        out["keys"] = keys
        return out

    def consumer_workers(self, workers: int) -> dict[str, Any]:
        """The default key with ``consumer.workers: workers``, unpinned (for 1 and 2 alike): a second process
        can only help where a second core is there to run it."""
        topic = self.preloaded(f"bench-workers-{workers}", "default")
        target = self.target()
        try:
            port = free_port()
            cmd = [*self.hookgate, "consumer", "-c", str(self.consumer_config(topic, port, target, workers))]
            out = self.drain(f"consumer-workers-{workers}", cmd, target, port, pinned=False)
        finally:
            target.stop()
        out["keys"] = "default"
        out["workers"] = workers
        out["pinned"] = False
        return out

    def peer_consumer(self) -> dict[str, Any]:
        """The hand-written consumer peer (bench/peer_consumer.py) over the same events, default key."""
        topic = self.preloaded("peer", "default")
        target = self.target()
        try:
            cmd = [sys.executable, "-m", "bench.peer_consumer", "--bootstrap", self.bootstrap, "--topic", topic]
            cmd += ["--group", f"{self.prefix}-peer-{kafka_io.run_id()}", "--url", f"{target.url}/wf"]
            out = self.drain("peer-consumer", cmd, target, None)
        finally:
            target.stop()
        return out

    def e2e(self) -> dict[str, Any]:
        """Sender -> gateway -> Kafka -> consumer -> target at a paced rate: latency on one host's clock.

        Nothing is pinned here: pinning the gateway and the consumer to one core (and the sender and target
        to the other) queues each behind the other, and a latency figure is about the pipeline, not a core.
        """
        o = self.opts
        gport, cport = free_port(), free_port()
        gcfg, tid = self.gateway_config(gport, "bench", {"type": "github", "secrets": [SECRET]})
        target = self.target(pinned=False)
        procs = [target]
        try:
            topic = f"{self.prefix}.bench"
            asyncio.run(kafka_io.create_topics(self.bootstrap, [topic], PARTITIONS))
            ccfg = self.consumer_config(topic, cport, target)
            cons = start(
                "consumer-e2e",
                [*self.hookgate, "consumer", "-c", str(ccfg)],
                workdir=self.workdir,
                port=cport,
                cpu=None,
                env=self.env,
            )
            procs.append(cons)
            gw = start(
                "gateway-e2e",
                [*self.hookgate, "gateway", "-c", str(gcfg)],
                workdir=self.workdir,
                port=gport,
                cpu=None,
                env=self.env,
            )
            procs.append(gw)
            gw.wait_ready()
            cons.wait_ready()
            url = f"{gw.url}/hooks/{tid}"
            warm_sent = warm_failed = 0
            if o.warmup > 0:
                # Warm-up at the same rate, not counted (as wrk's for the HTTP scenarios): connections,
                # the producer's and the consumer's first batches, the fetcher's positions.
                warm_sent, warm_failed, _ = asyncio.run(paced_sender(url, o.e2e_rate, o.warmup, o.body_bytes))
                wait_count(target, warm_sent - warm_failed, timeout=120, proc=cons)
                time.sleep(0.5)
                http_post(target.url + "/reset")
            sent, failed, replies_ms = asyncio.run(paced_sender(url, o.e2e_rate, o.e2e_seconds, o.body_bytes))
            stats = wait_count(target, sent - failed, timeout=120, proc=cons)
            time.sleep(1.0)
            stats = read_stats(target)
        finally:
            for proc in reversed(procs):
                proc.stop()
        lat_ms = [n / 1e6 for n in stats["latencies_ns"]]  # in order of arrival
        # Where the time goes: the gateway's reply (send to 202) against the whole way; and each second's
        # p99, which tells a start-up transient from a steady tail.
        per_second = [round(percentile(lat_ms[i : i + o.e2e_rate], 99), 1) for i in range(0, len(lat_ms), o.e2e_rate)]
        return {
            "rate_per_second": o.e2e_rate,
            "warmup_seconds": o.warmup,
            "sent": sent,
            "gateway_failures": failed + warm_failed,
            "delivered": stats["count"],
            "duplicates": stats["count"] - stats["unique_ids"],
            "p50_ms": round(percentile(lat_ms, 50), 2),
            "p99_ms": round(percentile(lat_ms, 99), 2),
            "max_ms": round(max(lat_ms), 2) if lat_ms else None,
            "gateway_reply_p50_ms": round(percentile(replies_ms, 50), 2),
            "gateway_reply_p99_ms": round(percentile(replies_ms, 99), 2),
            "p99_ms_per_second": per_second,
            "valid": failed == 0 and warm_failed == 0 and stats["count"] == sent and stats["unique_ids"] == sent,
        }


def read_stats(target: Proc) -> dict[str, Any]:
    with urllib.request.urlopen(target.url + "/stats", timeout=10) as resp:
        stats: dict[str, Any] = json.loads(resp.read())
    return stats


def http_post(url: str) -> None:
    req = urllib.request.Request(url, method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=5):
        pass


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` and its live descendants (supervised workers included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def wait_count(target: Proc, count: int, *, timeout: float, proc: Proc, interval: float = 0.25) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = read_stats(target)
        if stats["count"] >= count:
            return stats
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        time.sleep(interval)
    raise TimeoutError(f"target got {stats.get('count')} of {count} events in {timeout}s:\n{proc.tail()}")


async def paced_sender(url: str, rate: int, seconds: int, size: int) -> tuple[int, int, list[float]]:
    """Send ``rate * seconds`` GitHub-signed webhooks at a steady rate; each body carries its send time.

    The sender is the consumer's lean keep-alive client (a quarter of aiohttp's CPU per request), so that
    the load generator takes as little as it can of the machine the measured processes share. Returns
    (sent, failures, the gateway's reply times in ms: send to 202, as the sender saw them).
    """
    total = rate * seconds
    failures = 0
    replies_ms: list[float] = []
    parts = urlsplit(url)
    client = HttpClient(f"{parts.scheme}://{parts.netloc}", limit=64)

    async def one() -> None:
        nonlocal failures
        sent_at = time.time_ns()
        body = json_body(size, {"sent_at_ns": sent_at})
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(body),
        }
        try:
            resp = await client.request("POST", parts.path, headers, body, 30.0)
        except (HttpClientError, OSError, TimeoutError):
            failures += 1
            return
        replies_ms.append((time.time_ns() - sent_at) / 1e6)
        if resp.status != 202:
            failures += 1

    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = []
        for i in range(total):
            delay = t0 + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    finally:
        await client.close()
    return total, failures, replies_ms


def attempt(failures: dict[str, str], name: str, scenario: Callable[[], None]) -> None:
    """Run one scenario; a failure is reported and recorded, and the other scenarios still run."""
    try:
        scenario()
    except (RuntimeError, TimeoutError, OSError, ValueError, KafkaError) as exc:
        failures[name] = str(exc)
        print(f"bench: {name} FAILED: {exc}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """Ratios of figures measured in this run: per round where scenarios alternate, then the median."""
    http = results["http"]
    rps = {k: median([v["requests_per_second"] for v in runs]) for k, runs in http.items()}
    out: dict[str, float] = {}
    if "github" in http and "relay" in http:
        pairs = zip(http["github"], http["relay"], strict=False)
        out["gateway_github/relay"] = median([g["requests_per_second"] / r["requests_per_second"] for g, r in pairs])
    for name in ("github", "none"):
        if name in rps and "ceiling" in rps:
            out[f"gateway_{name}/ceiling"] = rps[name] / rps["ceiling"]
    if "github" in http and "relay" in http:
        pairs = zip(http["github"], http["relay"], strict=False)
        out["gateway_github_cpu_per_request/relay"] = median(
            [g["cpu_us_per_request"] / r["cpu_us_per_request"] for g, r in pairs]
        )
    if "github" in rps and "none" in rps:
        out["github/none"] = rps["github"] / rps["none"]
    if "gateway-workers-1" in rps and "gateway-workers-2" in rps:
        out["gateway_workers_2/workers_1"] = rps["gateway-workers-2"] / rps["gateway-workers-1"]
    out.update(consumer_ratios(results.get("consumer", {})))
    clients = results.get("http_client", {})
    if clients.get("hookgate") and clients.get("aiohttp"):
        pairs = list(zip(clients["hookgate"], clients["aiohttp"], strict=False))
        out["http_client_cpu_per_request/aiohttp"] = median(
            [h["cpu_us_per_request"] / a["cpu_us_per_request"] for h, a in pairs]
        )
        out["http_client_requests/aiohttp"] = median(
            [h["requests_per_second"] / a["requests_per_second"] for h, a in pairs]
        )
    return out


def consumer_ratios(consumers: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Consumer ratios, each the median of per-round ratios (the scenarios of a round ran back to back)."""

    def per_round(a: str, b: str, figure: str, invert: bool = False) -> float | None:
        pairs = [
            (x.get(figure), y.get(figure))
            for x, y in zip(consumers.get(a, []), consumers.get(b, []), strict=False)
            if x.get(figure) and y.get(figure)
        ]
        if not pairs:
            return None
        return median([(y / x) if invert else (x / y) for x, y in pairs])

    wanted = [(f"consumer_{k}/peer_consumer", k, "peer", "events_per_second") for k in ("default", "tenant", "id")] + [
        ("consumer_default_cpu_per_event/peer_consumer", "default", "peer", "cpu_us_per_event"),
        ("consumer_tenant/consumer_default", "tenant", "default", "events_per_second"),
        ("consumer_tenant_ordered/consumer_default", "tenant-ordered", "default", "events_per_second"),
        ("consumer_workers_2/workers_1", "workers-2", "workers-1", "events_per_second"),
    ]
    out: dict[str, float] = {}
    for name, a, b, figure in wanted:
        value = per_round(a, b, figure)
        if value is not None:
            out[name] = value
    return out


def cpu_budget(http: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Where the gateway's CPU per request goes, from the scenarios of this run (medians of their rounds).

    The bare ceiling is aiohttp alone; the relay adds the HMAC check and the produce path to it; the null
    sink gateway adds hookgate's own work to the ceiling but no Kafka; the gateway has both. For the
    gateway to reach ``x`` times the relay's requests/s on the same CPU, it may spend ``relay / x`` per
    request: what is left of that after aiohttp and the gateway's own produce path is the budget for
    hookgate's own work.
    """
    cpu = {
        k: median([r["cpu_us_per_request"] for r in runs])
        for k, runs in http.items()
        if runs and all(r.get("cpu_us_per_request") for r in runs)
    }
    if not {"ceiling", "null-sink", "github", "relay"} <= cpu.keys():
        return []
    ceiling, null, gateway, relay = cpu["ceiling"], cpu["null-sink"], cpu["github"], cpu["relay"]
    own, produce, relay_extra = null - ceiling, gateway - null, relay - ceiling
    budget = relay / 0.9 - ceiling - produce
    lines = [
        f"CPU per request (median us): aiohttp ceiling {ceiling:.0f}, relay {relay:.0f} (HMAC + produce"
        f" {relay_extra:.0f}), gateway {gateway:.0f} = ceiling + hookgate's own work {own:.0f}"
        f" (null sink {null:.0f}) + its produce path {produce:.0f}",
        f"for gateway/relay >= 0.9 the gateway may spend {relay / 0.9:.0f} us per request: {budget:.0f} us"
        f" for hookgate's own work on this HTTP stack and produce path (it takes {own:.0f})",
    ]
    if "ceiling-raw" in cpu:
        raw = cpu["ceiling-raw"]
        lines.append(
            f"a server without aiohttp (asyncio.Protocol + httptools, no limits or routing) costs {raw:.0f} us:"
            f" {budget + ceiling - raw:.0f} us for hookgate's own work if it replaced aiohttp entirely"
        )
    return lines


def render(results: dict[str, Any]) -> str:
    lines = []
    http = results["http"]
    lines.append(
        f"{'scenario':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'peak RSS MiB':>14}{'CPU us/req':>12}"
    )
    labels = {
        "ceiling": "ceiling (bare)",
        "ceiling-raw": "ceiling (no framework)",
        "null-sink": "gateway null sink",
        "github": "gateway github",
        "relay": "relay peer",
        "none": "gateway none",
    }
    labels |= {k: f"gateway {k.removeprefix('gateway-')}" for k in http if k.startswith("gateway-workers-")}
    for name, label in labels.items():
        for i, r in enumerate(http.get(name, [])):
            row = f"{label}{f' #{i + 1}' if len(http[name]) > 1 else ''}"
            rss = "/".join(f"{m:.1f}" for m in r.get("worker_peak_rss_mib", [])) or f"{r['peak_rss_mib']:.1f}"
            lines.append(
                f"{row:<22}{r['requests_per_second']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['non_2xx']:>9}{rss:>14}{r.get('cpu_us_per_request', 0):>12.1f}"
            )
    for k, v in results["ratios"].items():
        lines.append(f"ratio {k}: {v:.3f}")
    lines.extend(cpu_budget(http))
    for name in [n for n in http if "kafka_records" in http[n][0]]:
        for r in http[name]:
            lines.append(
                f"{name}: {r['accepted_responses']} accepted replies, {r['kafka_records']} records in Kafka"
                " (more records than counted replies = requests still in flight when wrk stopped)"
            )
    for mode, rows in results.get("produce", {}).items():
        for r in rows:
            lines.append(
                f"produce {mode:<6} x{r['concurrency']:<4} {r['events_per_second']:>9.0f} events/s"
                f"  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  {r.get('cpu_us_per_event')} us CPU/event"
            )
    for client, rows in results.get("http_client", {}).items():
        figures = ", ".join(f"{r['requests_per_second']:.0f} req/s {r['cpu_us_per_request']} us CPU" for r in rows)
        lines.append(f"HTTP client {client:<8} (64 in flight, 1 KB POST): {figures}")
    names = {
        "default": "hookgate consumer, default key (subject, else id)",
        "tenant": "hookgate consumer, key {tenant}",
        "tenant-ordered": "hookgate consumer, key {tenant}, ordered: true",
        "id": "hookgate consumer, key = event id",
        "peer": "hand-written consumer peer",
        "workers-1": "hookgate consumer, default key, workers: 1 (unpinned)",
        "workers-2": "hookgate consumer, default key, workers: 2 (unpinned)",
    }
    for name, runs in results.get("consumer", {}).items():
        for i, c in enumerate(runs):
            label = f"{names.get(name, name)}{f' #{i + 1}' if len(runs) > 1 else ''}"
            lines.append(
                f"{label}: {c['events_per_second']} events/s, {c.get('cpu_us_per_event')} us CPU/event"
                f" ({c['delivered']} delivered of {c['events']},"
                f" {c['duplicates']} duplicates, {c['seconds_first_to_last']} s), peak RSS {c['peak_rss_mib']} MiB"
            )
    e = results.get("e2e")
    if e:
        lines.append(
            f"end to end at {e['rate_per_second']}/s (after {e.get('warmup_seconds', 0)} s of warm-up):"
            f" p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms, max {e['max_ms']} ms"
            f" ({e['delivered']}/{e['sent']} delivered, {e['duplicates']} duplicates,"
            f" {e['gateway_failures']} gateway failures)"
        )
        lines.append(
            f"end to end: the gateway's reply (send to 202) p50 {e['gateway_reply_p50_ms']} ms,"
            f" p99 {e['gateway_reply_p99_ms']} ms; p99 per second of arrivals: {e['p99_ms_per_second']}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    opts = options(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    wanted = {s.strip() for s in opts.scenarios.split(",") if s.strip()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hookgate-bench-") as tmp:
        bench = Bench(opts, bootstrap, Path(tmp))
        pin = (
            f"wrk/target pinned to core {bench.load_cpu}, servers to core {bench.server_cpu} (taskset);"
            " the Kafka broker is not pinned"
            if bench.server_cpu is not None
            else "no CPU pinning (taskset missing, BENCH_PIN=0, or fewer than 2 cores)"
        )
        print(f"bench: {pin}", flush=True)
        print(
            f"bench: wrk -t{opts.threads} -c{opts.connections}, {opts.warmup}s warm-up + {opts.duration}s per scenario,"
            f" {opts.body_bytes} B JSON body, Kafka {bootstrap}, topics {bench.prefix}.*",
            flush=True,
        )
        results: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
            "pinning": {"load": bench.load_cpu, "server": bench.server_cpu},
            "options": vars(opts),
            "http": {},
            "ratios": {},
        }
        failures: dict[str, str] = {}
        http = results["http"]

        def keep(name: str, run: Callable[[], dict[str, Any]]) -> Callable[[], None]:
            return lambda: http.setdefault(name, []).append(run())

        try:
            if "ceiling-raw" in wanted:
                print("bench: ceiling, no framework (asyncio.Protocol + httptools) ...", flush=True)
                attempt(failures, "ceiling-raw", keep("ceiling-raw", lambda: bench.ceiling(raw=True)))
            # The gateway, its relay peer, the null-sink gateway and the bare ceiling alternate round by round,
            # so a drift of the machine's speed hits all alike; the order rotates every round so that none
            # always runs first (against a broker still warming up, say).
            rotation: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
                ("github", "gateway, GitHub preset", bench.gateway_github),
                ("relay", "relay peer", bench.relay),
                ("null-sink", "gateway, GitHub preset, null event sink (no Kafka)", bench.null_sink),
                ("ceiling", "ceiling (bare aiohttp)", bench.ceiling),
            ]
            rotation = [entry for entry in rotation if entry[0] in wanted]
            rounds = opts.rounds if {"github", "relay"} & wanted else min(1, len(rotation))
            for r in range(rounds):
                for name, title, scenario in rotation[r % len(rotation) :] + rotation[: r % len(rotation)]:
                    print(f"bench: {title} (round {r + 1}) ...", flush=True)
                    attempt(failures, name, keep(name, scenario))
            if "none" in wanted:
                print("bench: gateway, verify none ...", flush=True)
                attempt(failures, "none", keep("none", lambda: bench.gateway("none", {"type": "none"})))
            for w in (
                [int(w) for w in opts.gateway_workers.split(",") if w.strip()] if "gateway-workers" in wanted else []
            ):
                print(f"bench: gateway, GitHub preset, workers: {w} (unpinned) ...", flush=True)
                attempt(
                    failures, f"gateway-workers-{w}", keep(f"gateway-workers-{w}", lambda w=w: bench.gateway_workers(w))
                )
            if "produce" in wanted:
                print("bench: produce path alone (direct send_and_wait vs the gateway's pump) ...", flush=True)
                attempt(failures, "produce", lambda: results.__setitem__("produce", bench.produce()))
            if "http-client" in wanted:
                print("bench: the consumer's HTTP client vs aiohttp.ClientSession ...", flush=True)
                attempt(failures, "http-client", lambda: results.__setitem__("http_client", bench.http_client()))
            consumers: dict[str, list[dict[str, Any]]] = results.setdefault("consumer", {})

            def add(name: str, run: Callable[[], dict[str, Any]]) -> Callable[[], None]:
                return lambda: consumers.setdefault(name, []).append(run())

            keys = [k.strip() for k in opts.consumer_keys.split(",") if k.strip()]
            workers = [int(w) for w in opts.consumer_workers.split(",") if w.strip()]
            # The consumer scenarios alternate round by round, like the gateway and its relay.
            for r in range(opts.consumer_rounds if {"consumer", "peer-consumer"} & wanted else 0):
                n, rnd = opts.consumer_events, f" (round {r + 1})"
                for k in keys if "consumer" in wanted else []:
                    print(f"bench: hookgate consumer, {n} events keyed by {k}{rnd} ...", flush=True)
                    attempt(failures, f"consumer-{k}", add(k, lambda k=k: bench.consumer(k)))
                if "peer-consumer" in wanted:
                    print(f"bench: hand-written consumer peer, {n} events{rnd} ...", flush=True)
                    attempt(failures, "peer-consumer", add("peer", bench.peer_consumer))
                for w in workers if "consumer" in wanted else []:
                    print(f"bench: hookgate consumer, workers: {w}, {n} events{rnd} ...", flush=True)
                    attempt(
                        failures, f"consumer-workers-{w}", add(f"workers-{w}", lambda w=w: bench.consumer_workers(w))
                    )
            if "e2e" in wanted:
                print(f"bench: end to end at {opts.e2e_rate} events/s ...", flush=True)
                attempt(failures, "e2e", lambda: results.__setitem__("e2e", bench.e2e()))
        finally:
            if failures:
                kept = RESULTS / f"logs-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
                shutil.copytree(tmp, kept)
                print(f"bench: process logs of this run kept in {kept.relative_to(ROOT)}", file=sys.stderr)
            if not opts.keep_topics:
                asyncio.run(kafka_io.delete_topics(bootstrap, bench.prefix))
        results["ratios"] = ratios(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, indent=2)
    (RESULTS / f"bench-{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(render(results))
    print(f"bench: results in bench/results/bench-{stamp}.json")
    results["failures"] = failures
    invalid = [k for k, runs in http.items() if not all(v["valid"] for v in runs)] + sorted(failures)
    invalid += [f"consumer-{k}" for k, runs in results["consumer"].items() if not all(v["valid"] for v in runs)]
    if results.get("e2e") and not results["e2e"]["valid"]:
        invalid.append("e2e")
    if invalid:
        print(
            f"bench: INVALID run (failed, non-2xx, socket errors or lost events): {', '.join(invalid)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
