"""Sender handshakes through the gateway: answered after verification, never produced to Kafka."""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson
import pytest

from hookgate.core.envelope import Envelope
from tests.support.builders import new_trigger_id, read_all
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_headers(body: bytes, secret: str = SLACK_SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={sig}"}


async def test_slack_url_verification_is_answered_and_never_produced(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    trigger = {"id": tid, "name": "slack", "tenant": "acme", "verify": {"type": "slack", "secrets": [SLACK_SECRET]}}
    challenge = (
        b'{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",'
        b' "type": "url_verification"}'
    )
    event = orjson.dumps(
        {"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": "app_mention"}}
    )
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        forged = await client.post(f"/hooks/{tid}", data=challenge, headers=slack_headers(challenge, "wrong"))
        assert forged.status == 401
        resp = await client.post(f"/hooks/{tid}", data=challenge, headers=slack_headers(challenge))
        assert resp.status == 200
        assert await resp.text() == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        assert resp.headers["Content-Type"].startswith("text/plain")
        delivered = await client.post(f"/hooks/{tid}", data=event, headers=slack_headers(event))
        assert delivered.status == 202
        metrics = await (await client.get("/metrics")).text()
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")  # the gateway stopped: nothing more comes
    assert [Envelope.from_record(r.headers, r.value).id for r in records] == ["Ev1"]
    assert 'hookgate_gateway_requests_total{outcome="handshake",reason="handshake",status_class="2xx"} 1.0' in metrics


async def test_websub_challenge_get_only_for_verification(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    trigger = {
        "id": tid,
        "name": "feed",
        "tenant": "acme",
        "verify": {"type": "none"},
        "websub": {"verify_token": "tok-123"},
    }
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        query = {"hub.mode": "subscribe", "hub.topic": "https://example.com/feed", "hub.challenge": "c-42"}
        ok = await client.get(f"/hooks/{tid}", params={**query, "hub.verify_token": "tok-123"})
        assert ok.status == 200
        assert await ok.text() == "c-42"
        wrong_token = await client.get(f"/hooks/{tid}", params={**query, "hub.verify_token": "nope"})
        assert wrong_token.status == 404
        plain_get = await client.get(f"/hooks/{tid}")
        assert plain_get.status == 405
        assert plain_get.headers["Allow"] == "POST"
        note = b'<?xml version="1.0"?><feed><entry>1</entry></feed>'
        posted = await client.post(f"/hooks/{tid}", data=note, headers={"Content-Type": "application/atom+xml"})
        assert posted.status == 202
        metrics = await (await client.get("/metrics")).text()
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    assert [r.value for r in records] == [note]
    assert 'hookgate_gateway_requests_total{outcome="handshake",reason="websub",status_class="2xx"} 1.0' in metrics
