"""Hostile clients against real ``hookgate gateway`` processes and the real broker, on loopback.

Slow-header, idle and slow-body clients are cut at their (short, configured) deadlines while a signed
webhook is accepted; dozens of slow uncredentialed bodies hold no in-flight place; a token trigger
refuses an unauthenticated request before its body arrives; beyond the connection cap new connections
are refused while the ops listener answers; the soft fd limit is raised at start.

Clients are raw sockets (asyncio streams), some bound to other loopback addresses (127.0.0.x) to act
as distinct client addresses. Every wait has a generous bound; nothing asserts how long a cut took.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import github_signature, github_trigger, new_trigger_id, read_topic
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka

TOKEN = "t0k-of-the-tests"
SHORT = {
    "head_timeout_seconds": 1,
    "idle_timeout_seconds": 2,
    "body_timeout_seconds": 3,
    "body_rate_grace_seconds": 1,
    "min_body_bytes_per_second": 100,
}
PATIENT = {  # slow bodies are let through for a minute: only the budgets keep them from starving others
    "max_in_flight": 64,
    "max_reading_bodies": 256,
    "max_concurrent_per_client": 16,
    "body_timeout_seconds": 60,
    "min_body_bytes_per_second": 0,
    "head_timeout_seconds": 60,
}
BOUND = 30.0  # seconds any one wait may take before the test fails


@dataclass
class Gateway:
    service: Service
    port: int
    ops_port: int
    github: str  # trigger ids
    bearer: str
    topic: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    async def log_events(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> list[dict[str, Any]]:
        """The gateway's ``event`` lines that pass ``where``, once there is one (a line is written out in the
        loop iteration after the one that logged it, so it may trail the reply the test just read)."""
        deadline = time.monotonic() + BOUND
        while True:
            out = []
            for line in self.service.logs().splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    if record.get("event") == event and where(record):
                        out.append(record)
            if out or time.monotonic() > deadline:
                return out
            await asyncio.sleep(0.02)


@contextmanager
def gateway_process(
    bootstrap: str, workdir: Path, limits: dict[str, Any], preexec_fn: Callable[[], None] | None = None
) -> Iterator[Gateway]:
    port, ops_port = free_port(), free_port()
    prefix = f"t{uuid.uuid4().hex[:12]}"
    github, bearer = new_trigger_id(), new_trigger_id()
    config = {
        "gateway": {
            "listen": {"host": "127.0.0.1", "port": port},
            "ops_listen": {"host": "127.0.0.1", "port": ops_port},
            "limits": limits,
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": 1}},
        "triggers": [
            github_trigger(github),
            {"id": bearer, "name": "tok", "tenant": "acme", "verify": {"type": "bearer", "tokens": [TOKEN]}},
        ],
    }
    service = start_service("gateway", config, workdir, ops_port, preexec_fn=preexec_fn)  # ready = on ops
    try:
        service.wait_ready()
        yield Gateway(service, port, ops_port, github, bearer, f"{prefix}.acme")
    finally:
        service.stop()


@pytest.fixture(scope="module")
def short(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway with deadlines of 1-3 s."""
    with gateway_process(kafka_bootstrap, tmp_path_factory.mktemp("short"), SHORT) as gw:
        yield gw


def low_soft_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(512, hard), hard))


