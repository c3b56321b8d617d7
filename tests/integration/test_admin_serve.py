"""The admin listener as ``hookgate gateway`` runs it (the production ``serve``): its own port, mTLS,
Bearer tokens on top, and the CLI through it; the webhook port serves no admin route."""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from hookgate.gateway.http.app import serve
from tests.support.admin import ADMIN_TOKEN, bearer
from tests.support.builders import gateway_config
from tests.support.cli import hookgate
from tests.support.kafka import free_port
from tests.support.tls import Authority, Issued, client_context

pytestmark = pytest.mark.kafka


@dataclass
class Served:
    gateway: str
    admin: str
    ca: Path
    trusted: Authority
    stranger: Authority

    def context(self, client: Issued | None) -> ssl.SSLContext:
        return client_context(self.ca, client)


@pytest.fixture
async def served(tmp_path: Path, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Served]:
    trusted = Authority(tmp_path, "admin-ca")
    stranger = Authority(tmp_path, "stranger-ca")
    server = trusted.issue("localhost", server=True)
    port, admin_port = free_port(), free_port()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{name: ops, scope: admin, token: {ADMIN_TOKEN}}}\n")
    cfg = gateway_config(
        kafka_bootstrap,
        topic_prefix,
        [],
        listen={"host": "127.0.0.1", "port": port},
        shutdown_grace_seconds=1,
        catalog={"encryption": {"keys": {"k1": base64.b64encode(os.urandom(32)).decode()}}},
        admin={
            "listen": {"host": "127.0.0.1", "port": admin_port},
            "tokens_file": str(tokens),
            "tls": {
                "certfile": str(server.cert),
                "keyfile": str(server.key),
                "client_ca": str(trusted.pem),
                "require_client_cert": True,
            },
        },
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(cfg, stop))
    s = Served(f"http://127.0.0.1:{port}", f"https://127.0.0.1:{admin_port}", trusted.pem, trusted, stranger)
    try:
        await _wait_ready(s)
        yield s
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _wait_ready(s: Served) -> None:
    client = s.trusted.issue("probe", server=False)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with (
                    session.get(f"{s.gateway}/readyz") as ready,
                    session.get(f"{s.admin}/admin/whoami", ssl=s.context(client), headers=bearer(ADMIN_TOKEN)) as me,
                ):
                    if ready.status == 200 and me.status == 200:
                        return
            except aiohttp.ClientConnectorError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the gateway and its admin listener did not become ready")


async def _whoami(s: Served, client: Issued | None, token: str | None) -> int:
    headers = bearer(token) if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{s.admin}/admin/whoami", ssl=s.context(client), headers=headers) as resp,
    ):
        return resp.status


async def test_admin_listener_needs_a_client_certificate_and_a_token(served: Served) -> None:
    with pytest.raises(aiohttp.ClientError):
        await _whoami(served, None, ADMIN_TOKEN)
    with pytest.raises(aiohttp.ClientError):
        await _whoami(served, served.stranger.issue("ops", server=False), ADMIN_TOKEN)
    ops = served.trusted.issue("ops", server=False)
    assert await _whoami(served, ops, None) == 401
    assert await _whoami(served, ops, ADMIN_TOKEN) == 200
    async with aiohttp.ClientSession() as session, session.get(f"{served.gateway}/admin/whoami") as resp:
        assert resp.status == 404  # the webhook port serves no admin route


async def test_cli_through_mtls(served: Served, tmp_path: Path) -> None:
    cert = served.trusted.issue("cli", server=False)
    tls = ["--cacert", str(served.ca), "--cert", str(cert.cert), "--key", str(cert.key)]
    auth = ["--admin-url", served.admin, "--token", ADMIN_TOKEN]
    code, out, err = await hookgate(
        "triggers", "create", "--name", "gh", "--tenant", "acme", "-p", "github", *auth, *tls
    )
    assert code == 0, err
    assert "secret:" in out
    code, out, _ = await hookgate("triggers", "list", "--json", *auth, *tls)
    assert code == 0
    assert "gh" in out
    code, _, err = await hookgate("triggers", "list", *auth, "--cacert", str(served.ca))
    assert code == 5  # no client certificate: the handshake fails, the API cannot be reached
    assert "cannot reach" in err
