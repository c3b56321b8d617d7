"""Compressed bodies against a real gateway process and the real broker.

A compression bomb (1 GiB of zeros in about 1 MB of gzip or deflate) is refused without being inflated
everywhere the server used to inflate it for everyone (a trigger that did not opt in, an unknown
trigger, ``/healthz``), and stopped at ``decompress.max_bytes`` on a trigger that opted in. The proof is
a bound on work, not a timing: the gateway process's CPU time (utime + stime from /proc) for the bombs
is compared with its CPU time for the same process serving ordinary signed webhooks. Inflating one
such bomb costs seconds of CPU; the normal requests cost milliseconds each.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hookgate.core.envelope import Envelope
from tests.support.bombs import zeros_deflate, zeros_gzip
from tests.support.builders import github_signature, github_trigger, new_trigger_id, read_topic
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka

PLAIN, OPTED, UNKNOWN = new_trigger_id(), new_trigger_id(), new_trigger_id()
MAX_DECODED = 1_048_576
NORMAL_REQUESTS = 100
BOMBS = 4  # each group of bombs sent, one after the other
PUSH = b'{"ref": "refs/heads/main", "action": "opened", "repository": {"full_name": "acme/api"}}'


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) is fields[0]
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def signed(body: bytes, delivery: str, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    prefix = f"t{os.urandom(6).hex()}"
    port = free_port()
    config: dict[str, Any] = {
        "gateway": {"listen": {"host": "127.0.0.1", "port": port}, "max_body_bytes": 2_000_000},
        "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": prefix, "partitions": 1}},
        "triggers": [
            github_trigger(PLAIN, name="plain"),
            github_trigger(
                OPTED,
                name="opted",
                topic=f"{prefix}.opted",
                decompress={"encodings": ["gzip", "deflate"], "max_bytes": MAX_DECODED, "max_ratio": 100_000},
            ),
        ],
    }
    service = start_service("gateway", config, tmp_path_factory.mktemp("gw"), port)
    try:
        service.wait_ready()
        yield service, prefix
    finally:
        service.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def cpu_of(service: Service, requests: Coroutine[Any, Any, None]) -> float:
    """The gateway's CPU time while ``requests`` run (a coroutine not started yet)."""
    before = cpu_seconds(service.proc.pid)
    await requests
    return cpu_seconds(service.proc.pid) - before


async def normal_requests(http: aiohttp.ClientSession, service: Service, tag: str) -> None:
    for i in range(NORMAL_REQUESTS):
        body = b'{"n": %d, "pad": "%s"}' % (i, b"x" * 2000)
        headers = signed(body, f"{tag}-{i}")
        async with http.post(f"{service.url}/hooks/{PLAIN}", data=body, headers=headers) as resp:
            assert resp.status == 202


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, coding: str, method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    headers = signed(b"{}", "bomb", **{"Content-Encoding": coding})
    async with http.request(method, url, data=body, headers=headers) as resp:
        payload = await resp.json() if resp.content_type == "application/json" else {}
        return resp.status, payload


async def send_bombs(
    http: aiohttp.ClientSession, url: str, bomb: bytes, coding: str, want: tuple[int, str | None], method: str
) -> None:
    for _ in range(BOMBS):
        status, payload = await post(http, url, bomb, coding, method)
        assert status == want[0], url
        if want[1] is not None:
            assert payload["error"] == want[1]


async def test_bombs_are_refused_or_stopped_at_max_bytes_for_less_cpu_than_normal_requests(
    gateway: tuple[Service, str], http: aiohttp.ClientSession
) -> None:
    service, _ = gateway
    await normal_requests(http, service, "warm-up")  # first-use costs are not the normal price
    normal = await cpu_of(service, normal_requests(http, service, "normal"))
    bombs = {"gzip": zeros_gzip(1024), "deflate": zeros_deflate(1024)}
    assert all(len(b) < 1_100_000 for b in bombs.values())
    spent: dict[str, float] = {}
    where: dict[str, tuple[str, str, tuple[int, str | None]]] = {
        "not opted in": ("POST", f"/hooks/{PLAIN}", (415, "unsupported_content_encoding")),
        "unknown trigger": ("POST", f"/hooks/{UNKNOWN}", (404, "not_found")),
        "opted in": ("POST", f"/hooks/{OPTED}", (413, "payload_too_large")),
        "/healthz": ("GET", "/healthz", (200, None)),
    }
    for coding, bomb in bombs.items():
        for name, (method, path, want) in where.items():
            sent = send_bombs(http, f"{service.url}{path}", bomb, coding, want, method)
            spent[f"{coding} {name}"] = await cpu_of(service, sent)
    over = {name: cpu for name, cpu in spent.items() if cpu >= normal}
    assert not over, f"{BOMBS} bombs cost more CPU than {NORMAL_REQUESTS} webhooks ({normal:.3f} s): {over}"
    status, payload = await post(http, f"{service.url}/hooks/{OPTED}", bombs["gzip"], "gzip")
    assert (status, payload["message"]) == (413, f"The decoded body exceeds {MAX_DECODED} bytes.")
    metrics = await (await http.get(f"{service.url}/metrics")).text()
    assert 'reason="unsupported_content_encoding",status_class="4xx"} 8.0' in metrics
    assert 'reason="decoded_too_large",status_class="4xx"} 9.0' in metrics


async def test_corrupt_and_truncated_streams_are_400_and_a_valid_one_is_stored_decoded(
    gateway: tuple[Service, str], http: aiohttp.ClientSession, kafka_bootstrap: str
) -> None:
    service, prefix = gateway
    url = f"{service.url}/hooks/{OPTED}"
    whole = gzip.compress(PUSH)
    bad = {
        "corrupt gzip": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xde\xad\xbe\xef" * 8, "gzip"),
        "corrupt deflate": (b"\x78\x9c" + b"\xde\xad\xbe\xef" * 8, "deflate"),
        "truncated gzip": (whole[:-6], "gzip"),  # every payload byte is there, the CRC-32 and size are not
        "truncated deflate": (zlib.compress(PUSH)[:-8], "deflate"),
    }
    for name, (body, coding) in bad.items():
        async with http.post(url, data=body, headers=signed(PUSH, name, **{"Content-Encoding": coding})) as resp:
            assert resp.status == 400, name
            assert (await resp.json())["error"] == "invalid_body", name
    # Signed over the payload, sent gzipped: verified and stored as the payload.
    async with http.post(url, data=whole, headers=signed(PUSH, "gz-ok", **{"Content-Encoding": "gzip"})) as resp:
        assert resp.status == 202
        assert await resp.json() == {"id": "gz-ok"}
    # The same bytes signed as sent (compressed) do not verify: the signature covers the decoded body.
    async with http.post(url, data=whole, headers=signed(whole, "gz-wire", **{"Content-Encoding": "gzip"})) as resp:
        assert resp.status == 401
    last = zlib.compress(b'{"last": true}')
    headers = signed(b'{"last": true}', "deflate-ok", **{"Content-Encoding": "deflate"})
    async with http.post(url, data=last, headers=headers) as resp:
        assert resp.status == 202
    # One partition: any refused request that had been produced would sit between the two.
    records = await read_topic(kafka_bootstrap, f"{prefix}.opted", count=2, timeout=10)
    stored = [Envelope.from_record(r.headers, r.value) for r in records]
    assert [(e.id, e.data, e.datacontenttype) for e in stored] == [
        ("gz-ok", PUSH, "application/json"),
        ("deflate-ok", b'{"last": true}', "application/json"),
    ]
