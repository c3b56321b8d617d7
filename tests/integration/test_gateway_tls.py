"""mTLS when the gateway terminates TLS itself: a real TLS listener on loopback (the production ``serve``),
certificates made here with ``cryptography`` (a CA, the server's, clients' from that CA and from another)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from hookgate.core.envelope import Envelope
from hookgate.gateway.http.app import serve
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id, read_topic
from tests.support.kafka import free_port
from tests.support.tls import Authority, Issued, client_context

pytestmark = pytest.mark.kafka


@dataclass
class TlsGateway:
    url: str
    ca: Path
    trusted: Authority
    stranger: Authority
    open_tid: str
    relay_tid: str

    def client_context(self, client: Issued | None) -> ssl.SSLContext:
        return client_context(self.ca, client)


@pytest.fixture
async def tls_gateway(tmp_path: Path, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[TlsGateway]:
    trusted = Authority(tmp_path, "hookgate-test-ca")
    stranger = Authority(tmp_path, "stranger-ca")
    server = trusted.issue("localhost", server=True)
    open_tid, relay_tid = new_trigger_id(), new_trigger_id()
    port = free_port()
    cfg = gateway_config(
        kafka_bootstrap,
        topic_prefix,
        [
            github_trigger(open_tid, name="open"),
            github_trigger(relay_tid, name="relay", client_cert_subjects=["relay.example.com"]),
        ],
        listen={"host": "127.0.0.1", "port": port},
        tls={
            "certfile": str(server.cert),
            "keyfile": str(server.key),
            "client_ca": str(trusted.pem),
            "require_client_cert": True,
        },
        shutdown_grace_seconds=1,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, stop))
    gw = TlsGateway(f"https://127.0.0.1:{port}", trusted.pem, trusted, stranger, open_tid, relay_tid)
    try:
        await _wait_ready(gw, trusted.issue("probe.example.com", server=False))
        yield gw
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _wait_ready(gw: TlsGateway, client: Issued) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{gw.url}/readyz", ssl=gw.client_context(client)) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectorError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the TLS gateway did not become ready")


async def _post(gw: TlsGateway, tid: str, client: Issued | None, delivery: str) -> int:
    body = f'{{"delivery": "{delivery}"}}'.encode()
    headers = {"X-Hub-Signature-256": github_signature(body), "X-GitHub-Delivery": delivery}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gw.url}/hooks/{tid}", data=body, headers=headers, ssl=gw.client_context(client)) as resp,
    ):
        return resp.status


async def test_mtls_refuses_clients_without_a_certificate_from_the_ca(
    tls_gateway: TlsGateway, kafka_bootstrap: str, topic_prefix: str
) -> None:
    gw = tls_gateway
    with pytest.raises(aiohttp.ClientError):
        await _post(gw, gw.open_tid, None, "no-cert")
    with pytest.raises(aiohttp.ClientError):
        await _post(gw, gw.open_tid, gw.stranger.issue("relay.example.com", server=False), "wrong-ca")
    assert await _post(gw, gw.open_tid, gw.trusted.issue("sender.example.com", server=False), "with-cert") == 202

    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=2, timeout=5)
    assert [Envelope.from_record(r.headers, r.value).id for r in records] == ["with-cert"]


async def test_trigger_accepts_only_the_certificate_subjects_it_names(tls_gateway: TlsGateway) -> None:
    gw = tls_gateway
    assert await _post(gw, gw.relay_tid, gw.trusted.issue("relay.example.com", server=False), "relay-ok") == 202
    assert await _post(gw, gw.relay_tid, gw.trusted.issue("sender.example.com", server=False), "relay-no") == 401
