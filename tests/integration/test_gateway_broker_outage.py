"""With the broker down the gateway answers 503 (never 2xx) and is not ready; once it is back, the
same request is accepted. This test runs its own broker so that it can stop it."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient

from tests.support.builders import (
    github_signature,
    github_trigger,
    new_trigger_id,
    read_all,
)
from tests.support.gateway import running_gateway
from tests.support.kafka import LocalBroker

pytestmark = pytest.mark.kafka


async def _post(client: TestClient, tid: str, body: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    resp = await client.post(
        f"/hooks/{tid}",
        data=body,
        headers={"X-Hub-Signature-256": github_signature(body), "X-GitHub-Delivery": "outage-1"},
    )
    return resp.status, dict(resp.headers), await resp.json()


async def test_broker_down_means_503_and_not_ready_then_recovers(
    private_broker: LocalBroker, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    triggers = [github_trigger(tid)]
    async with running_gateway(private_broker.bootstrap, topic_prefix, triggers, publish_timeout_seconds=2) as client:
        status, _, _ = await _post(client, tid, b'{"before": true}')
        assert status == 202

        await asyncio.to_thread(private_broker.down)
        body = b'{"during": true}'
        status, headers, payload = await _post(client, tid, body)
        assert status == 503
        assert payload["error"] == "unavailable"
        assert int(headers["Retry-After"]) > 0
        deadline = time.monotonic() + 20
        while (await client.get("/readyz")).status != 503:
            assert time.monotonic() < deadline, "/readyz still ready with the broker stopped"
            await asyncio.sleep(0.5)
        for _ in range(3):  # never 2xx while the broker is down
            assert (await _post(client, tid, body))[0] == 503

        await asyncio.to_thread(private_broker.up)
        deadline = time.monotonic() + 90
        while True:
            status, _, payload = await _post(client, tid, body)
            if status == 202:
                break
            assert status == 503
            assert time.monotonic() < deadline, "the gateway did not recover after the broker came back"
            await asyncio.sleep(1)
        assert payload == {"id": "outage-1"}
        deadline = time.monotonic() + 20
        while (await client.get("/readyz")).status != 200:
            assert time.monotonic() < deadline, "/readyz did not recover"
            await asyncio.sleep(0.5)

    records = await read_all(private_broker.bootstrap, f"{topic_prefix}.acme")  # the gateway stopped
    values = [r.value for r in records]
    assert values[0] == b'{"before": true}'
    assert body in values
