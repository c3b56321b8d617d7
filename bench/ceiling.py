"""The ceiling: a bare aiohttp server that reads the body and answers 202, nothing else.

It runs under the same interpreter and event loop (uvloop, via ``hookgate.core.runtime.run``) as the
gateway, so the gap between the two is what the gateway's own work costs.
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


async def serve(port: int, stop: asyncio.Event) -> int:
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
    args = parser.parse_args()
    raise SystemExit(run(lambda stop: serve(args.port, stop)))


if __name__ == "__main__":
    main()
