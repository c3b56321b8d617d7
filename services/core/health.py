"""The ops routes both services serve: ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry

from hookgate.core.metrics import render

ReadyCheck = Callable[[], tuple[bool, dict[str, str]]]


def add_ops_routes(app: web.Application, registry: CollectorRegistry, ready: ReadyCheck) -> None:
    """``/healthz``: the process answers; ``/readyz``: its dependencies are reachable; ``/metrics``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ok, checks = ready()
        return web.json_response({"ready": ok, "checks": checks}, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        body, content_type = render(registry)
        resp = web.Response(body=body)
        resp.content_type = content_type.split(";")[0]
        resp.charset = "utf-8"
        return resp

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