@pytest.fixture(scope="module")
def patient(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway that lets slow bodies run for a minute, started with a soft fd limit of 512."""
    with gateway_process(kafka_bootstrap, tmp_path_factory.mktemp("patient"), PATIENT, low_soft_fd_limit) as gw:
        yield gw


# Raw clients


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(gw: Gateway, source: str = "127.0.0.1", port: int | None = None) -> Conn:
    return await asyncio.open_connection("127.0.0.1", port or gw.port, local_addr=(source, 0))


async def read_to_close(reader: asyncio.StreamReader, bound: float = BOUND) -> bytes:
    """Everything the server sends until it closes the connection (fails after ``bound`` s)."""
    data = b""
    async with asyncio.timeout(bound):
        try:
            while chunk := await reader.read(65536):
                data += chunk
        except ConnectionError:
            pass
    return data


async def read_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP reply (status, body) on a connection that stays open."""
    async with asyncio.timeout(BOUND):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        return int(head.split(b" ", 2)[1]), await reader.readexactly(length)


async def trickle(conn: Conn, data: bytes, interval: float, first: bytes = b"") -> tuple[int, bytes]:
    """Send ``first`` at once, then ``data`` a byte every ``interval`` s until the server closes;
    (bytes of ``data`` sent, what the server replied)."""
    reader, writer = conn
    writer.write(first)
    reply = asyncio.create_task(read_to_close(reader))
    sent = 0
    for i in range(len(data)):
        if reply.done():
            break
        try:
            writer.write(data[i : i + 1])
            await writer.drain()
        except ConnectionError:
            break
        sent += 1
        await asyncio.wait([reply], timeout=interval)
    return sent, await reply


def post_head(path: str, length: int, *extra: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: gateway.test",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


async def send_signed(gw: Gateway, http: aiohttp.ClientSession, delivery: str) -> int:
    body = json.dumps({"delivery": delivery}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
    }
    async with http.post(f"{gw.url}/hooks/{gw.github}", data=body, headers=headers) as resp:
        return resp.status


async def metric(gw: Gateway, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``, scraped from the ops listener."""
    async with aiohttp.ClientSession() as http, http.get(f"{gw.ops_url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


async def until_metric(gw: Gateway, name: str, done: Callable[[float], bool], **labels: str) -> float:
    """Scrape until the metric's value is ``done`` (fails after :data:`BOUND` s); that value."""
    async with asyncio.timeout(BOUND):
        while True:
            value = await metric(gw, name, **labels)
            if done(value):
                return value
            await asyncio.sleep(0.2)


@asynccontextmanager
async def closing(conns: list[Conn]) -> AsyncIterator[list[Conn]]:
    try:
        yield conns
    finally:
        for _, writer in conns:
            writer.close()


# The tests


async def test_slow_header_idle_and_slow_body_clients_are_cut_while_a_signed_webhook_is_accepted(
    short: Gateway, kafka_bootstrap: str
) -> None:
    gw = short
    timeouts_before = await metric(gw, "hookgate_gateway_head_timeouts_total", listener="webhooks")
    idle = await connect(gw)  # connects, sends nothing
    head = post_head(f"/hooks/{gw.github}", 10, "X-Padding: " + "p" * 200)
    slow_head = asyncio.create_task(trickle(await connect(gw), head, 0.2))  # the whole head would take ~50 s
    keep_alive = await connect(gw)  # one request answered, then nothing
    keep_alive[1].write(b"GET /hooks/no-such-trigger HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
    assert (await read_reply(keep_alive[0]))[0] == 404
    slow_body = asyncio.create_task(  # a head for the signed trigger, then 2 bytes/s (the minimum is 100)
        trickle(await connect(gw), b"{" * 200, 0.5, first=post_head(f"/hooks/{gw.github}", 100_000))
    )

    async with aiohttp.ClientSession() as http:
        assert await send_signed(gw, http, "while-slow-1") == 202

    assert await read_to_close(idle[0]) == b""
    sent, replied = await slow_head
    assert sent < len(head)  # cut before it could finish its head
    assert replied == b""
    assert await read_to_close(keep_alive[0]) == b""
    sent, replied = await slow_body
    assert sent < 200
    assert replied.startswith(b"HTTP/1.1 408 ")
    assert b'"error":"request_timeout"' in replied
    assert b"Connection: close" in replied

    assert await metric(gw, "hookgate_gateway_head_timeouts_total", listener="webhooks") >= timeouts_before + 2
    assert await metric(gw, "hookgate_gateway_requests_total", reason="body_too_slow", status_class="4xx") == 1
    audits = await gw.log_events("audit", lambda r: r["reason"] == "body_too_slow")
    assert [(r["status"], r["trigger"], r["outcome"]) for r in audits] == [(408, "gh", "rejected")]
    assert await gw.log_events("connections_head_timeout")
    records = await read_topic(kafka_bootstrap, gw.topic, count=1, timeout=20)
    assert [dict(r.headers)["ce_id"] for r in records] == [b"while-slow-1"]


async def test_a_body_that_outlasts_the_head_deadline_but_keeps_the_rate_is_accepted(short: Gateway) -> None:
    body = json.dumps({"delivery": "steady-1", "padding": "p" * 260}).encode()
    signature = github_signature(body)
    head = post_head(
        f"/hooks/{short.github}", len(body), f"X-Hub-Signature-256: {signature}", "X-GitHub-Delivery: steady-1"
    )
    reader, writer = await connect(short)
    async with closing([(reader, writer)]):
        writer.write(head + body[:200])
        await asyncio.sleep(1.3)  # past the 1 s head deadline; 200 bytes in 1.3 s is above the 100 B/s minimum
        writer.write(body[200:])
        status, reply = await read_reply(reader)
    assert status == 202, reply  # acknowledged by the broker
    assert json.loads(reply) == {"id": "steady-1"}


async def test_a_token_trigger_refuses_an_unauthenticated_request_before_its_body(short: Gateway) -> None:
    reader, writer = await connect(short)
    async with closing([(reader, writer)]):
        writer.write(post_head(f"/hooks/{short.bearer}", 1_000_000))  # and not a byte of the body
        status, body = await read_reply(reader)
    # Had the body been waited for, the reply would be the body deadline's 408.
    assert status == 401
    assert json.loads(body)["error"] == "unauthorized"
    audits = await short.log_events("audit", lambda r: r["trigger"] == "tok")
    assert [(r["status"], r["reason"], r["body_bytes"]) for r in audits] == [(401, "missing_token", 0)]
    reader, writer = await connect(short)
    async with closing([(reader, writer)]):
        writer.write(post_head(f"/hooks/{short.bearer}", 2, f"Authorization: Bearer {TOKEN}") + b"{}")
        assert (await read_reply(reader))[0] == 202


async def test_slow_uncredentialed_bodies_hold_no_in_flight_place_and_signed_senders_are_accepted(
    patient: Gateway,
) -> None:
    gw = patient
    head = post_head(f"/hooks/{gw.github}", 100_000)
    # 72 slow senders (more than max_in_flight: 64) from 9 addresses, 8 each (under the per-client 16).
    slow = [await connect(gw, f"127.0.0.{2 + i // 8}") for i in range(72)]
    async with closing(slow):
        for _, writer in slow:
            writer.write(head + b"{")
        assert await until_metric(gw, "hookgate_gateway_requests_reading_body", lambda v: v >= 72) == 72
        # One address with 20: the per-client limit (16) refuses 4 at once, with 429.
        greedy = [await connect(gw, "127.0.0.20") for _ in range(20)]
        async with closing(greedy):
            for _, writer in greedy:
                writer.write(head + b"{")
            await until_metric(gw, "hookgate_gateway_requests_reading_body", lambda v: v >= 88)
            statuses = await asyncio.gather(*(read_reply(reader) for reader, _ in greedy[16:]))
            assert [s for s, _ in statuses] == [429] * 4
            assert all(json.loads(b)["error"] == "too_many_requests" for _, b in statuses)

            # The signed senders, meanwhile: every one accepted, none shed.
            async with aiohttp.ClientSession() as http:
                replies = await asyncio.gather(*(send_signed(gw, http, f"among-slow-{i}") for i in range(10)))
            assert replies == [202] * 10
            assert await metric(gw, "hookgate_gateway_requests_total", reason="overloaded") == 0
            assert await metric(gw, "hookgate_gateway_requests_total", reason="client_concurrency_limited") == 4
            # Still reading, all of them (their deadline is a minute away).
            assert await metric(gw, "hookgate_gateway_requests_reading_body") == 88


async def test_the_soft_fd_limit_is_raised_to_the_hard_one_at_start(patient: Gateway) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the child inherits this process's hard limit
    (line,) = await patient.log_events("fd_limit")
    assert (line["soft"], line["hard"], line["raised_from"]) == (hard, hard, min(512, hard))


def fd_limit_256() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


async def test_beyond_the_connection_cap_connections_are_refused_and_the_ops_listener_answers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    limits = {"head_timeout_seconds": 120, "idle_timeout_seconds": 120}  # idle sockets stay for the test
    with gateway_process(kafka_bootstrap, tmp_path, limits, fd_limit_256) as gw:
        cap = await metric(gw, "hookgate_gateway_connections_limit", listener="webhooks")
        assert 0 < cap < 256  # below the fd limit, with room for Kafka, logs and the ops listener
        opened = [await connect(gw) for _ in range(int(cap) + 60)]
        async with closing(opened):
            refused = await until_metric(
                gw, "hookgate_gateway_connections_refused_total", lambda v: v >= 60, listener="webhooks"
            )
            assert refused == 60
            assert await metric(gw, "hookgate_gateway_connections_open", listener="webhooks") == cap
            # The refused ones were told so: 503, then closed.
            replies = await asyncio.gather(*(read_to_close(reader) for reader, _ in opened[int(cap) :]))
            assert all(r.startswith(b"HTTP/1.1 503 ") for r in replies)
            # The webhook port is full; the ops listener is not.
            async with aiohttp.ClientSession() as http:
                for path in ("/healthz", "/readyz", "/metrics"):
                    async with http.get(f"{gw.ops_url}{path}") as resp:
                        assert resp.status == 200, path
            assert len(await gw.log_events("connections_at_limit")) == 1  # one line, however many were refused
            # Room again: the webhook port serves a signed webhook.
            for _, writer in opened[:20]:
                writer.close()
            await until_metric(gw, "hookgate_gateway_connections_open", lambda v: v <= cap - 20, listener="webhooks")
            async with aiohttp.ClientSession() as http:
                assert await send_signed(gw, http, "after-the-flood") == 202
