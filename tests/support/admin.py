"""The admin API on a loopback server, with in-memory (or real) catalog and inspector, for tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hookgate.admin.api import create_admin_app
from hookgate.admin.audit import AdminAuditor, AdminAuditRecord
from hookgate.admin.config import AdminSettings
from hookgate.admin.inspect.model import EventInspector
from hookgate.gateway.catalog.model import TriggerCatalog

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
    catalog: TriggerCatalog, inspector: EventInspector | None, auditor: AdminAuditor | None = None, **settings: Any
) -> AsyncIterator[TestClient]:
    app = create_admin_app(admin_settings(**settings), catalog, inspector, auditor)
    async with TestClient(TestServer(app)) as client:
        yield client


@contextmanager
def admin_in_thread(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on a loopback port from a thread of its own (for synchronous clients such as
    schemathesis); yields the base URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="admin-api", daemon=True)
    thread.start()
    assert started.wait(30), "the admin app did not start"
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


# One request per route, naming a trigger, event or tenant of ``acme``: the tenant-isolation tests send
# each with another tenant's token. Keyed by operation id; a route missing here fails those tests.
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
    }
