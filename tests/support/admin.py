"""The admin API on a loopback server, with in-memory (or real) catalog and inspector, for tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hookgate.admin.api import create_admin_app
from hookgate.admin.audit import AdminAuditor, AdminAuditRecord
from hookgate.admin.config import AdminSettings
from hookgate.admin.inspect.kafka import KafkaEventInspector
from hookgate.admin.inspect.model import EventInspector
from hookgate.admin.serve import admin_app_for
from hookgate.gateway.catalog.model import TriggerCatalog
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.app import CATALOG, create_app

ADMIN_TOKEN = "admin-token-" + "a" * 24
ACME_TOKEN = "acme-token-" + "b" * 24
GLOBEX_TOKEN = "globex-token-" + "c" * 24


def admin_settings(**extra: Any) -> AdminSettings:
    """Three tokens: ``ops`` (admin), ``acme-portal`` (tenant:acme), ``globex-portal`` (tenant:globex)."""
    return AdminSettings.model_validate(
        {
            "listen": {"host": "127.0.0.1", "port": 0},
            "tokens": [
                {"name": "ops", "scope": "admin", "token": ADMIN_TOKEN},
                {"name": "acme-portal", "scope": "tenant:acme", "token": ACME_TOKEN},
                {"name": "globex-portal", "scope": "tenant:globex", "token": GLOBEX_TOKEN},
            ],
            **extra,
        }
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class RecordingAuditor(AdminAuditor):
    """The real auditor (it still writes the log line), keeping every record for assertions."""

    def __init__(self) -> None:
        self.records: list[AdminAuditRecord] = []
        super().__init__(self.records.append)


@asynccontextmanager
async def admin_client(
    catalog: TriggerCatalog,
    inspector: EventInspector | None,
    auditor: AdminAuditor | None = None,
    *,
    tenant_max_body_bytes: int | None = None,
    **settings: Any,
) -> AsyncIterator[TestClient]:
    app = create_admin_app(
        admin_settings(**settings), catalog, inspector, auditor, tenant_max_body_bytes=tenant_max_body_bytes
    )
    async with TestClient(TestServer(app)) as client:
        yield client


@contextmanager
def in_thread(start: Callable[[], Awaitable[tuple[list[web.AppRunner], list[str]]]]) -> Iterator[list[str]]:
    """Run ``start`` (it sets up runners and sites, returning them and their base URLs) on an event loop in
    a thread of its own, for synchronous clients such as schemathesis; yields the URLs, cleans up after."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def run_start() -> None:
        try:
            holder["runners"], holder["urls"] = await start()
        except BaseException as exc:
            holder["error"] = exc

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(run_start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="admin-api", daemon=True)
    thread.start()
    assert started.wait(90), "the apps did not start"
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["urls"]
    finally:

        async def cleanup() -> None:
            for runner in reversed(holder["runners"]):
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


async def serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    """``app`` on a free loopback port: its runner and base URL."""
    # Idle keep-alive connections are kept for the whole test: a synchronous client's pool (schemathesis)
    # may reuse one after minutes, and the server closing it just then reads as "connection aborted".
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, keepalive_timeout=3600)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@contextmanager
def admin_in_thread(app: web.Application) -> Iterator[str]:
    """The admin app alone (in-memory catalog and inspector), served from a thread; yields its base URL."""

    async def start() -> tuple[list[web.AppRunner], list[str]]:
        runner, url = await serve_app(app)
        return [runner], [url]

    with in_thread(start) as (url,):
        yield url


@contextmanager
def gateway_and_admin_in_thread(config: GatewayConfig, settings: AdminSettings) -> Iterator[tuple[str, str]]:
    """A gateway on the real broker and its admin app with the gateway's Kafka catalog and a Kafka event
    inspector, served from a thread once the gateway is ready; yields (gateway URL, admin URL)."""

    async def start() -> tuple[list[web.AppRunner], list[str]]:
        gateway = create_app(config)
        runner, url = await serve_app(gateway)
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while (await session.get(f"{url}/readyz")).status != 200:
                assert time.monotonic() < deadline, "gateway did not become ready"
                await asyncio.sleep(0.1)
        inspector = KafkaEventInspector.for_gateway(config, gateway[CATALOG])

        async def close_inspector(_: web.Application) -> None:
            await inspector.close()

        admin = admin_app_for(gateway, settings, inspector)
        admin.on_cleanup.append(close_inspector)
        admin_runner, admin_url = await serve_app(admin)
        return [runner, admin_runner], [url, admin_url]

    with in_thread(start) as (url, admin_url):
        yield url, admin_url


# One request per route, naming a trigger, event or tenant of ``acme``: the tenant-isolation tests send
# each with another tenant's token. Keyed by operation id; a route missing here fails those tests.
# What another tenant's token gets from each route (operation id) that does not answer 404 as for an unknown
# id: routes that name nothing of a tenant answer, narrowed to the caller's tenant; writes across tenants, or
# for every tenant at once, are 403.
ALLOWED_FOR_OTHERS = {
    "openapi": 200,
    "whoami": 200,
    "listTriggers": 200,
    "stats": 200,
    "createTrigger": 403,
    "resealTriggers": 403,
}


def isolation_requests(
    trigger_id: str, event_id: str, tenant: str = "acme"
) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    t = f"/admin/triggers/{trigger_id}"
    spec = {"name": "changed", "tenant": tenant, "verify": {"type": "github"}}
    return {
        "openapi": ("GET", "/admin/openapi.json", None),
        "whoami": ("GET", "/admin/whoami", None),
        "listTriggers": ("GET", f"/admin/triggers?tenant={tenant}", None),
        "createTrigger": (
            "POST",
            "/admin/triggers",
            {"name": "intruder", "tenant": tenant, "verify": {"type": "github"}},
        ),
        "getTrigger": ("GET", t, None),
        "updateTrigger": ("PUT", t, spec),
        "deleteTrigger": ("DELETE", t, None),
        "disableTrigger": ("POST", f"{t}/disable", None),
        "enableTrigger": ("POST", f"{t}/enable", None),
        "rotateTrigger": ("POST", f"{t}/rotate", {"grace_seconds": 60}),
        "triggerEvents": ("GET", f"{t}/events", None),
        "replayTrigger": ("POST", f"{t}/replay", {"since": "2000-01-01T00:00:00Z"}),
        "tenantEvents": ("GET", f"/admin/tenants/{tenant}/events", None),
        "getEvent": ("GET", f"/admin/events/{event_id}?tenant={tenant}", None),
        "replayEvent": ("POST", f"/admin/events/{event_id}/replay", {"tenant": tenant}),
        "stats": ("GET", f"/admin/stats?tenant={tenant}", None),
        "resealTriggers": ("POST", "/admin/reseal", None),
    }
