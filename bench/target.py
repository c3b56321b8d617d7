"""The consumer benchmark's workflow target: a bare aiohttp receiver that timestamps arrivals.

``POST /wf`` counts the request and, when the body carries ``"sent_at_ns"`` (set by the load sender
just before it sent the webhook to the gateway), records ``arrival - sent_at_ns``: the end-to-end
latency on one host's clock. ``GET /stats`` returns the counters; ``POST /reset`` clears them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

from aiohttp import web

from hookgate.core.runtime import run

_SENT_AT = re.compile(rb'"sent_at_ns":\s*(\d+)')


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.first_ns = 0
        self.last_ns = 0
        self.latencies_ns: list[int] = []
        self.ids: set[str] = set()


async def serve(port: int, stop: asyncio.Event) -> int:
    stats = Stats()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time_ns()
        stats.count += 1
        stats.first_ns = stats.first_ns or now
        stats.last_ns = now
        stats.ids.add(request.headers.get("ce-id", ""))
        m = _SENT_AT.search(body)
        if m:
            stats.latencies_ns.append(now - int(m.group(1)))
        return web.Response(status=200)

    async def report(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "count": stats.count,
                "unique_ids": len(stats.ids),
                "first_ns": stats.first_ns,
                "last_ns": stats.last_ns,
                "latencies_ns": stats.latencies_ns,
            }
        )

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def reset(_: web.Request) -> web.Response:
        stats.reset()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/wf", receive)
    app.router.add_get("/stats", report)
    app.router.add_post("/reset", reset)
    app.router.add_get("/readyz", ready)
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
