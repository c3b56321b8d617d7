"""During a broker outage a 503 says whether the event may still be stored, and a "not stored" one never is.

With the broker stopped, the producer's batch (made small here: ``max_batch_bytes: 1024``) fills with
the first events, which aiokafka cannot take back: they are answered 503 ``kafka_timeout``, "may still
be stored". The events behind them reach their deadline before the producer took them (queued in the
gateway, or inside ``send()`` waiting for room) and are dropped: 503 ``kafka_timeout_dropped``, "not
stored". Once the broker is back, none of the dropped events is in the topic. This test runs its own
broker so that it can stop it (as tests/integration/test_gateway_broker_outage.py does).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from hookgate.gateway.http.steps import MAY_BE_STORED, NOT_STORED
from tests.support.builders import github_signature, github_trigger, new_trigger_id, read_all
from tests.support.gateway import running_gateway
from tests.support.kafka import LocalBroker

pytestmark = pytest.mark.kafka

EVENTS = 12
BODY = b'{"padding": "' + b"x" * 400 + b'"}'  # a record of about 700 bytes: one or two per 1 KiB batch


async def post(client: TestClient, tid: str, delivery: str) -> tuple[int, dict[str, str]]:
    resp = await client.post(
        f"/hooks/{tid}",
        data=BODY,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": github_signature(BODY),
            "X-GitHub-Delivery": delivery,
            "X-Request-Id": delivery,
        },
    )
    return resp.status, await resp.json()


async def test_a_dropped_event_is_never_written_and_its_503_says_so(
    private_broker: LocalBroker, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    async with running_gateway(
        private_broker.bootstrap,
        topic_prefix,
        [github_trigger(tid)],
        publish_timeout_seconds=1,
        producer={"max_batch_bytes": 1024},
    ) as client:
        assert (await post(client, tid, "before"))[0] == 202

        await asyncio.to_thread(private_broker.down)
        deadline = time.monotonic() + 20
        while (await client.get("/readyz")).status != 503:
            assert time.monotonic() < deadline, "/readyz still ready with the broker stopped"
            await asyncio.sleep(0.5)

        deliveries = [f"outage-{i}" for i in range(EVENTS)]
        with capture_logs() as logs:
            replies = await asyncio.gather(*(post(client, tid, d) for d in deliveries))
        reasons = {e["request_id"]: e["reason"] for e in logs if e.get("event") == "audit"}
        assert [status for status, _ in replies] == [503] * EVENTS
        dropped = []
        for delivery, (_, payload) in zip(deliveries, replies, strict=True):
            assert payload["error"] == "unavailable"
            if reasons[delivery] == "kafka_timeout_dropped":
                assert payload["message"] == NOT_STORED
                dropped.append(delivery)
            else:
                assert reasons[delivery] == "kafka_timeout"
                assert payload["message"] == MAY_BE_STORED
        assert dropped, "every event fitted in the producer's batch: nothing was dropped"

        await asyncio.to_thread(private_broker.up)
        deadline = time.monotonic() + 90
        while (await post(client, tid, "after"))[0] != 202:
            assert time.monotonic() < deadline, "the gateway did not recover after the broker came back"
            await asyncio.sleep(1)

    # The gateway stopped (its producer flushed or gave up what it held): the topic holds all it ever will.
    records = await read_all(private_broker.bootstrap, f"{topic_prefix}.acme")
    written = {dict(r.headers)["ce_id"].decode() for r in records}
    assert {"before", "after"} <= written
    assert written.isdisjoint(dropped), f"dropped events were written: {sorted(written & set(dropped))}"
