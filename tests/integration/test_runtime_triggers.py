"""Runtime triggers against the real broker: two gateway replicas in one process share the trigger topic.

A change made through one replica's catalog is served by the other; the measured propagation time is
printed (never asserted: the machine is noisy).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hookgate.gateway.catalog.kafka import KafkaTriggerCatalog
from hookgate.gateway.http.app import CATALOG
from tests.support.builders import github_signature, read_topic
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

KEY = base64.b64encode(os.urandom(32)).decode()
CATALOG_SETTINGS: dict[str, Any] = {"catalog": {"encryption": {"keys": {"k1": KEY}}}}


def catalog_of(client: TestClient) -> KafkaTriggerCatalog:
    return client.app[CATALOG]


async def signed_push(client: TestClient, tid: str, secret: str, body: bytes = b'{"zen": "ok"}') -> int:
    resp = await client.post(
        f"/hooks/{tid}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": github_signature(body, secret),
            "X-GitHub-Event": "push",
        },
    )
    return resp.status


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> float:
    """Seconds until ``check`` passes (polled every 10 ms); fails after ``timeout``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "condition not reached"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@asynccontextmanager
async def replicas(
    bootstrap: str, prefix: str, count: int = 2, triggers: list[dict[str, Any]] | None = None, **settings: Any
) -> AsyncIterator[list[TestClient]]:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                running_gateway(bootstrap, prefix, triggers or [], **{**CATALOG_SETTINGS, **settings})
            )
            for _ in range(count)
        ]
        yield clients


async def test_trigger_created_on_a_accepts_deliveries_on_b(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with replicas(kafka_bootstrap, topic_prefix) as (a, b):
        started = time.monotonic()
        issued = await catalog_of(a).create({"name": "gh", "tenant": "newco", "verify": {"type": "github"}})
        tid, secret = issued.trigger.id, issued.secret
        assert secret is not None
        assert issued.trigger.origin == "runtime"
        assert await signed_push(a, tid, secret) == 202  # read-your-writes on the replica that wrote
        seen = await until(lambda: _status_is(b, tid, secret, 202))
        print(f"\npropagation A -> B: {time.monotonic() - started:.3f} s (B polled for {seen:.3f} s)")
        assert await signed_push(b, tid, "not the secret") == 401
        records = await read_topic(kafka_bootstrap, f"{topic_prefix}.newco", count=2)
        assert len(records) == 2  # the new tenant's topic was created before the trigger went live


async def _status_is(client: TestClient, tid: str, secret: str, status: int) -> bool:
    return await signed_push(client, tid, secret) == status
