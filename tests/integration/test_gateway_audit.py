"""Audit records for every request, accepted or not, in the log and on the audit topic, with nothing secret."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from hookgate.core.config import load_model
from hookgate.core.settings import KafkaSettings
from hookgate.gateway.audit.record import AuditRecord, AuditSettings
from hookgate.gateway.audit.topic import AuditTopicWriter
from tests.support.builders import (
    GITHUB_SECRET,
    github_signature,
    github_trigger,
    new_trigger_id,
    read_topic,
)
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

BEARER = "Bearer do-not-log-this-bearer"
COOKIE = "session=do-not-log-this-cookie"
PARTNER_KEY = "do-not-log-this-partner-key"


@pytest.fixture
async def gateway(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[tuple[TestClient, str]]:
    tid = new_trigger_id()
    async with running_gateway(
        kafka_bootstrap,
        topic_prefix,
        [github_trigger(tid)],
        audit={"topic": True, "include_headers": True, "redact_headers": ["X-Partner-Ref"]},
    ) as client:
        yield client, tid


async def send_mix(client: TestClient, tid: str) -> None:
    body = b'{"action": "opened"}'
    common = {"Authorization": BEARER, "Cookie": COOKIE, "X-Partner-Ref": PARTNER_KEY, "X-Request-Id": "req-ok"}
    ok = await client.post(
        f"/hooks/{tid}?token=do-not-log-this-query",
        data=body,
        headers={
            **common,
            "Content-Type": "application/json",
            "X-Hub-Signature-256": github_signature(body),
            "X-GitHub-Delivery": "audit-delivery-1",
            "X-GitHub-Event": "pull_request",
        },
    )
    assert ok.status == 202
    bad = await client.post(
        f"/hooks/{tid}",
        data=body,
        headers={**common, "X-Request-Id": "req-bad", "X-Hub-Signature-256": github_signature(body, "wrong")},
    )
    assert bad.status == 401
    unknown = await client.post(f"/hooks/{new_trigger_id()}", data=body, headers={"X-Request-Id": "req-unknown"})
    assert unknown.status == 404


async def test_every_request_gets_one_audit_line(gateway: tuple[TestClient, str]) -> None:
    client, tid = gateway
    with capture_logs() as logs:
        await send_mix(client, tid)
    requests = [e for e in logs if "request_id" in e]
    # The audit record is the request's only log line: no separate request line.
    assert sorted((e["event"], e["request_id"]) for e in requests) == [
        ("audit", "req-bad"),
        ("audit", "req-ok"),
        ("audit", "req-unknown"),
    ]
    audit = {e["request_id"]: e for e in requests}
    ok, bad, unknown = audit["req-ok"], audit["req-bad"], audit["req-unknown"]
    assert (ok["trigger"], ok["tenant"], ok["outcome"], ok["reason"], ok["status"]) == (
        "gh",
        "acme",
        "accepted",
        "ok",
        202,
    )
    assert ok["event_id"] == "audit-delivery-1"
    assert ok["body_bytes"] == 20
    assert ok["request_bytes"] > ok["body_bytes"]
    assert ok["client_ip"] == ok["peer"] == "127.0.0.1"
    assert ok["duration_ms"] >= 0
    assert (ok["method"], ok["log_level"]) == ("POST", "info")
    assert (bad["outcome"], bad["reason"], bad["status"], bad["event_id"]) == ("rejected", "bad_signature", 401, None)
    assert (unknown["trigger"], unknown["reason"], unknown["status"]) == (None, "unknown_trigger", 404)
    text = repr(logs)
    for secret in ("do-not-log-this", GITHUB_SECRET, tid):
        assert secret not in text


async def test_audit_topic_receives_records_with_nothing_secret(
    gateway: tuple[TestClient, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, tid = gateway
    await send_mix(client, tid)
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}._audit", count=3, timeout=20)
    assert len(records) == 3
    docs = {d["request_id"]: d for d in (orjson.loads(r.value) for r in records)}
    assert set(docs) == {"req-ok", "req-bad", "req-unknown"}
    ok = docs["req-ok"]
    assert (ok["outcome"], ok["status"], ok["event_id"], ok["tenant"]) == ("accepted", 202, "audit-delivery-1", "acme")
    assert ok["headers"]["authorization"] == "[redacted]"
    assert ok["headers"]["cookie"] == "[redacted]"
    assert ok["headers"]["x-hub-signature-256"] == "[redacted]"
    assert ok["headers"]["x-partner-ref"] == "[redacted]"
    assert ok["headers"]["x-github-event"] == "[redacted]"  # read by the github preset, so redacted too
    assert ok["headers"]["content-type"] == "application/json"  # headers no check reads are kept
    assert docs["req-bad"]["reason"] == "bad_signature"
    assert {r.key for r in records} == {b"acme", None}
    for r in records:
        for secret in (b"do-not-log-this", GITHUB_SECRET.encode(), tid.encode(), b"sha256="):
            assert secret not in r.value
    # The broker's acknowledgements reach the writer's callbacks on their own schedule: wait for them.
    for _ in range(100):
        text = await (await client.get("/metrics")).text()
        if "hookgate_gateway_audit_records_written_total 3.0" in text:
            break
        await asyncio.sleep(0.05)
    assert "hookgate_gateway_audit_records_written_total 3.0" in text
    assert 'hookgate_gateway_audit_records_dropped_total{reason="queue_full"} 0.0' in text  # exists, nothing dropped


async def test_an_unreachable_audit_topic_drops_records_without_blocking(
    topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 1: the writer keeps retrying its connection while submissions fill the queue.
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    kafka = load_model(KafkaSettings, {"bootstrap_servers": "127.0.0.1:1", "topics": {"prefix": topic_prefix}}, "<t>")
    registry = CollectorRegistry()
    writer = AuditTopicWriter(kafka, AuditSettings(topic=True, queue_size=2), registry)
    await writer.start()
    try:
        for i in range(5):
            writer.submit(_record(f"r{i}"))  # returns at once, whatever Kafka does
        assert registry.get_sample_value("hookgate_gateway_audit_records_dropped_total", {"reason": "queue_full"}) == 3
        await asyncio.sleep(0.5)  # let the writer try (and fail) to connect: nothing is lost or unblocked by it
        assert registry.get_sample_value("hookgate_gateway_audit_queue_depth") == 2
        assert registry.get_sample_value("hookgate_gateway_audit_records_written_total") == 0
    finally:
        await writer.stop(timeout=1)


def _record(rid: str) -> AuditRecord:
    return AuditRecord(
        timestamp="2026-01-01T00:00:00.000Z",
        request_id=rid,
        trigger="gh",
        tenant="acme",
        method="POST",
        outcome="accepted",
        reason="ok",
        status=202,
        client_ip="127.0.0.1",
        peer="127.0.0.1",
        request_bytes=10,
        body_bytes=2,
        event_id=rid,
        duration_ms=1.0,
    )
