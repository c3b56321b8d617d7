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

import aiohttp
import yaml
from aiokafka.errors import KafkaError

from bench import kafka_io
from bench.procs import Proc, free_port, pinning, start
from bench.wrk import run_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LUA = ROOT / "bench" / "github.lua"
SECRET = "bench-secret-not-for-production"
PARTITIONS = 3


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def options(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.sh", description="hookgate benchmarks (every flag has a BENCH_* env)")
    p.add_argument("--duration", type=int, default=env_int("BENCH_DURATION", 15), help="seconds per scenario")
    p.add_argument("--warmup", type=int, default=env_int("BENCH_WARMUP", 5), help="warm-up seconds per scenario")
    p.add_argument("--threads", type=int, default=env_int("BENCH_THREADS", 2), help="wrk threads")
    p.add_argument("--connections", type=int, default=env_int("BENCH_CONNECTIONS", 64), help="wrk connections")
    p.add_argument("--body-bytes", type=int, default=env_int("BENCH_BODY_BYTES", 1024))
    p.add_argument("--consumer-events", type=int, default=env_int("BENCH_CONSUMER_EVENTS", 20_000))
    p.add_argument(
        "--consumer-timeout",
        type=int,
        default=env_int("BENCH_CONSUMER_TIMEOUT", 120),
        help="seconds to wait for events",
    )
    p.add_argument("--e2e-rate", type=int, default=env_int("BENCH_E2E_RATE", 200), help="events/s for e2e latency")
    p.add_argument("--e2e-seconds", type=int, default=env_int("BENCH_E2E_SECONDS", 10))
    p.add_argument(
        "--scenarios",
        default=os.environ.get("BENCH_SCENARIOS", "ceiling,github,none,produce,consumer"),
        help="comma-separated subset of ceiling,github,none,produce,consumer",
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

    def gateway_config(self, port: int, tenant: str, verify: dict[str, Any]) -> tuple[Path, str]:
        tid = uuid.uuid4().hex + "bench"
        cfg = {
            "gateway": {"listen": {"host": "127.0.0.1", "port": port}},
            "kafka": {
                "bootstrap_servers": self.bootstrap,
                "topics": {"prefix": self.prefix, "partitions": PARTITIONS, "replication_factor": 1},
            },
            "triggers": [{"id": tid, "name": "bench", "tenant": tenant, "verify": verify}],
        }
        path = self.workdir / f"gateway-{tenant}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path, tid

    def load(self, proc: Proc, path: str) -> dict[str, Any]:
        o = self.opts
        wrk_env = {
            **os.environ,
            "BENCH_BODY_FILE": str(self.body_file),
            "BENCH_SIGNATURE": github_signature(self.body),
        }
        url = proc.url + path
        common = {"script": LUA, "env": wrk_env, "threads": o.threads, "connections": o.connections}
        warm = run_wrk(url, seconds=o.warmup, cpu=self.load_cpu, **common) if o.warmup > 0 else None
        result = run_wrk(url, seconds=o.duration, cpu=self.load_cpu, **common)
        out = result.summary()
        out["warmup_requests"] = warm.requests if warm else 0
        out["warmup_non_2xx"] = warm.non_2xx if warm else 0
        out["peak_rss_mib"] = round(proc.peak_rss_kib() / 1024, 1)
        out["valid"] = result.non_2xx == 0 and result.socket_errors == 0
        return out

    def ceiling(self) -> dict[str, Any]:
        port = free_port()
        cmd = [sys.executable, str(ROOT / "bench" / "ceiling.py"), "--port", str(port)]
        proc = start("ceiling", cmd, workdir=self.workdir, port=port, cpu=self.server_cpu, env=self.env)
        try:
            proc.wait_ready()
            return self.load(proc, "/hooks/ceiling")
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

    # --- consumer ----------------------------------------------------------------------------------

    def consumer(self) -> dict[str, Any]:
        o = self.opts
        topic = f"{self.prefix}.bench"
        asyncio.run(kafka_io.create_topics(self.bootstrap, [topic], PARTITIONS))
        asyncio.run(kafka_io.preload(self.bootstrap, topic, o.consumer_events, self.body, "bench"))

        tport, cport, gport = free_port(), free_port(), free_port()
        target_cmd = [sys.executable, str(ROOT / "bench" / "target.py"), "--port", str(tport)]
        target = start("target", target_cmd, workdir=self.workdir, port=tport, cpu=self.load_cpu, env=self.env)
        procs = [target]
        try:
            target.wait_ready()
            ccfg = self.workdir / "consumer.yaml"
            ccfg.write_text(
                yaml.safe_dump(
                    {
                        "consumer": {
                            "group_id": f"{self.prefix}-workflows",
                            "topics": [topic],
                            "listen": {"host": "127.0.0.1", "port": cport},
                        },
                        "kafka": {"bootstrap_servers": self.bootstrap, "topics": {"prefix": self.prefix}},
                        "workflows": [
                            {
                                "name": "bench",
                                "match": {"tenant": "bench"},
                                "action": {"type": "http", "url": f"{target.url}/wf"},
                            }
                        ],
                    }
                )
            )
            started = time.time_ns()
            cons_cmd = [*self.hookgate, "consumer", "-c", str(ccfg)]
            cons = start("consumer", cons_cmd, workdir=self.workdir, port=cport, cpu=self.server_cpu, env=self.env)
            procs.append(cons)
            stats = wait_count(target, o.consumer_events, timeout=o.consumer_timeout, proc=cons)
            span_s = (stats["last_ns"] - stats["first_ns"]) / 1e9
            out: dict[str, Any] = {
                "events": o.consumer_events,
                "delivered": stats["count"],
                "unique_ids": stats["unique_ids"],
                "events_per_second": round((stats["count"] - 1) / span_s, 1) if span_s > 0 else None,
                "seconds_first_to_last": round(span_s, 2),
                "seconds_from_process_start": round((stats["last_ns"] - started) / 1e9, 2),
            }

            # End to end: the paced sender signs each webhook with its own sent_at_ns in the body.
            gcfg, tid = self.gateway_config(gport, "bench", {"type": "github", "secrets": [SECRET]})
            gw_cmd = [*self.hookgate, "gateway", "-c", str(gcfg)]
            gw = start("gateway-e2e", gw_cmd, workdir=self.workdir, port=gport, cpu=self.server_cpu, env=self.env)
            procs.append(gw)
            gw.wait_ready()
            http_post(target.url + "/reset")
            sent, failed = asyncio.run(paced_sender(f"{gw.url}/hooks/{tid}", o.e2e_rate, o.e2e_seconds, o.body_bytes))
            stats = wait_count(target, sent - failed, timeout=120, proc=cons)
            lat_ms = [n / 1e6 for n in stats["latencies_ns"]]
            out["e2e"] = {
                "rate_per_second": o.e2e_rate,
                "sent": sent,
                "gateway_failures": failed,
                "delivered": stats["count"],
                "p50_ms": round(percentile(lat_ms, 50), 2),
                "p99_ms": round(percentile(lat_ms, 99), 2),
                "max_ms": round(max(lat_ms), 2) if lat_ms else None,
            }
            out["consumer_peak_rss_mib"] = round(cons.peak_rss_kib() / 1024, 1)
            out["valid"] = out["delivered"] >= o.consumer_events and failed == 0
            return out
        finally:
            for proc in reversed(procs):
                proc.stop()


def http_post(url: str) -> None:
    req = urllib.request.Request(url, method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=5):
        pass


def wait_count(target: Proc, count: int, *, timeout: float, proc: Proc) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with urllib.request.urlopen(target.url + "/stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        if stats["count"] >= count:
            return stats
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        time.sleep(0.25)
    raise TimeoutError(f"target got {stats.get('count')} of {count} events in {timeout}s:\n{proc.tail()}")


async def paced_sender(url: str, rate: int, seconds: int, size: int) -> tuple[int, int]:
    """Send ``rate * seconds`` GitHub-signed webhooks at a steady rate; each body carries its send time."""
    total = rate * seconds
    failures = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        body = json_body(size, {"sent_at_ns": time.time_ns()})
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(body),
        }
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            if resp.status != 202:
                failures += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = []
        for i in range(total):
            delay = t0 + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
    return total, failures


def attempt(failures: dict[str, str], name: str, scenario: Callable[[], None]) -> None:
    """Run one scenario; a failure is reported and recorded, and the other scenarios still run."""
    try:
        scenario()
    except (RuntimeError, TimeoutError, OSError, ValueError, KafkaError) as exc:
        failures[name] = str(exc)
        print(f"bench: {name} FAILED: {exc}", file=sys.stderr, flush=True)


def render(results: dict[str, Any]) -> str:
    lines = []
    http = results["http"]
    lines.append(f"{'scenario':<18}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'peak RSS MiB':>14}")
    for name, label in (("ceiling", "ceiling (bare)"), ("github", "gateway github"), ("none", "gateway none")):
        r = http.get(name)
        if r:
            lines.append(
                f"{label:<18}{r['requests_per_second']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['non_2xx']:>9}{r['peak_rss_mib']:>14.1f}"
            )
    for k, v in results["ratios"].items():
        lines.append(f"ratio {k}: {v:.3f}")
    for name in ("github", "none"):
        r = http.get(name)
        if r:
            lines.append(
                f"{name}: {r['accepted_responses']} accepted replies, {r['kafka_records']} records in Kafka"
                " (more records than counted replies = requests still in flight when wrk stopped)"
            )
    for mode, rows in results.get("produce", {}).items():
        for r in rows:
            lines.append(
                f"produce {mode:<6} x{r['concurrency']:<4} {r['events_per_second']:>9.0f} events/s"
                f"  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms"
            )
    c = results.get("consumer")
    if c:
        lines.append(
            f"consumer: {c['events_per_second']} events/s ({c['delivered']} events in {c['seconds_first_to_last']} s,"
            f" {c['unique_ids']} unique ids), peak RSS {c['consumer_peak_rss_mib']} MiB"
        )
        e = c["e2e"]
        lines.append(
            f"end to end at {e['rate_per_second']}/s: p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms, max {e['max_ms']} ms"
            f" ({e['delivered']}/{e['sent']} delivered, {e['gateway_failures']} gateway failures)"
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
        try:
            if "ceiling" in wanted:
                print("bench: ceiling (bare aiohttp) ...", flush=True)
                attempt(failures, "ceiling", lambda: results["http"].__setitem__("ceiling", bench.ceiling()))
            if "github" in wanted:
                print("bench: gateway, GitHub preset ...", flush=True)
                attempt(
                    failures,
                    "github",
                    lambda: results["http"].__setitem__(
                        "github", bench.gateway("github", {"type": "github", "secrets": [SECRET]})
                    ),
                )
            if "none" in wanted:
                print("bench: gateway, verify none ...", flush=True)
                attempt(
                    failures,
                    "none",
                    lambda: results["http"].__setitem__("none", bench.gateway("none", {"type": "none"})),
                )
            if "produce" in wanted:
                print("bench: produce path alone (direct send_and_wait vs the gateway's pump) ...", flush=True)
                attempt(failures, "produce", lambda: results.__setitem__("produce", bench.produce()))
            if "consumer" in wanted:
                print(f"bench: consumer, {opts.consumer_events} events, then e2e ...", flush=True)
                attempt(failures, "consumer", lambda: results.__setitem__("consumer", bench.consumer()))
        finally:
            if failures:
                keep = RESULTS / f"logs-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
                shutil.copytree(tmp, keep)
                print(f"bench: process logs of this run kept in {keep.relative_to(ROOT)}", file=sys.stderr)
            if not opts.keep_topics:
                asyncio.run(kafka_io.delete_topics(bootstrap, bench.prefix))
        http = results["http"]
        rps = {k: v["requests_per_second"] for k, v in http.items()}
        if "github" in rps and "ceiling" in rps:
            results["ratios"]["gateway_github/ceiling"] = rps["github"] / rps["ceiling"]
        if "none" in rps and "ceiling" in rps:
            results["ratios"]["gateway_none/ceiling"] = rps["none"] / rps["ceiling"]
        if "github" in rps and "none" in rps:
            results["ratios"]["github/none"] = rps["github"] / rps["none"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, indent=2)
    (RESULTS / f"bench-{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(render(results))
    print(f"bench: results in bench/results/bench-{stamp}.json")
    results["failures"] = failures
    invalid = [k for k, v in http.items() if not v["valid"]] + sorted(failures)
    if results.get("consumer") and not results["consumer"]["valid"]:
        invalid.append("consumer")
    if invalid:
        print(
            f"bench: INVALID run (failed, non-2xx, socket errors or lost events): {', '.join(invalid)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
