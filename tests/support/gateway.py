"""The gateway app against the real broker, on a loopback test server, for integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hookgate.gateway.http.app import create_app
from tests.support.builders import gateway_config, github_signature


async def wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    """Return once ``/readyz`` answers 200 (the producer reached the broker); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (await client.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, "gateway did not connect to Kafka"
        await asyncio.sleep(0.1)


@asynccontextmanager
async def running_gateway(
    bootstrap: str, prefix: str, triggers: list[dict[str, Any]], **settings: Any
) -> AsyncIterator[TestClient]:
    """A gateway serving ``triggers`` (``settings``: more ``gateway:`` keys), ready to accept."""
    app = create_app(gateway_config(bootstrap, prefix, triggers, **settings))
    async with TestClient(TestServer(app)) as client:
        await wait_ready(client)
        yield client


async def signed_push(client: TestClient, tid: str, secret: str, body: bytes = b'{"zen": "ok"}') -> int:
    """POST a GitHub push signed with ``secret`` to trigger ``tid``; the reply's status."""
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body, secret),
        "X-GitHub-Event": "push",
    }
    return (await client.post(f"/hooks/{tid}", data=body, headers=headers)).status


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> float:
    """Seconds until ``check`` passes (polled every 10 ms); fails after ``timeout``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "condition not reached"
        await asyncio.sleep(0.01)
    return time.monotonic() - started
