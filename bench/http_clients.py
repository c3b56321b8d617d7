"""The consumer's HTTP client against ``aiohttp.ClientSession``: the same requests to the same target.

Both send what an HTTP action sends per event (a POST of the 1 KB body with the CloudEvents headers)
with ``--concurrency`` requests in flight over pooled keep-alive connections, and read only the status
and ``Retry-After``. Rounds alternate (hookgate's client, then aiohttp, ...) in one process, so a drift
of the shared machine hits both alike. Prints one JSON line: per client, per round, requests/s and the
process's CPU time per request (the figure a shared machine skews least).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from hookgate.consumer.workflows.actions.client import HttpClient
from hookgate.core.runtime import run

HEADERS = {
    "Content-Type": "application/json",
    "ce-specversion": "1.0",
    "ce-id": "bench",
    "ce-source": "/hookgate/bench",
    "ce-type": "com.github.push",
    "ce-tenant": "bench",
}


async def drive(send: Callable[[], Awaitable[int]], requests: int, concurrency: int) -> dict[str, float]:
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            status = await send()
            if status != 200:
                raise RuntimeError(f"target answered {status}")

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    return {"requests_per_second": round(requests / wall, 1), "cpu_us_per_request": round(cpu / requests * 1e6, 1)}


async def main(opts: argparse.Namespace, stop: asyncio.Event) -> int:
    body = b'{"pad":"' + b"x" * (opts.size - 10) + b'"}'
    origin = f"http://127.0.0.1:{opts.port}"
    ours = HttpClient(origin, limit=opts.concurrency)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=opts.concurrency))
    timeout = aiohttp.ClientTimeout(total=10)

    async def hookgate_client() -> int:
        return (await ours.request("POST", "/wf", HEADERS, body, 10.0)).status

    async def aiohttp_session() -> int:
        async with session.post(origin + "/wf", data=body, headers=HEADERS, timeout=timeout) as resp:
            resp.headers.get("Retry-After")
            await resp.read()
            return resp.status

    out: dict[str, list[dict[str, Any]]] = {"hookgate": [], "aiohttp": []}
    try:
        await drive(hookgate_client, 500, opts.concurrency)  # warm both pools
        await drive(aiohttp_session, 500, opts.concurrency)
        for _ in range(opts.rounds):
            out["hookgate"].append(await drive(hookgate_client, opts.requests, opts.concurrency))
            out["aiohttp"].append(await drive(aiohttp_session, opts.requests, opts.concurrency))
    finally:
        await ours.close()
        await session.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True, help="bench/target.py's port")
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=1024)
    args = p.parse_args()
    raise SystemExit(run(lambda stop: main(args, stop)))
