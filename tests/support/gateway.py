"""The gateway app against the real broker, on a loopback test server, for integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hookgate.gateway.http.app import create_app
from tests.support.builders import gateway_config


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
