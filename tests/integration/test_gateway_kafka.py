"""The gateway against a real broker: what a 202 promises, and what a rejection guarantees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from hookgate.core.envelope import Envelope
from hookgate.gateway.config import ProducerSettings
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.publisher import Publisher
from hookgate.gateway.publish.sink import Ack, PublishFailure
from tests.support.builders import (
    gateway_config,
    github_signature,
    github_trigger,
    new_trigger_id,
    read_topic,
)
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka


@pytest.fixture
async def gateway(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[tuple[TestClient, str, str]]:
    tid = new_trigger_id()
    disabled = new_trigger_id()
    triggers = [github_trigger(tid), github_trigger(disabled, name="off", enabled=False)]
    async with running_gateway(kafka_bootstrap, topic_prefix, triggers) as client:
        yield client, tid, disabled


async def test_accepted_webhook_is_in_kafka_byte_exact(
    gateway: tuple[TestClient, str, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, tid, _ = gateway
    body = b'{"ref": "refs/heads/main",  "x": "\xc3\xa9"}'
    resp = await client.post(
        f"/hooks/{tid}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": github_signature(body),
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "X-GitHub-Event": "push",
        },
    )
    assert resp.status == 202
    assert await resp.json() == {"id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=1)
    assert len(records) == 1
    rec = records[0]
    assert rec.key == b"72d3162e-cc78-11e3-81ab-4c9367dc0958"  # default key: no subject from GitHub, so the id
    assert rec.value == body
    event = Envelope.from_record(rec.headers, rec.value)
    assert event.id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert event.type == "com.github.push"
    assert event.tenant == "acme"
    assert event.trigger == "gh"
    assert event.datacontenttype == "application/json"


async def test_rejections_never_reach_kafka(
    gateway: tuple[TestClient, str, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, tid, disabled = gateway
    body = b'{"n": 1}'
    bad = await client.post(f"/hooks/{tid}", data=body, headers={"X-Hub-Signature-256": github_signature(b"other")})
    assert bad.status == 401
    assert (await bad.json())["error"] == "unauthorized"
    missing = await client.post(f"/hooks/{tid}", data=body)
    assert missing.status == 401
    unknown = await client.post(
        f"/hooks/{new_trigger_id()}", data=body, headers={"X-Hub-Signature-256": github_signature(body)}
    )
    off = await client.post(f"/hooks/{disabled}", data=body, headers={"X-Hub-Signature-256": github_signature(body)})
    assert unknown.status == off.status == 404
    assert await unknown.json() == await off.json()
    wrong_method = await client.get(f"/hooks/{tid}")
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"
    media = await client.post(
        f"/hooks/{tid}",
        data=body,
        headers={"Content-Type": "image/png", "X-Hub-Signature-256": github_signature(body)},
    )
    assert media.status == 415
    big = b"x" * (1_048_576 + 1)
    too_large = await client.post(f"/hooks/{tid}", data=big, headers={"X-Hub-Signature-256": github_signature(big)})
    assert too_large.status == 413

    # A valid request after the rejected ones: the topic holds it alone.
    ok = await client.post(f"/hooks/{tid}", data=body, headers={"X-Hub-Signature-256": github_signature(body)})
    assert ok.status == 202
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=2, timeout=5)
    assert [r.value for r in records] == [body]


async def test_metrics_and_health(gateway: tuple[TestClient, str, str]) -> None:
    client, tid, _ = gateway
    await client.post(f"/hooks/{tid}", data=b"{}")
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"kafka": "ok", "triggers": "ok"}  # the trigger topic read
    text = await (await client.get("/metrics")).text()
    assert (
        'hookgate_gateway_requests_total{outcome="rejected",reason="missing_signature",status_class="4xx"} 1.0' in text
    )
    assert "hookgate_gateway_kafka_ready 1.0" in text


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Publisher]:
    """The gateway's Kafka sink on its own, connected."""
    config = gateway_config(kafka_bootstrap, topic_prefix, [])
    sink = Publisher(
        config.kafka, ProducerSettings(), GatewayMetrics(), [f"{topic_prefix}.acme"], timeout=10, probe_interval=0.2
    )
    await sink.start()
    try:
        deadline = time.monotonic() + 30
        while not sink.readiness()[0]:
            assert time.monotonic() < deadline, "the publisher did not connect to Kafka"
            await asyncio.sleep(0.1)
        yield sink
    finally:
        await sink.stop()


async def test_a_request_cancelled_while_its_event_waits_still_gets_it_written(
    publisher: Publisher, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.acme"

    def event(eid: str) -> Envelope:
        return Envelope(id=eid, source="/hookgate/gh", type="t", data=eid.encode())

    ack = await publisher.publish(topic, b"acme", event("first"))
    assert isinstance(ack, Ack)
    assert ack.topic == topic
    # Cancelled after it queued its event, before the broker answered (a client gone, a shutdown):
    # the event was handed over, so it is written; a request never takes back an event.
    task = asyncio.create_task(publisher.publish(topic, b"acme", event("cancelled")))
    await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(await publisher.publish(topic, b"acme", event("last")), Ack)
    records = await read_topic(kafka_bootstrap, topic, count=3)
    assert sorted(r.value for r in records) == [b"cancelled", b"first", b"last"]


async def test_publishing_after_stop_is_a_failure_not_an_exception(publisher: Publisher, topic_prefix: str) -> None:
    await publisher.stop()
    envelope = Envelope(id="late", source="/hookgate/gh", type="t", data=b"late")
    result = await publisher.publish(f"{topic_prefix}.acme", b"acme", envelope)
    assert isinstance(result, PublishFailure)
    assert result.reason == "kafka_unavailable"
