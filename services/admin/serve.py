"""The admin listener of a gateway process: the admin app over the gateway's own catalog and audit topic.

Started by :func:`hookgate.gateway.http.app.serve` after the gateway's app is built, when
``gateway.admin`` is set, on its own port (TLS and mTLS with ``gateway.admin.tls``); it stops before
the webhook listener does.
"""

from __future__ import annotations

from aiohttp import web

from hookgate.admin.api import create_admin_app
from hookgate.admin.audit import AdminAuditor
from hookgate.admin.config import AdminSettings
from hookgate.admin.inspect.model import EventInspector
from hookgate.core.logging import get_logger
from hookgate.gateway.http.app import AUDIT_TOPIC, CATALOG, MAX_BODY_BYTES
from hookgate.gateway.http.tls import server_context

log = get_logger("hookgate.admin")


def admin_app_for(
    gateway: web.Application, settings: AdminSettings, inspector: EventInspector | None = None
) -> web.Application:
    """The admin app of ``gateway`` (an app :func:`~hookgate.gateway.http.app.create_app` built): its
    trigger catalog, and its audit topic writer for the admin records when ``gateway.audit.topic`` is on."""
    writer = gateway.get(AUDIT_TOPIC)
    auditor = AdminAuditor(writer.submit if writer is not None else None)
    return create_admin_app(
        settings, gateway[CATALOG], inspector, auditor, tenant_max_body_bytes=gateway[MAX_BODY_BYTES]
    )


async def start_admin(
    gateway: web.Application, settings: AdminSettings, inspector: EventInspector | None = None
) -> web.AppRunner:
    """Serve the admin app on ``settings.listen``; the caller cleans the returned runner up.

    Raises ``OSError`` (with nothing left running) when the address cannot be bound."""
    app = admin_app_for(gateway, settings, inspector)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    tls = settings.tls
    ssl_context = server_context(tls) if tls is not None else None
    where = settings.listen
    site = web.TCPSite(runner, where.host, where.port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()  # the caller gets no runner to clean up
        raise
    port = runner.addresses[0][1] if runner.addresses else where.port
    log.info(
        "admin_listening",
        host=where.host,
        port=port,
        tls=tls is not None,
        mtls=bool(tls is not None and tls.require_client_cert),
        tokens=len(settings.all_tokens()),
    )
    return runner
