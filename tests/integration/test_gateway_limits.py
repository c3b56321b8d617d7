"""Limits and protection with the real gateway app and a real broker: rate limits, in-flight shedding,
header and body limits, and the client address through trusted proxies (allowlists, the signed URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from hookgate.core.envelope import Envelope
from hookgate.gateway.http.app import create_app
from tests.support.builders import (
    gateway_config,
    github_signature,
    github_trigger,
    new_trigger_id,
    read_all,
)
from tests.support.gateway import wait_ready

pytestmark = pytest.mark.kafka


async def start(bootstrap: str, prefix: str, triggers: list[dict[str, Any]], **gateway: Any) -> TestClient:
    app = create_app(gateway_config(bootstrap, prefix, triggers, **gateway))
    client = TestClient(TestServer(app))
    await client.start_server()
    await wait_ready(client)
    return client


@pytest.fixture
async def clients() -> AsyncIterator[list[TestClient]]:
    started: list[TestClient] = []
    yield started
    for c in started:
        await c.close()


def signed(body: bytes, delivery: str, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
        **extra,
    }


async def metrics_text(client: TestClient) -> str:
    return await (await client.get("/metrics")).text()


async def test_burst_beyond_the_rate_gets_429_and_only_admitted_events_reach_kafka(
    clients: list[TestClient], kafka_bootstrap: str, topic_prefix: str
) -> None:
    a, b = new_trigger_id(), new_trigger_id()
    # A token every 100 s: nothing refills while the test runs.
    client = await start(
        kafka_bootstrap,
        topic_prefix,
        [
            github_trigger(a, name="a", rate_limit={"per_second": 0.01, "burst": 3}),
            github_trigger(b, name="b"),
        ],
        limits={"tenant_rate_limits": {"acme": {"per_second": 0.01, "burst": 4}}},
    )
    clients.append(client)
    statuses = []
    retry_after = []
    for i in range(5):
        body = f'{{"n": {i}}}'.encode()
        resp = await client.post(f"/hooks/{a}", data=body, headers=signed(body, f"a-{i}"))
        statuses.append(resp.status)
        if resp.status == 429:
            assert (await resp.json())["error"] == "rate_limited"
            retry_after.append(int(resp.headers["Retry-After"]))
    assert statuses == [202, 202, 202, 429, 429]
    assert all(1 <= r <= 100 for r in retry_after)
    # Trigger a's refusals took no tenant token: b gets the tenant's fourth, then the tenant is empty.
    statuses = []
    for i in range(2):
        body = f'{{"m": {i}}}'.encode()
        resp = await client.post(f"/hooks/{b}", data=body, headers=signed(body, f"b-{i}"))
        statuses.append(resp.status)
    assert statuses == [202, 429]

    text = await metrics_text(client)
    await client.close()  # the gateway stopped (its producer flushed): the topic holds all it ever will
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    ids = sorted(Envelope.from_record(r.headers, r.value).id for r in records)
    assert ids == ["a-0", "a-1", "a-2", "b-0"]
    assert 'reason="trigger_rate_limited",status_class="4xx"} 2.0' in text
    assert 'reason="tenant_rate_limited",status_class="4xx"} 1.0' in text


async def test_a_slow_body_holds_a_reading_place_not_an_in_flight_one(
    clients: list[TestClient], kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    client = await start(
        kafka_bootstrap,
        topic_prefix,
        [github_trigger(tid)],
        limits={
            "max_in_flight": 1,
            "max_reading_bodies": 1,
            "overload_retry_after_seconds": 2,
            # Slow bodies may take their time here: only the budgets are under test.
            "min_body_bytes_per_second": 0,
            "body_timeout_seconds": 60,
        },
    )
    clients.append(client)
    release = asyncio.Event()

    def slow_body(body: bytes, sent_first_part: asyncio.Event) -> AsyncIterator[bytes]:
        async def parts() -> AsyncIterator[bytes]:
            yield body[:5]
            sent_first_part.set()
            await release.wait()
            yield body[5:]

        return parts()

    body = b'{"slow": true}'
    first_part = asyncio.Event()
    slow = asyncio.create_task(
        client.post(f"/hooks/{tid}", data=slow_body(body, first_part), headers=signed(body, "slow-1"))
    )
    await first_part.wait()
    # The slow request waits for the rest of its body: poll the gauge until it shows.
    for _ in range(500):
        if "hookgate_gateway_requests_reading_body 1.0" in await metrics_text(client):
            break
        await asyncio.sleep(0.01)
    assert "hookgate_gateway_requests_reading_body 1.0" in await metrics_text(client)
    # A body that arrives whole needs no reading place, and the one in-flight place is free.
    whole = b'{"whole": true}'
    accepted = await client.post(f"/hooks/{tid}", data=whole, headers=signed(whole, "whole-1"))
    assert accepted.status == 202
    # Another slow body finds the one reading place taken.
    other_part = asyncio.Event()
    shed = await client.post(f"/hooks/{tid}", data=slow_body(body, other_part), headers=signed(body, "shed-1"))
    assert shed.status == 503
    assert await shed.json() == {"error": "overloaded", "message": "The gateway is at capacity; retry later."}
    assert shed.headers["Retry-After"] == "2"
    release.set()
    first = await slow
    assert first.status == 202
    text = await metrics_text(client)
    await client.close()  # the gateway stopped (its producer flushed): the topic holds all it ever will
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    assert sorted(Envelope.from_record(r.headers, r.value).id for r in records) == ["slow-1", "whole-1"]
    assert 'outcome="failed",reason="reading_overloaded",status_class="5xx"} 1.0' in text
    assert 'outcome="failed",reason="overloaded",status_class="5xx"} 0.0' in text


async def test_header_limits_answer_cleanly_and_the_server_keeps_serving(
    clients: list[TestClient], kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    client = await start(
        kafka_bootstrap,
        topic_prefix,
        [github_trigger(tid)],
        limits={"headers": {"max_count": 20, "max_field_bytes": 1024, "max_total_bytes": 4096}},
    )
    clients.append(client)
    body = b"{}"
    # Over the total: the handler answers 431 JSON.
    big = {f"X-Pad-{i}": "v" * 900 for i in range(6)}
    resp = await client.post(f"/hooks/{tid}", data=body, headers=signed(body, "h-1", **big))
    assert resp.status == 431
    assert (await resp.json())["error"] == "request_header_fields_too_large"
    # Too many headers, or one header line over max_field_bytes: the HTTP parser answers 400 and closes.
    many = {f"X-N-{i}": "v" for i in range(40)}
    resp = await client.post(f"/hooks/{tid}", data=body, headers=signed(body, "h-2", **many))
    assert resp.status == 400
    resp = await client.post(f"/hooks/{tid}", data=body, headers=signed(body, "h-3", **{"X-Long": "v" * 2000}))
    assert resp.status == 400
    ok = await client.post(f"/hooks/{tid}", data=body, headers=signed(body, "h-4"))
    assert ok.status == 202
    text = await metrics_text(client)
    assert 'reason="headers_too_large",status_class="4xx"} 1.0' in text


async def test_chunked_body_over_the_trigger_limit_is_refused_413(
    clients: list[TestClient], kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    client = await start(kafka_bootstrap, topic_prefix, [github_trigger(tid, max_body_bytes=1024)])
    clients.append(client)
    body = b"x" * 4096

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    resp = await client.post(f"/hooks/{tid}", data=chunks(), headers=signed(body, "big-1"))
    assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert resp.status == 413
    small = b'{"ok": 1}'
    assert (await client.post(f"/hooks/{tid}", data=small, headers=signed(small, "small-1"))).status == 202
    await client.close()  # the gateway stopped (its producer flushed): the topic holds all it ever will
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    assert [r.value for r in records] == [small]


async def test_allowlist_through_a_trusted_proxy_ignores_spoofed_addresses(
    clients: list[TestClient], kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    triggers = [github_trigger(tid, allow_ips=["198.51.100.0/24", "2001:db8::/32"])]
    behind_proxy = await start(kafka_bootstrap, topic_prefix, triggers, proxies={"trusted_proxies": ["127.0.0.1"]})
    direct = await start(kafka_bootstrap, topic_prefix, triggers, proxies={"trusted_proxies": ["10.0.0.0/8"]})
    clients.extend([behind_proxy, direct])

    async def post(client: TestClient, xff: str, delivery: str) -> int:
        body = f'{{"d": "{delivery}"}}'.encode()
        resp = await client.post(f"/hooks/{tid}", data=body, headers=signed(body, delivery, **{"X-Forwarded-For": xff}))
        if resp.status == 401:
            assert await resp.json() == {"error": "unauthorized", "message": "The request could not be authenticated."}
        return resp.status

    assert await post(behind_proxy, "198.51.100.7", "ok-v4") == 202
    assert await post(behind_proxy, "2001:db8::7", "ok-v6") == 202
    assert await post(behind_proxy, "203.0.113.5", "denied") == 401
    # The client prepended an allowed address; the proxy appended the real one.
    assert await post(behind_proxy, "198.51.100.7, 203.0.113.5", "spoof-chain") == 401
    # The loopback peer is not a trusted proxy here: its X-Forwarded-For is ignored, 127.0.0.1 is not allowed.
    assert await post(direct, "198.51.100.7", "spoof-direct") == 401

    assert 'reason="ip_not_allowed",status_class="4xx"} 2.0' in await metrics_text(behind_proxy)
    assert 'reason="ip_not_allowed",status_class="4xx"} 1.0' in await metrics_text(direct)
    for gateway in (behind_proxy, direct):
        await gateway.close()  # stopped (producers flushed): the topic holds all they ever will
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    assert sorted(Envelope.from_record(r.headers, r.value).id for r in records) == ["ok-v4", "ok-v6"]


async def test_twilio_signs_the_url_it_called_which_is_rebuilt_through_the_proxy(
    clients: list[TestClient], kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    token = "twilio-auth-token-for-tests"
    trigger = {"id": tid, "name": "sms", "tenant": "acme", "verify": {"type": "twilio", "secrets": [token]}}
    client = await start(kafka_bootstrap, topic_prefix, [trigger], proxies={"trusted_proxies": ["127.0.0.1/32"]})
    clients.append(client)
    params = {"MessageSid": "SM123", "Body": "hello", "From": "+15550001111"}
    public_url = f"https://hooks.example.com/hooks/{tid}?tenant=acme"
    signature = RequestValidator(token).compute_signature(public_url, params)
    headers = {
        "X-Twilio-Signature": signature,
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.example.com",
    }
    resp = await client.post(f"/hooks/{tid}?tenant=acme", data=params, headers=headers)
    assert resp.status == 202
    # The same request without the proxy's headers is addressed to another URL: its signature fails.
    del headers["X-Forwarded-Proto"], headers["X-Forwarded-Host"]
    resp = await client.post(f"/hooks/{tid}?tenant=acme", data=params, headers=headers)
    assert resp.status == 401
