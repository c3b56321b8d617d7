"""The ceiling: a bare aiohttp server that reads the body and answers 202, nothing else.

It runs under the same interpreter and event loop (uvloop, via ``hookgate.core.runtime.run``) as the
gateway, so the gap between the two is what the gateway's own work costs. With ``--low-level`` it serves
through aiohttp's low-level ``web.Server`` (a prefix check instead of the router, no application, no
middleware): the gap between the two modes is what ``web.Application`` routing costs per request.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

from hookgate.core.runtime import run

REPLY = b'{"id":"00000000-0000-0000-0000-000000000000"}'


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=202, body=REPLY, content_type="application/json")


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def low_level(request: web.BaseRequest) -> web.StreamResponse:
    path = request.path
    if path.startswith("/hooks/") and request.method == "POST":
        await request.read()
        return web.Response(status=202, body=REPLY, content_type="application/json")
    if path == "/readyz":
        return web.Response(text="ok")
    return web.Response(status=404)


async def serve(port: int, stop: asyncio.Event, *, plain: bool = False) -> int:
    runner: web.BaseRunner
    if plain:
        runner = web.ServerRunner(web.Server(low_level), access_log=None)
    else:
        app = web.Application()
        app.router.add_post("/hooks/{trigger_id}", accept)
        app.router.add_get("/readyz", healthz)
        runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024, reuse_address=True).start()
    await stop.wait()
    await runner.cleanup()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--low-level", action="store_true", help="aiohttp's web.Server instead of web.Application")
    args = parser.parse_args()
    raise SystemExit(run(lambda stop: serve(args.port, stop, plain=args.low_level)))


if __name__ == "__main__":
    main()
